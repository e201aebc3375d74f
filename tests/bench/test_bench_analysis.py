"""Knee and change points on literal and synthetic data (the A/B verdict: test_bench_abtest.py)."""

from __future__ import annotations

import random

import pytest

from compat.bench.analysis import SweepPoint, find_knee
from compat.bench.history import change_points, detect_shifts

MS = 1_000_000


def test_knee_is_the_last_rate_before_p99_exceeds_the_slo() -> None:
    points = [SweepPoint(1000, 1000, 1 * MS, True), SweepPoint(2000, 2000, 2 * MS, True),
              SweepPoint(4000, 3999, 9 * MS, True), SweepPoint(8000, 8000, 1 * MS, True)]
    knee = find_knee(points, slo_p99_ns=5 * MS)
    assert (knee.rate, knee.limited_by, knee.first_failing_rate) == (2000, "slo", 4000)


def test_knee_when_the_achieved_rate_falls_short() -> None:
    points = [SweepPoint(1000, 1000, MS, True), SweepPoint(2000, 1800, MS, False, "achieved rate short")]
    knee = find_knee(points, slo_p99_ns=5 * MS)
    assert (knee.rate, knee.limited_by) == (1000, "achieved-rate")


def test_knee_not_reached_and_below_lowest() -> None:
    assert find_knee([SweepPoint(1000, 1000, MS, True)], 5 * MS).limited_by == "not reached"
    below = find_knee([SweepPoint(1000, 1000, 9 * MS, True)], 5 * MS)
    assert below.rate is None and below.limited_by == "slo"


def test_change_point_finds_a_known_step() -> None:
    rng = random.Random(11)
    series = [100 + rng.gauss(0, 2) for _ in range(15)] + [125 + rng.gauss(0, 2) for _ in range(10)]
    assert change_points(series, min_size=3) == [15]
    shifts = detect_shifts(series, min_size=3)
    assert len(shifts) == 1
    assert shifts[0].index == 15 and shifts[0].confirmed
    assert shifts[0].change == pytest.approx(0.25, abs=0.05)


def test_a_shift_only_the_newest_runs_show_is_suspected_until_a_rerun_confirms_it() -> None:
    rng = random.Random(12)
    base = [100 + rng.gauss(0, 2) for _ in range(12)]
    new_level = [130 + rng.gauss(0, 2) for _ in range(4)]
    suspected = detect_shifts(base + new_level[:3], min_size=3)
    assert [s.confirmed for s in suspected] == [False]
    confirmed = detect_shifts(base + new_level, min_size=3)  # the rerun lands on the new level
    assert [(s.index, s.confirmed) for s in confirmed] == [(12, True)]


def test_one_outlier_is_not_a_shift_and_flat_noise_has_none() -> None:
    rng = random.Random(13)
    series = [100 + rng.gauss(0, 2) for _ in range(10)] + [170] + [100 + rng.gauss(0, 2) for _ in range(8)]
    assert detect_shifts(series, min_size=3) == []
    assert detect_shifts([100 + rng.gauss(0, 2) for _ in range(30)], min_size=3) == []
