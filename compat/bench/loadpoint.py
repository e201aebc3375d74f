"""One load point: the results of every driver process merged into one distribution.

Counts and rates add up; histograms merge (counts add); the run is valid only when every
driver's run is valid *and* the combined achieved rate is at least 99.5% of the combined
target. An invalid load point is reported as invalid, never as a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from compat.bench.cpu import PER_ORDER_KEYS
from compat.bench.histograms import Percentiles, merge, merge_histograms

CORRECTED = "corrected_ack"
UNCORRECTED = "uncorrected_ack"
LATENESS = "send_lateness"
MIN_RATE_FRACTION = 0.995


def load_plan(rate: float, duration_s: float, warmup_s: float, spin_us: float | None = None) -> dict[str, Any]:
    """The driver's ``run_load_plan`` arguments every bench mode sends (orders/s, seconds, and
    the optional busy-wait before each send, in microseconds)."""
    plan: dict[str, Any] = {"rate": rate, "duration_s": duration_s, "warmup_s": warmup_s}
    if spin_us is not None:
        plan["spin_ns"] = int(spin_us * 1000)
    return plan


@dataclass
class LoadPoint:
    label: str
    target_rate: float
    achieved_rate: float
    ack_rate: float
    counts: dict[str, int]
    histograms: dict[str, HdrHistogram]
    exact_max: dict[str, int]
    overhead_ns_mean: float
    record_ns_per_sample: float
    invalid_reasons: list[str]
    drivers: int
    event_loop: str = ""
    bookkeeping_ns_mean: float = 0.0  # overhead without the task per order (coroutine submits)
    submit_mode: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.invalid_reasons

    def percentiles(self, metric: str = CORRECTED) -> Percentiles:
        return Percentiles.of(self.histograms[metric], self.exact_max.get(metric))

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (histograms as percentiles; the raw payloads are kept separately)."""
        return {
            "label": self.label,
            "valid": self.valid,
            "invalid_reasons": list(self.invalid_reasons),
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved_rate,
            "ack_rate": self.ack_rate,
            "counts": dict(self.counts),
            "drivers": self.drivers,
            "overhead_ns_mean": self.overhead_ns_mean,
            "bookkeeping_ns_mean": self.bookkeeping_ns_mean,
            "submit_mode": self.submit_mode,
            "record_ns_per_sample": self.record_ns_per_sample,
            "event_loop": self.event_loop,
            "percentiles_ns": {name: self.percentiles(name).as_dict() for name in self.histograms},
            **self.extra,
        }


