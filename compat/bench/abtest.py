"""The A/B verdict: every measure of paired rounds compared, the deciding ones judged (pure).

A *measure* is one number per load point: a latency percentile of the corrected order->ack
histogram (``p50``, ``p99``, ...), or a per-order counter of one process on the path
(``cpu.gateway``: CPU microseconds per order; ``switches.exchange``: voluntary context
switches per order; ``faults.client``: minor page faults per order; ``compat.bench.cpu``).

Each measure gets its paired effect B/A, the interval, and its minimum detectable effect
(``compat.bench.paired``). The *deciding* measures are those with a threshold (by default
p50 and the CPU per order of every process on the path; ``bench.gate`` in matrix.yaml
declares others): one of them beyond its threshold with its whole interval above 1 makes a
regression, and the verdict names it. The rest are shown, never decide. "no change" always
comes with the smallest changes the run could have seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from compat.bench.cpu import PER_ORDER_KEYS
from compat.bench.loadpoint import LoadPoint
from compat.bench.paired import CONFIDENCE, MIN_ROUNDS, minimum_detectable, paired_effect
from compat.config.bench import DEFAULT_GATE, LATENCY_MEASURES

# Measure prefix -> the load point's per-order figures (compat.bench.cpu).
COUNTERS = {"cpu": PER_ORDER_KEYS["cpu_us"], "switches": PER_ORDER_KEYS["switches"],
            "faults": PER_ORDER_KEYS["faults"]}
SHOWN_LATENCY = ("p50", "p99")  # compared in every A/B (p90 and p999 only when a threshold names them)
DEFAULT_THRESHOLDS: Mapping[str, float] = DEFAULT_GATE
INFO_THRESHOLD = 0.05  # what a measure that does not decide is shown against


def measures_of(point: LoadPoint, latency: Sequence[str] = SHOWN_LATENCY) -> dict[str, float]:
    """The measures of one load point: latency percentiles in microseconds, counters per order."""
    pct = point.percentiles()
    values = {key: getattr(pct, key) / 1000 for key in latency}
    for counter, key in COUNTERS.items():
        for role, value in sorted(point.extra.get(key, {}).items()):
            values[f"{counter}.{role}"] = float(value)
    return values


@dataclass(frozen=True)
class MeasureComparison:
    measure: str
    a: float  # median over A's rounds
    b: float
    ratio: float  # Hodges-Lehmann B/A of the paired rounds
    ci_low: float
    ci_high: float
    confidence: float
    noise: float  # spread of ln(b/a) over the rounds
    threshold: float
    mde: float  # relative: 0.04 = a 4% change would have been seen
    decides: bool
    verdict: str  # "regression", "improvement", "no change", or "not compared: why"
    rounds: int

    def as_dict(self) -> dict[str, Any]:
        return {key: (None if isinstance(value, float) and math.isinf(value) else value)
                for key, value in asdict(self).items()}

    def describe(self) -> str:
        role = "decides" if self.decides else "shown"
        if self.verdict.startswith("not compared"):
            return f"{self.measure:<18} {self.verdict}"
        return (f"{self.measure:<18} A {_num(self.a):>8} B {_num(self.b):>8}  B/A {self.ratio:.3f} "
                f"({self.confidence:.0%} CI {self.ci_low:.3f}-{self.ci_high:.3f}), threshold {self.threshold:.0%}, "
                f"MDE {_pct(self.mde)} -> {self.verdict} [{role}]")


@dataclass(frozen=True)
class ABVerdict:
    label_a: str
    label_b: str
    comparisons: tuple[MeasureComparison, ...]
    verdict: str  # "regression", "improvement", "no change", "undecided", "void"
    decided_by: tuple[str, ...]  # the deciding measures behind a regression or improvement
    reasons: tuple[str, ...] = ()  # why void or undecided

    @property
    def deciding(self) -> tuple[MeasureComparison, ...]:
        return tuple(c for c in self.comparisons if c.decides and not c.verdict.startswith("not compared"))

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.label_a, "b": self.label_b, "verdict": self.verdict,
                "decided_by": list(self.decided_by), "reasons": list(self.reasons),
                "mde": {c.measure: (None if math.isinf(c.mde) else c.mde) for c in self.deciding},
                "comparisons": [c.as_dict() for c in self.comparisons]}

    def headline(self) -> str:
        """One line: the verdict, which measure decided, and what "no change" could have seen."""
        if self.verdict == "void":
            return "VOID: " + "; ".join(self.reasons)
        if self.verdict == "undecided":
            return "undecided: " + "; ".join(self.reasons)
        if self.verdict in ("regression", "improvement"):
            found = {c.measure: c for c in self.comparisons}
            parts = [f"{m} {found[m].ratio - 1:+.1%} ({found[m].confidence:.0%} CI {found[m].ci_low - 1:+.1%} to "
                     f"{found[m].ci_high - 1:+.1%}, threshold {found[m].threshold:.0%})" for m in self.decided_by]
            return f"{self.verdict.upper()} of {self.label_b} against {self.label_a}, decided by " + "; ".join(parts)
        seen = ", ".join(f"{_pct(c.mde)} in {c.measure}" for c in self.deciding)
        return f"no change, and a change above {seen} would have been seen"


def compare_rounds(label_a: str, label_b: str, rounds_a: Sequence[LoadPoint], rounds_b: Sequence[LoadPoint],
                   thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS) -> ABVerdict:
    """Judge B against A over paired rounds (``rounds_a[i]`` ran next to ``rounds_b[i]``)."""
    if len(rounds_a) != len(rounds_b):
        raise ValueError(f"A has {len(rounds_a)} rounds and B {len(rounds_b)}; rounds are compared in pairs")
    latency = tuple(m for m in LATENCY_MEASURES if m in SHOWN_LATENCY or m in thresholds)
    a_values = [measures_of(p, latency) for p in rounds_a]
    b_values = [measures_of(p, latency) for p in rounds_b]
    names = [m for m in a_values[0] if all(m in v for v in (*a_values, *b_values))] if a_values else []
    names += [m for m in thresholds if m not in names]  # a deciding measure that was not measured says so
    comparisons = tuple(_compare_measure(m, [v.get(m) for v in a_values], [v.get(m) for v in b_values],
                                         thresholds) for m in names)
    reasons: list[str] = []
    if len(rounds_a) < MIN_ROUNDS:
        reasons.append(f"{len(rounds_a)} round(s): a {CONFIDENCE:.0%} interval needs at least {MIN_ROUNDS}")
    missing = [c.measure for c in comparisons if c.decides and c.verdict.startswith("not compared")]
    if missing:
        reasons.append(f"deciding measure(s) not measured: {', '.join(missing)}")
    regressions = tuple(c.measure for c in comparisons if c.decides and c.verdict == "regression")
    improvements = tuple(c.measure for c in comparisons if c.decides and c.verdict == "improvement")
    if regressions:
        return ABVerdict(label_a, label_b, comparisons, "regression", regressions, tuple(reasons))
    if reasons:
        return ABVerdict(label_a, label_b, comparisons, "undecided", (), tuple(reasons))
    if improvements:
        return ABVerdict(label_a, label_b, comparisons, "improvement", improvements)
    return ABVerdict(label_a, label_b, comparisons, "no change", ())


def void_verdict(verdict: ABVerdict, reasons: Sequence[str]) -> ABVerdict:
    return ABVerdict(verdict.label_a, verdict.label_b, verdict.comparisons, "void", (), tuple(reasons))


def _compare_measure(measure: str, a: Sequence[float | None], b: Sequence[float | None],
                     thresholds: Mapping[str, float]) -> MeasureComparison:
    decides = measure in thresholds
    threshold = thresholds.get(measure, INFO_THRESHOLD)
    nan = math.nan
    if any(v is None for v in (*a, *b)):
        return MeasureComparison(measure, nan, nan, nan, nan, nan, 0.0, nan, threshold, math.inf, decides,
                                 "not compared: not measured in every round (a process not on this machine?)",
                                 len(a))
    a_ok = [float(v) for v in a if v is not None]
    b_ok = [float(v) for v in b if v is not None]
    a_mid, b_mid = _median(a_ok), _median(b_ok)
    if any(v <= 0 for v in (*a_ok, *b_ok)):
        return MeasureComparison(measure, a_mid, b_mid, nan, nan, nan, 0.0, nan, threshold, math.inf, decides,
                                 "not compared: zero in some round (no ratio)", len(a))
    effect = paired_effect(a_ok, b_ok)
    mde = minimum_detectable(effect.noise, effect.rounds, threshold)
    confident = effect.confidence >= CONFIDENCE - 1e-9
    if confident and effect.ratio - 1 > threshold and effect.ci_low > 1:
        verdict = "regression"
    elif confident and 1 - effect.ratio > threshold and effect.ci_high < 1:
        verdict = "improvement"
    else:
        verdict = "no change"
    return MeasureComparison(measure, a_mid, b_mid, effect.ratio, effect.ci_low, effect.ci_high, effect.confidence,
                             effect.noise, threshold, mde, decides, verdict, effect.rounds)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4g}"


def _pct(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1%}"
