"""Paired rounds, pure statistics: an effect, its interval, and the smallest effect it can see.

Rounds of A and B run interleaved, so each round ``i`` gives a pair ``(a_i, b_i)`` measured
minutes apart at most, under the same machine weather. Everything here works on the paired
log-ratios ``d_i = ln(b_i / a_i)``, which cancel what the pair shared (a slower machine for a
minute slows both):

- **effect**: the Hodges–Lehmann estimate of the ratio, ``exp(median of the Walsh averages
  (d_i + d_j) / 2, i <= j)``: as robust as a median, nearly as efficient as a mean;
- **interval**: the exact Wilcoxon signed-rank confidence interval of that estimate (order
  statistics of the Walsh averages, from the exact null distribution of the signed-rank
  statistic): distribution-free and deterministic (no resampling), with the coverage it
  really has. With fewer than 6 rounds no interval reaches 95%; the achieved level is given;
- **noise**: the rounds' spread, ``1.4826 x MAD(d)`` (a standard deviation for normal noise,
  unmoved by one wild round);
- **minimum detectable effect** (MDE): the smallest true change that a verdict over this many
  rounds would call, 80% of the time, given that noise and the threshold the verdict also
  demands (normal theory on the log-ratios, t quantiles for the few rounds).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist

CONFIDENCE = 0.95
POWER = 0.80
MIN_ROUNDS = 6  # the fewest pairs whose signed-rank interval reaches 95%
MAX_ROUNDS = 1000
_HL_EFFICIENCY = math.sqrt(math.pi / 3)  # se(HL) / se(mean) for normal noise
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class PairedEffect:
    """B relative to A over ``rounds`` pairs; every figure a ratio (1.0 = no change)."""

    ratio: float
    ci_low: float
    ci_high: float
    confidence: float  # the coverage the interval really has
    noise: float  # the rounds' spread of ln(b/a) (a standard deviation)
    rounds: int

    @property
    def standard_error(self) -> float:
        """Of ln(ratio)."""
        return _HL_EFFICIENCY * self.noise / math.sqrt(self.rounds) if self.rounds else math.inf


def log_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    if len(a) != len(b) or not a:
        raise ValueError(f"paired rounds need the same number (>= 1) on each side, got {len(a)} and {len(b)}")
    if any(x <= 0 for x in (*a, *b)):
        raise ValueError("paired ratios need positive values on both sides (a zero or negative measurement)")
    return [math.log(y / x) for x, y in zip(a, b, strict=True)]


def paired_effect(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> PairedEffect:
    d = log_ratios(a, b)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))
    low_rank, achieved = _interval_rank(len(d), confidence)
    center = statistics.median(d)
    noise = _MAD_TO_SD * statistics.median(abs(x - center) for x in d)
    return PairedEffect(
        ratio=math.exp(statistics.median(walsh)),
        ci_low=math.exp(walsh[low_rank - 1]),
        ci_high=math.exp(walsh[len(walsh) - low_rank]),
        confidence=achieved,
        noise=noise,
        rounds=len(d),
    )


@cache
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """How many of the 2**n sign patterns give each signed-rank sum 0..n(n+1)/2."""
    counts = [1]
    for rank in range(1, n + 1):
        grown = counts + [0] * rank
        for total, ways in enumerate(counts):
            grown[total + rank] += ways
        counts = grown
    return tuple(counts)


def _interval_rank(n: int, confidence: float) -> tuple[int, float]:
    """``(k, coverage)``: the interval runs from the k-th smallest to the k-th largest Walsh average.

    k is the largest with P(W <= k - 1) <= (1 - confidence) / 2 under no change; below 6
    pairs even k = 1 (the extremes) misses the confidence, and its own coverage is returned.
    """
    counts = _signed_rank_counts(n)
    total = 2**n
    alpha_half = (1 - confidence) / 2
    at_most = counts[0]  # patterns with W <= k - 1
    k = 1
    while k < len(counts) and (at_most + counts[k]) / total <= alpha_half:
        at_most += counts[k]
        k += 1
    return k, 1 - 2 * at_most / total


def t_quantile(quantile: float, df: int) -> float:
    """Student's t quantile, by the Cornish-Fisher expansion around the normal one.

    Within 0.002 of the exact value from 5 degrees of freedom up (the fewest rounds here is
    6); stdlib only, where scipy.stats would cost seconds of import per run.
    """
    z = NormalDist().inv_cdf(quantile)
    v = float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


def _t(quantile: float, rounds: int) -> float:
    return t_quantile(quantile, max(rounds - 1, 1))


def minimum_detectable(noise: float, rounds: int, threshold: float, *, power: float = POWER,
                       confidence: float = CONFIDENCE) -> float:
    """The smallest relative change (0.04 = 4%) a verdict over ``rounds`` pairs calls ``power`` of the time.

    The verdict needs both: the interval clear of 1 (``(t_conf + t_power) x se``) and the
    estimate beyond the threshold (``threshold + t_power x se``). Infinite below
    ``MIN_ROUNDS``, where no interval reaches the confidence asked.
    """
    if rounds < MIN_ROUNDS:
        return math.inf
    se = _HL_EFFICIENCY * noise / math.sqrt(rounds)
    t_power = _t(power, rounds)
    needed = max((_t(1 - (1 - confidence) / 2, rounds) + t_power) * se, math.log1p(threshold) + t_power * se)
    return math.expm1(needed)


def rounds_needed(noise: float, effect: float, threshold: float, *, power: float = POWER,
                  confidence: float = CONFIDENCE) -> int | None:
    """The fewest pairs in which a true relative change ``effect`` is seen; None when no count does."""
    if effect <= threshold:
        return None  # the verdict ignores changes up to the threshold, however many rounds
    for rounds in range(MIN_ROUNDS, MAX_ROUNDS + 1):
        if minimum_detectable(noise, rounds, threshold, power=power, confidence=confidence) <= effect:
            return rounds
    return None
