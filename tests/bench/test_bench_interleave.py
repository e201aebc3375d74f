"""Interleaved rounds: the A, B, B, A order, reruns of rate-short rounds, and what voids at once."""

from __future__ import annotations

from collections.abc import Callable

from hdrh.histogram import HdrHistogram

from compat.bench.loadpoint import CORRECTED, LoadPoint
from compat.bench.rounds import rate_short_only, run_interleaved

SHORT = "driver 0: achieved rate 990.0/s is below 99.5% of the target 1000.0/s"


def _point(label: str, reasons: list[str] | None = None) -> LoadPoint:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    histogram.record_value(1000)
    return LoadPoint(label=label, target_rate=1000.0, achieved_rate=1000.0, ack_rate=1000.0,
                     counts={"sent": 1, "acked": 1}, histograms={CORRECTED: histogram},
                     exact_max={CORRECTED: 1000}, overhead_ns_mean=0.0, record_ns_per_sample=0.0,
                     invalid_reasons=list(reasons or []), drivers=1)


def _sides(script: dict[str, list[list[str]]], calls: list[str]) -> dict[str, Callable[[str], LoadPoint]]:
    """Each side returns its scripted reasons, run after run (then valid runs)."""
    def side(label: str) -> Callable[[str], LoadPoint]:
        def run(name: str) -> LoadPoint:
            calls.append(name)
            queue = script.get(label, [])
            return _point(name, queue.pop(0) if queue else [])
        return run
    return {label: side(label) for label in ("A", "B")}


def test_rounds_alternate_a_b_then_b_a() -> None:
    calls: list[str] = []
    done = run_interleaved(_sides({}, calls), 4, 2)
    assert calls == ["A#1", "B#1", "B#2", "A#2", "A#3", "B#3", "B#4", "A#4"]
    assert [p.label for p in done.kept["A"]] == ["A#1", "A#2", "A#3", "A#4"]
    assert not done.void and not done.reruns and done.describe_reruns() == "no round rerun"


def test_a_rate_short_round_is_rerun_whole_and_the_result_says_why() -> None:
    calls: list[str] = []
    done = run_interleaved(_sides({"B": [[], [SHORT]]}, calls), 3, 2)
    # Round 2 ran B first (reversed order) and fell short; the round is run again, A too.
    assert calls == ["A#1", "B#1", "B#2", "B#2r1", "A#2r1", "A#3", "B#3"]
    assert not done.void
    assert [p.label for p in done.kept["B"]] == ["B#1", "B#2r1", "B#3"]
    assert [p.label for p in done.ran["B"]] == ["B#1", "B#2", "B#2r1", "B#3"]  # the audit counts them all
    (rerun,) = done.reruns
    assert (rerun.round, rerun.attempt) == (2, 1) and rerun.why == "B: " + SHORT
    assert "1 round(s) rerun: round 2" in done.describe_reruns()


def test_loss_voids_at_once_and_is_never_rerun() -> None:
    calls: list[str] = []
    done = run_interleaved(_sides({"A": [[], ["3 lost"]]}, calls), 6, 5)
    assert done.void and done.void_reasons == ["round 2: A: 3 lost"]
    assert calls == ["A#1", "B#1", "B#2", "A#2"] and not done.reruns


def test_reruns_are_bounded() -> None:
    calls: list[str] = []
    done = run_interleaved(_sides({"A": [[SHORT], [SHORT], [SHORT]]}, calls), 6, 2)
    assert done.void and len(done.reruns) == 2
    assert "2 rerun(s) allowed are used up" in done.void_reasons[0]


def test_only_a_short_rate_is_worth_a_rerun() -> None:
    assert rate_short_only(_point("x", [SHORT, "combined achieved rate 990.0/s is below 99.5%"]))
    assert not rate_short_only(_point("x", [SHORT, "2 lost"]))
    assert not rate_short_only(_point("x"))
