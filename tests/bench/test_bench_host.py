"""Host side: merge across drivers, percentiles, ratio to floor, the stall check, outputs."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from compat.bench.histograms import Percentiles, count_at_or_above, merge
from compat.bench.loadpoint import from_driver_results
from compat.bench.outputs import render_csv, render_influx, render_openmetrics
from compat.bench.relay import FrameSplitter
from compat.bench.selftest import check_stall
from compat.driver.hdrlite import HdrLite


def _driver_result(values: list[int], rate: float, achieved: float | None = None,
                   reasons: tuple[str, ...] = ()) -> dict[str, Any]:
    lite = HdrLite()
    lite.record_many(values)
    encoded = lite.encode()
    return {"target_rate": rate, "achieved_rate": achieved if achieved is not None else rate,
            "ack_rate": rate,
            "counts": {"sent": len(values), "acked": len(values), "measured": len(values), "lost": 0},
            "histograms": {"corrected_ack": encoded, "uncorrected_ack": encoded},
            "summaries": {"corrected_ack": lite.summary(), "uncorrected_ack": lite.summary()},
            "overhead": {"per_message_ns_mean": 500.0, "calibration_messages": 1000},
            "record_ns_per_sample": 300.0, "invalid_reasons": list(reasons), "event_loop": "asyncio"}


def test_merge_equals_recording_everything_in_one_histogram_never_averaging() -> None:
    rng = random.Random(7)
    fast = [rng.randint(100_000, 200_000) for _ in range(9_000)]
    slow = [rng.randint(5_000_000, 6_000_000) for _ in range(1_000)]
    point = from_driver_results("gw", [_driver_result(fast, 900), _driver_result(slow, 100)])
    direct = HdrHistogram(1, 60_000_000_000, 3)
    for value in fast + slow:
        direct.record_value(value)
    merged = point.histograms["corrected_ack"]
    assert merged.get_total_count() == 10_000
    for p in (50, 90, 99, 99.9):
        assert merged.get_value_at_percentile(p) == direct.get_value_at_percentile(p)
    # The average of the two drivers' p99 would be ~3 ms; the real p99 is in the slow group.
    assert point.percentiles().p99 >= 5_000_000
    assert point.percentiles().max == max(slow)  # exact max carried from the drivers
    assert point.target_rate == 1000 and point.counts["sent"] == 10_000
    assert point.overhead_ns_mean == 500.0 and point.valid


def test_combined_rate_short_of_target_voids_the_point() -> None:
    point = from_driver_results("gw", [_driver_result([1000], 500, achieved=490),
                                       _driver_result([1000], 500, achieved=495)])
    assert not point.valid
    assert "combined achieved rate" in point.invalid_reasons[-1]


def test_a_driver_reason_voids_the_merged_point() -> None:
    point = from_driver_results("gw", [_driver_result([1000], 500),
                                       _driver_result([1000], 500, reasons=("3 lost",))])
    assert point.invalid_reasons == ["driver 1: 3 lost"]


def test_ratio_to_floor() -> None:
    floor = Percentiles(100, 100, 200, 400, 800, 1000)
    gateway = Percentiles(100, 150, 300, 1200, 800, 0)
    ratios = gateway.ratio_to(floor)
    assert ratios["p50"] == pytest.approx(1.5)
    assert ratios["p99"] == pytest.approx(3.0)
    assert ratios["max"] == 0.0
    assert Percentiles(1, 5, 5, 5, 5, 5).ratio_to(Percentiles(1, 0, 0, 0, 0, 0))["p50"] == float("inf")


def _stalled_run(rate: float, stall_ns: int, base_ns: int = 200_000, seconds: float = 2.0) -> list[int]:
    """Latencies an open-loop runner records when the path stops for stall_ns at t=0.5 s."""
    interval = 1e9 / rate
    stall_start, stall_end = 0.5e9, 0.5e9 + stall_ns
    values = []
    for i in range(int(rate * seconds)):
        intended = i * interval
        stalled = stall_start <= intended < stall_end
        done = (stall_end if stalled else intended) + base_ns
        values.append(int(done - intended))
    return values


def test_stall_check_sees_a_stall_in_an_open_loop_histogram() -> None:
    point = from_driver_results("floor", [_driver_result(_stalled_run(2000, 200_000_000), 2000)])
    check = check_stall(point, 200_000_000)
    assert check.detected, check.describe()
    assert check.slow_count == pytest.approx(200, abs=3)
    assert check.max_ns >= 200_000_000


def test_stall_check_fails_a_coordinated_omission_blind_histogram() -> None:
    # A closed-loop harness waits out the stall and records it once.
    values = [200_000] * 3999 + [200_200_000]
    point = from_driver_results("floor", [_driver_result(values, 2000)])
    check = check_stall(point, 200_000_000)
    assert not check.detected
    assert "only 1 slow samples" in check.reasons[0]


def test_a_slow_recovery_after_the_stall_is_noted_not_failed() -> None:
    values = _stalled_run(2000, 200_000_000) + [150_000_000] * 600  # a long drain after SIGCONT
    check = check_stall(from_driver_results("gw", [_driver_result(values, 2000)]), 200_000_000)
    assert check.detected
    assert "backlog" in check.notes[0]


def test_count_at_or_above() -> None:
    histogram = merge([_encoded([10, 20, 1_000_000, 2_000_000])])
    assert count_at_or_above(histogram, 1_000_000) == 2
    assert count_at_or_above(histogram, 0) == 4


def test_outputs_are_well_formed() -> None:
    floor = from_driver_results("floor", [_driver_result([100_000, 200_000], 1000)])
    gateway = from_driver_results("gateway 2.0", [_driver_result([150_000, 300_000], 1000)])
    csv_text = render_csv([floor, gateway], floor)
    assert csv_text.splitlines()[0].startswith("label,metric,valid,target_rate")
    assert "1.500" in csv_text  # gateway p50 / floor p50
    influx = render_influx([gateway], 1_700_000_000_000_000_000, "run1", floor).splitlines()
    assert influx[0].startswith("compat_bench,run=run1,label=gateway\\ 2.0,metric=corrected_ack p50_ns=")
    assert influx[0].endswith(" 1700000000000000000")
    om = render_openmetrics([floor, gateway], floor)
    assert om.endswith("# EOF\n")
    assert 'compat_bench_latency_seconds{label="floor",metric="corrected_ack",quantile="0.5"}' in om


def test_frame_splitter_reassembles_fragmented_frames_and_refuses_bad_lengths() -> None:
    frame = (12).to_bytes(4, "big") + (7).to_bytes(4, "big") + b"12345678"
    splitter = FrameSplitter()
    assert splitter.feed(frame[:3]) == b""
    assert splitter.feed(frame[3:] + frame[:9]) == frame
    assert splitter.feed(frame[9:]) == frame
    with pytest.raises(ValueError, match="bad frame length"):
        FrameSplitter().feed((2).to_bytes(4, "big") + b"xx")


def _encoded(values: list[int]) -> str:
    lite = HdrLite()
    lite.record_many(values)
    return lite.encode()
