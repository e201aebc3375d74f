"""The headline's alternating rounds: merging them into one load point, and the goal verdict."""

from __future__ import annotations

import pytest
from hdrh.histogram import HdrHistogram

from compat.bench.analysis import check_goal
from compat.bench.loadpoint import CORRECTED, LoadPoint, combine_rounds


def _round(label: str, latencies_ns: list[int], *, achieved: float = 1000.0, cpu: float = 100.0,
           reasons: list[str] | None = None) -> LoadPoint:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    for value in latencies_ns:
        histogram.record_value(value)
    return LoadPoint(label=label, target_rate=1000.0, achieved_rate=achieved, ack_rate=achieved,
                     counts={"sent": len(latencies_ns), "acked": len(latencies_ns), "lost": 0},
                     histograms={CORRECTED: histogram}, exact_max={CORRECTED: max(latencies_ns)},
                     overhead_ns_mean=500.0, record_ns_per_sample=300.0, invalid_reasons=reasons or [],
                     drivers=1, extra={"cpu_us_per_order": {"gateway": cpu}})


def test_rounds_merge_histograms_and_counts_and_weigh_rates_by_what_each_sent() -> None:
    first = _round("gw#1", [100_000] * 300, achieved=1000.0, cpu=100.0)
    second = _round("gw#2", [300_000] * 100, achieved=996.0, cpu=200.0)
    merged = combine_rounds("gw", [first, second])
    assert merged.label == "gw"
    assert merged.counts == {"sent": 400, "acked": 400, "lost": 0}
    assert merged.percentiles().count == 400
    assert merged.percentiles().p50 == pytest.approx(100_000, rel=1e-3)  # 300 of 400 samples at 100 us
    assert merged.exact_max[CORRECTED] == 300_000
    assert merged.achieved_rate == pytest.approx((1000.0 * 300 + 996.0 * 100) / 400)
    assert merged.extra["cpu_us_per_order"] == {"gateway": 125.0}
    assert merged.extra["rounds"] == 2
    # The rounds themselves are untouched (merging copies the first histogram).
    assert first.percentiles().count == 300 and second.percentiles().count == 100


def test_one_void_round_voids_the_merged_point_and_says_which() -> None:
    merged = combine_rounds("gw", [_round("gw#1", [1000]), _round("gw#2", [1000], reasons=["lost 3 orders"])])
    assert not merged.valid
    assert merged.invalid_reasons == ["gw#2: lost 3 orders"]


def test_goal_met_only_when_the_whole_interval_is_under_the_limit() -> None:
    floors = [400.0, 420.0, 390.0, 410.0, 405.0, 395.0]
    assert check_goal(floors, [f * 1.2 for f in floors]).verdict == "met"
    assert check_goal(floors, [f * 2.0 for f in floors]).verdict == "NOT met"
    # Pairs straddling the limit: neither claim can be made.
    straddling = check_goal(floors, [f * r for f, r in zip(floors, [1.2, 1.8, 1.3, 1.7, 1.4, 1.6], strict=True)])
    assert straddling.verdict == "undecided"
    assert straddling.ci_low is not None and straddling.ci_high is not None
    assert straddling.ci_low <= 1.5 <= straddling.ci_high
    assert "CI spans the limit" in straddling.describe()


def test_goal_pairs_rounds_so_drift_on_both_sides_cancels() -> None:
    # The machine slows down 3x over the run; the gateway stays 1.3x its floor in every round.
    drift = [1.0, 1.5, 2.0, 2.5, 3.0, 3.0]
    floors = [400.0 * d for d in drift]
    check = check_goal(floors, [f * 1.3 for f in floors])
    assert check.ratio == pytest.approx(1.3)
    assert check.verdict == "met" and check.ci_high is not None and check.ci_high == pytest.approx(1.3)


def test_a_single_round_has_a_verdict_but_no_interval() -> None:
    check = check_goal([400.0], [700.0])
    assert (check.verdict, check.ci_low, check.rounds) == ("NOT met", None, 1)
    assert "one round" in check.describe()
    with pytest.raises(ValueError, match="same number"):
        check_goal([400.0, 410.0], [700.0])


@pytest.mark.parametrize(("duration_s", "rounds", "expected"), [(10.0, 6, 6), (2.0, 6, 2), (1.5, 6, 1), (10.0, 1, 1)])
def test_rounds_are_never_shorter_than_a_second(duration_s: float, rounds: int, expected: int) -> None:
    from compat.bench.run import BenchSettings

    assert BenchSettings(duration_s=duration_s, rounds=rounds).headline_rounds == expected
