"""The A/B verdict over paired rounds, on synthetic load points (no processes)."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from compat.bench.abtest import compare_rounds, void_verdict
from compat.bench.loadpoint import CORRECTED, LoadPoint


def _point(label: str, p50_us: float, cpu: dict[str, float]) -> LoadPoint:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    histogram.record_value(int(p50_us * 1000), 100)
    return LoadPoint(label=label, target_rate=1000.0, achieved_rate=1000.0, ack_rate=1000.0,
                     counts={"sent": 100, "acked": 100}, histograms={CORRECTED: histogram},
                     exact_max={CORRECTED: int(p50_us * 1000)}, overhead_ns_mean=500.0, record_ns_per_sample=200.0,
                     invalid_reasons=[], drivers=1,
                     extra={"cpu_us_per_order": cpu, "switches_per_order": {"gateway": 0.5}})


def _rounds(n: int, *, gateway_cpu: float, latency_noise: float, seed: int) -> list[LoadPoint]:
    rng = random.Random(seed)
    return [_point(f"r{i}", 1000 * (1 + rng.gauss(0, latency_noise)),
                   {"gateway": gateway_cpu * (1 + rng.gauss(0, 0.02)), "exchange": 100 * (1 + rng.gauss(0, 0.02)),
                    "client": 200 * (1 + rng.gauss(0, 0.02))}) for i in range(n)]


def test_a_cpu_regression_decides_while_latency_is_too_noisy_to_say_anything() -> None:
    # The case: +60 us of busy wait per order on a ~220 us gateway, p50 lost in the noise.
    a = _rounds(8, gateway_cpu=220, latency_noise=0.3, seed=1)
    b = _rounds(8, gateway_cpu=280, latency_noise=0.3, seed=2)
    verdict = compare_rounds("A:gw-3.0.0", "B:gw-slow", a, b)
    assert verdict.verdict == "regression"
    assert verdict.decided_by == ("cpu.gateway",)
    found = {c.measure: c for c in verdict.comparisons}
    assert found["p50"].verdict == "no change" and found["p50"].mde > 0.1
    assert found["cpu.gateway"].ratio == pytest.approx(280 / 220, rel=0.03)
    assert not found["switches.gateway"].decides  # shown, never deciding by default
    assert "REGRESSION" in verdict.headline() and "decided by cpu.gateway" in verdict.headline()


def test_no_change_always_says_what_it_would_have_seen() -> None:
    a = _rounds(8, gateway_cpu=220, latency_noise=0.05, seed=3)
    b = _rounds(8, gateway_cpu=220, latency_noise=0.05, seed=4)
    verdict = compare_rounds("A", "B", a, b)
    assert verdict.verdict == "no change" and verdict.decided_by == ()
    headline = verdict.headline()
    assert headline.startswith("no change, and a change above ")
    assert "in p50" in headline and "in cpu.gateway" in headline
    assert set(verdict.as_dict()["mde"]) == {"p50", "cpu.gateway", "cpu.exchange", "cpu.client"}


def test_thresholds_choose_what_decides() -> None:
    a = _rounds(8, gateway_cpu=220, latency_noise=0.01, seed=5)
    b = _rounds(8, gateway_cpu=280, latency_noise=0.01, seed=6)
    verdict = compare_rounds("A", "B", a, b, {"p50": 0.05})
    assert verdict.verdict == "no change"  # the CPU rose, but only p50 decides here
    assert {c.measure: c.verdict for c in verdict.comparisons}["cpu.gateway"] == "regression"
    assert compare_rounds("A", "B", a, b, {"cpu.gateway": 0.30}).verdict == "no change"  # +27% < 30%


def test_fewer_than_six_rounds_or_an_unmeasured_deciding_measure_is_undecided() -> None:
    a = _rounds(4, gateway_cpu=220, latency_noise=0.01, seed=7)
    b = _rounds(4, gateway_cpu=500, latency_noise=0.01, seed=8)
    few = compare_rounds("A", "B", a, b)
    assert few.verdict == "undecided" and "at least 6" in few.headline()
    six_a = _rounds(6, gateway_cpu=220, latency_noise=0.01, seed=9)
    six_b = _rounds(6, gateway_cpu=220, latency_noise=0.01, seed=10)
    missing = compare_rounds("A", "B", six_a, six_b, {"p50": 0.05, "cpu.relay": 0.05})
    assert missing.verdict == "undecided" and "cpu.relay" in missing.headline()


def test_a_void_comparison_keeps_its_measures_but_decides_nothing() -> None:
    a = _rounds(6, gateway_cpu=220, latency_noise=0.01, seed=11)
    b = _rounds(6, gateway_cpu=400, latency_noise=0.01, seed=12)
    verdict = void_verdict(compare_rounds("A", "B", a, b), ["B: audit mismatch"])
    assert verdict.verdict == "void" and verdict.headline() == "VOID: B: audit mismatch"
    assert verdict.comparisons and verdict.as_dict()["verdict"] == "void"


def test_rounds_must_pair() -> None:
    with pytest.raises(ValueError, match="in pairs"):
        compare_rounds("A", "B", _rounds(6, gateway_cpu=1, latency_noise=0, seed=1),
                       _rounds(5, gateway_cpu=1, latency_noise=0, seed=1))
