"""Interleaved rounds with bounded reruns: the unit every comparison of the benchmark is made of.

``run_interleaved`` runs each side once per round, in the order A, B then B, A then A, B ...
(every other round reversed, so a machine that slows down through a round does not always
hit the same side second). A round is a *pair* (or a floor/gateway couple): when one side's
run is invalid only because its achieved rate fell short (the machine could not keep the
pace for a while: another job took the cores), the whole round is run again, up to
``max_reruns`` times over the run, and the result lists every rerun and why. Anything else
that invalidates a run (lost, errored, gapped or duplicated orders, rejects) is a real fault:
it voids the comparison at once, as does a short rate once the reruns are used up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compat.bench.loadpoint import LoadPoint

RATE_SHORT = "achieved rate"  # how the driver and the merge word a run that fell behind its schedule


def rate_short_only(point: LoadPoint) -> bool:
    """Invalid only because the achieved rate fell short: worth a rerun, not a verdict."""
    return bool(point.invalid_reasons) and all(RATE_SHORT in reason for reason in point.invalid_reasons)


def default_max_reruns(rounds: int) -> int:
    return max(2, rounds // 2)


@dataclass(frozen=True)
class Rerun:
    round: int
    attempt: int  # 1 for the first rerun of that round
    why: str  # "<label>: <reason>"

    def as_dict(self) -> dict[str, Any]:
        return {"round": self.round, "attempt": self.attempt, "why": self.why}


@dataclass
class InterleavedRounds:
    labels: tuple[str, ...]
    kept: dict[str, list[LoadPoint]]  # the rounds a verdict uses, paired by index
    ran: dict[str, list[LoadPoint]]  # every run, reruns' discarded ones too (the audit counts them all)
    reruns: list[Rerun] = field(default_factory=list)
    void_reasons: list[str] = field(default_factory=list)

    @property
    def void(self) -> bool:
        return bool(self.void_reasons)

    def describe_reruns(self) -> str:
        if not self.reruns:
            return "no round rerun"
        return f"{len(self.reruns)} round(s) rerun: " + "; ".join(
            f"round {r.round} ({r.why})" for r in self.reruns)

    def as_dict(self) -> dict[str, Any]:
        return {"reruns": [r.as_dict() for r in self.reruns], "void_reasons": list(self.void_reasons),
                "rounds": len(next(iter(self.kept.values()), []))}


def run_interleaved(sides: Mapping[str, Callable[[str], LoadPoint]], rounds: int, max_reruns: int,
                    progress: Callable[[str], None] = lambda _: None) -> InterleavedRounds:
    """``sides[label](round_label)`` runs one load point; ``rounds`` kept rounds of each side, or void."""
    labels = tuple(sides)
    result = InterleavedRounds(labels, {label: [] for label in labels}, {label: [] for label in labels})
    number = 0
    attempts = 0
    while number < rounds:
        number += 1
        order = labels if number % 2 else tuple(reversed(labels))
        progress(f"round {number}/{rounds}" + (f" (rerun {attempts})" if attempts else "") + ": "
                 + ", then ".join(order))
        points: dict[str, LoadPoint] = {}
        for label in order:
            point = sides[label](f"{label}#{number}" + (f"r{attempts}" if attempts else ""))
            points[label] = point
            result.ran[label].append(point)
            if not point.valid:
                break  # the round is lost either way; do not spend the other side's run on it
        invalid = {label: point for label, point in points.items() if not point.valid}
        if not invalid:
            for label in labels:
                result.kept[label].append(points[label])
            attempts = 0
            continue
        why = "; ".join(f"{label}: {reason}" for label, point in invalid.items() for reason in point.invalid_reasons)
        if not all(rate_short_only(point) for point in invalid.values()):
            result.void_reasons.append(f"round {number}: {why}")
            return result
        if len(result.reruns) >= max_reruns:
            result.void_reasons.append(f"round {number}: {why} (and the {max_reruns} rerun(s) allowed are used up)")
            return result
        attempts += 1
        result.reruns.append(Rerun(number, attempts, why))
        progress(f"round {number}: rerun ({why})")
        number -= 1
    return result
