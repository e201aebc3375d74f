"""Paired-rounds statistics on literal and simulated data: the interval, its coverage, the MDE."""

from __future__ import annotations

import math
import random

import pytest

from compat.bench.paired import (
    MIN_ROUNDS,
    _interval_rank,
    minimum_detectable,
    paired_effect,
    rounds_needed,
    t_quantile,
)


@pytest.mark.parametrize(("n", "rank"), [(6, 1), (8, 4), (10, 9), (12, 14), (20, 53)])
def test_signed_rank_interval_ranks_match_the_published_critical_values(n: int, rank: int) -> None:
    # Two-sided 5% critical values of the Wilcoxon signed-rank statistic (n=6: 0, 8: 3, 10: 8,
    # 12: 13, 20: 52); the interval starts at the (critical value + 1)-th Walsh average.
    k, coverage = _interval_rank(n, 0.95)
    assert k == rank
    assert 0.95 <= coverage < 0.98


def test_below_six_rounds_no_interval_reaches_95_percent_and_the_level_says_so() -> None:
    k, coverage = _interval_rank(4, 0.95)
    assert (k, coverage) == (1, 1 - 2 / 16)
    effect = paired_effect([100.0, 101.0, 99.0, 100.0], [110.0, 111.0, 109.0, 110.0])
    assert effect.confidence == pytest.approx(0.875)
    assert math.isinf(minimum_detectable(0.01, 4, 0.05))


def test_a_constant_ratio_is_found_exactly_whatever_the_drift() -> None:
    drift = [100.0, 180.0, 90.0, 300.0, 120.0, 150.0, 110.0, 95.0]  # the machine's speed, round by round
    effect = paired_effect(drift, [x * 1.25 for x in drift])
    assert effect.ratio == pytest.approx(1.25)
    assert effect.ci_low == pytest.approx(1.25) and effect.ci_high == pytest.approx(1.25)
    assert effect.noise == pytest.approx(0.0, abs=1e-12)


def test_bad_input_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="same number"):
        paired_effect([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        paired_effect([1.0, 0.0], [1.0, 1.0])


def _simulate(effect: float, noise: float, rounds: int, runs: int, seed: int) -> list[tuple[float, float, float]]:
    rng = random.Random(seed)
    found = []
    for _ in range(runs):
        a = [100.0 * math.exp(rng.gauss(0, 0.3)) for _ in range(rounds)]  # wild drift, shared by the pair
        b = [x * (1 + effect) * math.exp(rng.gauss(0, noise)) for x in a]
        e = paired_effect(a, b)
        found.append((e.ratio, e.ci_low, e.ci_high))
    return found


def test_the_interval_covers_the_truth_as_often_as_it_says() -> None:
    found = _simulate(0.0, 0.05, 8, 2000, seed=3)
    covered = sum(low <= 1.0 <= high for _, low, high in found) / len(found)
    assert 0.93 <= covered <= 0.99


def _detected(found: list[tuple[float, float, float]], threshold: float) -> float:
    return sum(ratio - 1 > threshold and low > 1 for ratio, low, _ in found) / len(found)


def test_an_effect_at_the_mde_is_seen_about_four_times_in_five_and_twice_it_always() -> None:
    noise, rounds, threshold = 0.05, 8, 0.05
    mde = minimum_detectable(noise, rounds, threshold)
    assert threshold < mde < 0.2
    assert 0.65 <= _detected(_simulate(mde, noise, rounds, 600, seed=5), threshold) <= 0.95
    assert _detected(_simulate(2 * mde, noise, rounds, 600, seed=6), threshold) >= 0.99
    assert _detected(_simulate(0.0, noise, rounds, 600, seed=7), threshold) <= 0.02  # false alarms


def test_the_mde_never_goes_below_the_threshold_and_shrinks_with_rounds() -> None:
    assert minimum_detectable(0.0, 8, 0.05) >= 0.05
    assert minimum_detectable(0.05, 16, 0.02) < minimum_detectable(0.05, 8, 0.02)


def test_rounds_needed_is_the_fewest_that_see_the_effect() -> None:
    noise, threshold = 0.05, 0.02
    n = rounds_needed(noise, 0.05, threshold)
    assert n is not None and n > MIN_ROUNDS
    assert minimum_detectable(noise, n, threshold) <= 0.05 < minimum_detectable(noise, n - 1, threshold)
    assert rounds_needed(noise, 0.02, threshold) is None  # at the threshold: never called, however many rounds
    assert rounds_needed(0.001, 0.5, threshold) == MIN_ROUNDS


@pytest.mark.parametrize(("quantile", "df", "published"),
                         [(0.975, 5, 2.5706), (0.975, 7, 2.3646), (0.975, 30, 2.0423), (0.8, 5, 0.9195),
                          (0.8, 9, 0.8834)])
def test_t_quantiles_match_the_tables(quantile: float, df: int, published: float) -> None:
    assert t_quantile(quantile, df) == pytest.approx(published, abs=0.002)
