"""Where a gateway point's latency goes, against the floor measured in the same run (pure).

The floor path (driver -> relay -> echo -> relay -> driver) does what the gateway path must do
at the least: the same hops, the same client driver, nothing else. So the gateway's p50 is
read as the floor's p50 plus what the gateway path adds, and what it adds is split over the
processes in proportion to the CPU each spends per order beyond its floor counterpart
(gateway against the relay, exchange against the echo, client driver against the floor's
driver). On a machine with fewer cores than busy processes the path's CPU *is* most of its
latency (the processes take turns on the cores), so this is the share each process would
give back if it cost no more than its counterpart. An estimate, labelled as one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from compat.bench.loadpoint import LoadPoint

COUNTERPARTS = {"gateway": "relay", "exchange": "echo", "client": "client"}


@dataclass(frozen=True)
class Budget:
    label: str
    p50_us: float
    floor_p50_us: float
    beyond_cpu_us: dict[str, float]  # role -> CPU per order beyond its floor counterpart
    shares: dict[str, float]  # "floor" and each role -> its share of the p50 (sums to 1)

    @property
    def ratio(self) -> float:
        return self.p50_us / self.floor_p50_us if self.floor_p50_us else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio_to_floor": self.ratio}

    def describe(self) -> str:
        parts = [f"floor {self.shares['floor']:.0%}"] + [
            f"{role} {share:.0%} (+{self.beyond_cpu_us[role]:.0f} us CPU/order over the {COUNTERPARTS[role]})"
            for role, share in self.shares.items() if role != "floor"]
        return (f"p50 {self.p50_us:.0f} us = {self.ratio:.2f} x floor {self.floor_p50_us:.0f} us; "
                f"shares (estimate): " + ", ".join(parts))


def latency_budget(point: LoadPoint, floor: LoadPoint) -> Budget | None:
    """None when either side lacks a p50 or the CPU figures to split the difference by."""
    p50 = point.percentiles().p50 / 1000
    floor_p50 = floor.percentiles().p50 / 1000
    cpu = point.extra.get("cpu_us_per_order") or {}
    floor_cpu = floor.extra.get("cpu_us_per_order") or {}
    beyond = {role: float(cpu[role]) - float(floor_cpu[counterpart])
              for role, counterpart in COUNTERPARTS.items() if role in cpu and counterpart in floor_cpu}
    if p50 <= 0 or floor_p50 <= 0 or not beyond:
        return None
    extra = max(p50 - floor_p50, 0.0)
    positive = {role: max(value, 0.0) for role, value in beyond.items()}
    total = sum(positive.values())
    shares = {"floor": min(floor_p50 / p50, 1.0)}
    for role, value in positive.items():
        shares[role] = (extra / p50) * (value / total) if total else 0.0
    return Budget(point.label, p50, floor_p50, {r: round(v, 1) for r, v in beyond.items()}, shares)
