"""What a calibration run says: the known effect found again, and the sensitivity of the setup (pure).

A calibration is an A/B of one gateway against itself, where B's clients pay a known extra
``injected_us`` per order (a busy wait in the fault proxy on the client -> gateway link; both
sides go through their proxy). Two things come out of it:

- **the known effect, found again**: B's p50 should sit ``injected_us`` above A's, and the
  proxy process's CPU per order ``injected_us`` above A's. Each is compared with the minimum
  detectable effect (MDE) of its measure. The MDE is what is seen 80% of the time, so an
  effect just above it may still go unseen once in five; an effect at least twice the MDE
  is seen all but always (99.9% for normal noise), so one that goes unseen makes the
  calibration NOT VALID: the benchmark is blind where it claims to see;
- **the sensitivity**: every measure's round-to-round noise on this machine, with this
  gateway, rounds and duration, hence its MDE and the rounds a given effect needs. For the
  measures the injection does not touch (the gateway's, the exchange's and the client's CPU
  per order: both sides run the same code) that noise is exactly what a real ``--compare``
  has to beat, and their B/A is how far two processes of identical code differ by themselves
  (a threshold below that calls false alarms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from compat.bench.abtest import ABVerdict, MeasureComparison
from compat.bench.paired import rounds_needed

EFFECTS = (0.02, 0.05, 0.10, 0.20)  # the changes the table says the rounds for
KNOWN_MEASURES = ("p50", "cpu.proxy")  # the measures the injection moves by injected_us
BLIND_FACTOR = 2.0  # an injected effect this many MDEs large must be seen


@dataclass(frozen=True)
class KnownEffect:
    measure: str
    injected_us: float
    a: float  # A's median: microseconds (p50) or CPU microseconds per order
    expected_ratio: float  # (a + injected) / a
    measured_ratio: float
    measured_us: float  # (measured_ratio - 1) * a
    mde: float
    detected: bool  # called a regression

    @property
    def above_mde(self) -> bool:
        return self.expected_ratio - 1 > self.mde

    @property
    def blind(self) -> bool:
        """An effect at least twice the MDE that was not called: the MDE claims more than the run sees."""
        return self.expected_ratio - 1 >= BLIND_FACTOR * self.mde and not self.detected

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mde": None if math.isinf(self.mde) else self.mde, "above_mde": self.above_mde,
                "blind": self.blind}

    def describe(self) -> str:
        state = ("detected" if self.detected else
                 f"NOT detected although {BLIND_FACTOR:g}x its MDE or more" if self.blind else
                 "not detected (above the MDE: seen 80% of the time)" if self.above_mde else
                 "not detected (below the MDE)")
        return (f"{self.measure:<12} +{self.injected_us:g} us injected ({self.expected_ratio - 1:+.1%} of A's "
                f"{self.a:.4g}): measured {self.measured_us:+.1f} us ({self.measured_ratio - 1:+.1%}), "
                f"MDE {_pct(self.mde)} -> {state}")


@dataclass(frozen=True)
class Sensitivity:
    measure: str
    noise: float  # spread of ln(b/a) over the rounds
    threshold: float
    mde: float
    rounds_for: dict[str, int | None]  # "5%" -> rounds needed (None: not with this threshold / noise)
    # B/A of a measure the injection does not move (the same code ran on both sides): how far two
    # processes of identical code differ by themselves. A threshold below it calls false alarms.
    same_code_ratio: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mde": None if math.isinf(self.mde) else self.mde}

    def describe(self) -> str:
        needs = " ".join(f"{effect}:{'-' if n is None else n}" for effect, n in self.rounds_for.items())
        bias = "" if self.same_code_ratio is None else f"   same code on both sides: B/A {self.same_code_ratio:.3f}"
        return (f"{self.measure:<18} noise {self.noise:6.2%}  threshold {self.threshold:3.0%}  MDE {_pct(self.mde):>6}"
                f"   rounds needed for {needs}{bias}")


@dataclass(frozen=True)
class Calibration:
    injected_us: float
    rounds: int
    duration_s: float
    known: tuple[KnownEffect, ...]
    sensitivity: tuple[Sensitivity, ...]

    @property
    def valid(self) -> bool:
        """The run saw every injected effect it claims it surely could (at least twice its MDE)."""
        return not any(k.blind for k in self.known)

    def as_dict(self) -> dict[str, Any]:
        return {"injected_us": self.injected_us, "rounds": self.rounds, "duration_s": self.duration_s,
                "valid": self.valid, "known": [k.as_dict() for k in self.known],
                "sensitivity": [s.as_dict() for s in self.sensitivity]}


def analyse_calibration(verdict: ABVerdict, injected_us: float, rounds: int, duration_s: float,
                        effects: Sequence[float] = EFFECTS) -> Calibration:
    found = {c.measure: c for c in verdict.comparisons if not c.verdict.startswith("not compared")}
    known = tuple(_known(found[m], injected_us) for m in KNOWN_MEASURES if m in found)
    sensitivity = tuple(
        Sensitivity(c.measure, c.noise, c.threshold, c.mde,
                    {f"{e:.0%}": rounds_needed(c.noise, e, c.threshold) for e in sorted(set(effects))},
                    None if c.measure in KNOWN_MEASURES or not c.measure.startswith("cpu.") else c.ratio)
        for c in found.values() if c.decides or c.measure in KNOWN_MEASURES)
    return Calibration(injected_us, rounds, duration_s, known, sensitivity)


def _known(comparison: MeasureComparison, injected_us: float) -> KnownEffect:
    a = comparison.a
    return KnownEffect(comparison.measure, injected_us, a, (a + injected_us) / a if a else math.inf,
                       comparison.ratio, (comparison.ratio - 1) * a, comparison.mde,
                       comparison.verdict == "regression")


def _pct(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1%}"