def from_driver_results(label: str, results: Sequence[Mapping[str, Any]]) -> LoadPoint:
    """Merge the ``run_load_plan`` results of several drivers (never averaging percentiles)."""
    if not results:
        raise ValueError(f"load point {label!r}: no driver results to merge")
    counts: dict[str, int] = {}
    reasons: list[str] = []
    names: list[str] = list(results[0]["histograms"])
    exact_max: dict[str, int] = {}
    target = achieved = ack_rate = 0.0
    overhead_weighted = 0.0
    bookkeeping_weighted = 0.0
    overhead_messages = 0
    modes: set[str] = set()
    record_weighted = 0.0
    record_samples = 0
    loops: set[str] = set()
    for number, result in enumerate(results):
        for key, value in result["counts"].items():
            counts[key] = counts.get(key, 0) + int(value)
        reasons += [f"driver {number}: {reason}" for reason in result.get("invalid_reasons", [])]
        target += float(result["target_rate"])
        achieved += float(result["achieved_rate"])
        ack_rate += float(result.get("ack_rate", 0.0))
        for name, summary in result.get("summaries", {}).items():
            exact_max[name] = max(exact_max.get(name, 0), int(summary.get("max", 0)))
        overhead = result.get("overhead", {})
        messages = int(overhead.get("calibration_messages", 0))
        overhead_weighted += float(overhead.get("per_message_ns_mean", 0.0)) * messages
        bookkeeping_weighted += float(overhead.get("bookkeeping_ns_mean",
                                                   overhead.get("per_message_ns_mean", 0.0))) * messages
        modes.add(str(overhead.get("submit", "")))
        overhead_messages += messages
        samples = int(result["counts"].get("measured", 0))
        record_weighted += float(result.get("record_ns_per_sample", 0.0)) * samples
        record_samples += samples
        loops.add(str(result.get("event_loop", "")))
    if achieved < MIN_RATE_FRACTION * target:
        reasons.append(f"combined achieved rate {achieved:.1f}/s is below {MIN_RATE_FRACTION:.1%} "
                       f"of the combined target {target:.1f}/s")
    histograms = {name: merge(result["histograms"][name] for result in results) for name in names}
    return LoadPoint(
        label=label,
        target_rate=target,
        achieved_rate=achieved,
        ack_rate=ack_rate,
        counts=counts,
        histograms=histograms,
        exact_max=exact_max,
        overhead_ns_mean=overhead_weighted / overhead_messages if overhead_messages else 0.0,
        record_ns_per_sample=record_weighted / record_samples if record_samples else 0.0,
        invalid_reasons=reasons,
        drivers=len(results),
        event_loop=",".join(sorted(loops)),
        bookkeeping_ns_mean=bookkeeping_weighted / overhead_messages if overhead_messages else 0.0,
        submit_mode=",".join(sorted(modes)),
    )


def combine_rounds(label: str, rounds: Sequence[LoadPoint]) -> LoadPoint:
    """One load point from rounds of the same plan run at different times (interleaved runs).

    Histograms merge and counts add, as across drivers; rates, overheads and CPU per order are
    averaged over the rounds weighted by what each sent (every round asked for the same rate).
    A round's invalid reasons carry its label: one void round voids the combined point.
    """
    if not rounds:
        raise ValueError(f"load point {label!r}: no rounds to combine")
    weights = [max(point.counts.get("sent", 0), 1) for point in rounds]
    total = sum(weights)

    def weighted(value: Callable[[LoadPoint], float]) -> float:
        return sum(value(point) * weight for point, weight in zip(rounds, weights, strict=True)) / total

    counts: dict[str, int] = {}
    exact_max: dict[str, int] = {}
    for point in rounds:
        for key, count in point.counts.items():
            counts[key] = counts.get(key, 0) + count
        for name, value in point.exact_max.items():
            exact_max[name] = max(exact_max.get(name, 0), value)
    histograms = {name: merge_histograms([point.histograms[name] for point in rounds])
                  for name in rounds[0].histograms}
    extra: dict[str, Any] = {}
    for key in PER_ORDER_KEYS.values():
        roles = {role for point in rounds for role in point.extra.get(key, {})}
        if roles:
            extra[key] = {role: round(weighted(_per_order(key, role)), 2) for role in sorted(roles)}
    first = rounds[0]
    return LoadPoint(
        label=label,
        target_rate=weighted(lambda p: p.target_rate),
        achieved_rate=weighted(lambda p: p.achieved_rate),
        ack_rate=weighted(lambda p: p.ack_rate),
        counts=counts,
        histograms=histograms,
        exact_max=exact_max,
        overhead_ns_mean=weighted(lambda p: p.overhead_ns_mean),
        record_ns_per_sample=weighted(lambda p: p.record_ns_per_sample),
        invalid_reasons=[f"{point.label}: {reason}" for point in rounds for reason in point.invalid_reasons],
        drivers=first.drivers,
        event_loop=first.event_loop,
        bookkeeping_ns_mean=weighted(lambda p: p.bookkeeping_ns_mean),
        submit_mode=first.submit_mode,
        extra={**extra, "rounds": len(rounds)},
    )


def _per_order(key: str, role: str) -> Callable[[LoadPoint], float]:
    def value(point: LoadPoint) -> float:
        return float(point.extra.get(key, {}).get(role, 0.0))

    return value
