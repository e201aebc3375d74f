"""Pure decisions over measured numbers: the rate-sweep knee and the goal line (A/B: ``abtest``).

No I/O and no clocks here, so each rule is tested on literal data.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# -- rate sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    target_rate: float
    achieved_rate: float
    p99_ns: int
    valid: bool
    reason: str = ""  # why the harness voided the point, when it did


@dataclass(frozen=True)
class Knee:
    """The highest sustainable rate: every point up to it met the SLO at the rate asked."""

    rate: float | None  # None: even the lowest rate failed
    limited_by: str  # "slo", "achieved-rate", "invalid", or "not reached" (every step passed)
    first_failing_rate: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_knee(points: Sequence[SweepPoint], slo_p99_ns: int, min_rate_fraction: float = 0.995) -> Knee:
    """Walk up the sweep; the knee is the last rate before p99 > SLO or the rate falls short."""
    knee: float | None = None
    for point in sorted(points, key=lambda p: p.target_rate):
        failure = _sweep_failure(point, slo_p99_ns, min_rate_fraction)
        if failure is not None:
            kind, detail = failure
            return Knee(knee, kind, point.target_rate, detail)
        knee = point.target_rate
    return Knee(knee, "not reached", None,
                "every rate met the SLO; step higher to find the knee")


def _sweep_failure(point: SweepPoint, slo_p99_ns: int, fraction: float) -> tuple[str, str] | None:
    if point.achieved_rate < fraction * point.target_rate:
        return ("achieved-rate",
                f"at {point.target_rate:.0f}/s only {point.achieved_rate:.0f}/s was achieved")
    if not point.valid:
        return ("invalid", f"at {point.target_rate:.0f}/s the run was void: {point.reason}")
    if point.p99_ns > slo_p99_ns:
        return ("slo", f"at {point.target_rate:.0f}/s p99 {point.p99_ns / 1e6:.2f} ms exceeds the SLO "
                       f"{slo_p99_ns / 1e6:.2f} ms")
    return None


# -- paired bootstrap (the goal line) --------------------------------------------------------


def paired_ratio_ci(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000,
                    seed: int = 1) -> tuple[float, float, float]:
    """median(b) / median(a), and its 95% bootstrap CI resampling the rounds as (a, b) pairs."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"a paired ratio needs the same number (>= 2) of rounds on each side, "
                         f"got {len(a)} and {len(b)}")
    ratio = statistics.median(b) / statistics.median(a)
    rng = random.Random(seed)
    n = len(a)
    ratios = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median(b[i] for i in picks) / statistics.median(a[i] for i in picks))
    ratios.sort()
    return ratio, ratios[int(0.025 * (resamples - 1))], ratios[int(0.975 * (resamples - 1))]


# -- the goal line ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalCheck:
    """Gateway p50 against ``limit`` x the floor's p50, over floor/gateway rounds run alternately."""

    ratio: float  # median of the gateway rounds' p50 / median of the floor rounds' p50
    ci_low: float | None  # None with a single round: nothing to resample
    ci_high: float | None
    limit: float
    rounds: int
    verdict: str  # "met", "NOT met" or "undecided"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.ci_low is None or self.ci_high is None:
            spread = "one round, no confidence interval"
        else:
            spread = f"95% CI {self.ci_low:.2f}-{self.ci_high:.2f} over {self.rounds} alternating rounds"
        why = " (the CI spans the limit: more rounds or a quieter machine)" if self.verdict == "undecided" else ""
        return f"order->ack p50 <= {self.limit} x floor p50: {self.ratio:.2f} x ({spread}) -> {self.verdict}{why}"


def check_goal(floor_p50s: Sequence[float], gateway_p50s: Sequence[float], limit: float = 1.5) -> GoalCheck:
    """Met only when the whole CI is at or under ``limit``; NOT met when it is all above."""
    if len(floor_p50s) != len(gateway_p50s) or not floor_p50s:
        raise ValueError(f"the goal needs the same number (>= 1) of floor and gateway rounds, "
                         f"got {len(floor_p50s)} and {len(gateway_p50s)}")
    if len(floor_p50s) == 1:
        ratio = gateway_p50s[0] / floor_p50s[0]
        return GoalCheck(ratio, None, None, limit, 1, "met" if ratio <= limit else "NOT met")
    ratio, low, high = paired_ratio_ci(floor_p50s, gateway_p50s)
    verdict = "met" if high <= limit else "NOT met" if low > limit else "undecided"
    return GoalCheck(ratio, low, high, limit, len(floor_p50s), verdict)
