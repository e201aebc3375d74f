"""The instrument self-test: a benchmark that cannot see a stall is broken.

A process on the measured path is SIGSTOPped for a known time mid-run. With open-loop
pacing and intended-time latency, every order due during the stall waits for its end, so

* the max latency is at least the stall (less one send interval), and
* the orders slower than ``stall/2`` number about ``rate * stall/2`` (those due in the first
  half of the stall).

A coordinated-omission-blind harness fails both: it records one slow sample, not hundreds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from compat.bench.histograms import count_at_or_above
from compat.bench.loadpoint import CORRECTED, LoadPoint

# The slow-sample count must reach LOW x expected: a coordinated-omission-blind harness
# records ~1 slow sample per stall, not hundreds. More than HIGH x expected is reported but
# does not fail the check: it means the system took long to drain its backlog after SIGCONT
# (it runs near saturation), which is latency the harness rightly saw.
LOW = 0.6
HIGH = 1.8


@dataclass(frozen=True)
class StallCheck:
    stall_ns: int
    rate: float
    threshold_ns: int
    max_ns: int
    slow_count: int
    expected_slow: float
    detected: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        verdict = "DETECTED" if self.detected else "NOT DETECTED"
        line = (f"stall {self.stall_ns / 1e6:.0f} ms {verdict}: max {self.max_ns / 1e6:.1f} ms, "
                f"{self.slow_count} samples >= {self.threshold_ns / 1e6:.0f} ms "
                f"(expected ~{self.expected_slow:.0f} = rate x stall/2)")
        extra = "; ".join(self.notes + (() if self.detected else self.reasons))
        return f"{line}; {extra}" if extra else line


def check_stall(point: LoadPoint, stall_ns: int, metric: str = CORRECTED) -> StallCheck:
    """Does ``point``'s ``metric`` histogram show a stall of ``stall_ns`` at its target rate?"""
    rate = point.target_rate
    histogram = point.histograms[metric]
    threshold = stall_ns // 2
    slow = count_at_or_above(histogram, threshold)
    expected = rate * (stall_ns - threshold) / 1e9
    max_ns = point.exact_max.get(metric, int(histogram.get_max_value()))
    interval_ns = 1e9 / rate if rate > 0 else 0.0
    reasons = []
    if max_ns < stall_ns - interval_ns:
        reasons.append(f"max {max_ns / 1e6:.1f} ms is below the stall {stall_ns / 1e6:.0f} ms")
    notes = []
    if slow < LOW * expected:
        reasons.append(f"only {slow} slow samples, expected at least {LOW:.1f} x {expected:.0f}")
    elif slow > HIGH * expected:
        notes.append(f"{slow / expected:.1f} x the expected slow samples: the backlog after SIGCONT took "
                     "long to drain (near saturation?)")
    return StallCheck(stall_ns, rate, threshold, max_ns, slow, expected, not reasons, tuple(reasons),
                      tuple(notes))
