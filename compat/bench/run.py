"""A benchmark session: floor, instrument self-test, optional rate sweep, written outputs.

``BenchSession`` is what ``compat bench`` (and the plugin's bench mode) drive. Each step
returns values; printing is the caller's business, through the ``progress`` callback.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compat import timing
from compat.bench.analysis import Knee, SweepPoint, find_knee
from compat.bench.floor import FloorRig, Stall, StallRecord
from compat.bench.loadpoint import LoadPoint
from compat.bench.selftest import StallCheck, check_stall
from compat.harness.host import host_from_spec

SCHEMA = "compat-bench/1"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    rate: float = 2000.0  # total orders/s over all drivers
    duration_s: float = 5.0
    warmup_s: float = 1.0
    drivers: int = 1
    connections: int = 1  # sessions per driver
    stall_ms: float = 200.0  # self-test stall; 0 disables the self-test
    sweep: tuple[float, ...] = ()
    slo_p99_ms: float = 5.0
    payload_size: int = 64
    host: str = "local"
    spin_us: float | None = None

    def plan(self, rate: float | None = None, duration_s: float | None = None) -> dict[str, Any]:
        plan: dict[str, Any] = {"rate": rate or self.rate, "duration_s": duration_s or self.duration_s,
                                "warmup_s": self.warmup_s}
        if self.spin_us is not None:
            plan["spin_ns"] = int(self.spin_us * 1000)
        return plan


@dataclass
class BenchRun:
    run_id: str
    settings: BenchSettings
    floor: LoadPoint | None = None
    self_test: LoadPoint | None = None
    stall: StallRecord | None = None
    stall_check: StallCheck | None = None
    sweep: list[LoadPoint] = field(default_factory=list)
    knee: Knee | None = None
    gateway: list[LoadPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def points(self) -> list[LoadPoint]:
        found = [p for p in (self.floor, self.self_test) if p is not None]
        return found + self.sweep + self.gateway

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "timestamp": timing.utc_timestamp(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},
            "settings": asdict(self.settings),
            "floor": self.floor.as_dict() if self.floor else None,
            "self_test": {
                "point": self.self_test.as_dict() if self.self_test else None,
                "stall": asdict(self.stall) if self.stall else None,
                "check": self.stall_check.as_dict() if self.stall_check else None,
            },
            "sweep": [p.as_dict() for p in self.sweep],
            "knee": self.knee.as_dict() if self.knee else None,
            "gateway": [p.as_dict() for p in self.gateway],
            "notes": list(self.notes),
        }


def new_run_id() -> str:
    return timing.utc_timestamp().replace(":", "").replace("-", "")


def sweep_point(point: LoadPoint) -> SweepPoint:
    return SweepPoint(point.target_rate, point.achieved_rate, point.percentiles().p99, point.valid,
                      "; ".join(point.invalid_reasons))


class BenchSession:
    """Runs the steps of one benchmark on one set of hosts, logging under ``log_dir``."""

    def __init__(self, settings: BenchSettings, log_dir: Path, progress: Progress = lambda _: None) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.progress = progress
        self.run = BenchRun(run_id=new_run_id(), settings=settings)

    def floor_only(self) -> BenchRun:
        settings = self.settings
        host = host_from_spec(settings.host)
        self.progress(f"starting floor rig (echo, relay, {settings.drivers} driver(s)) on {settings.host}")
        with FloorRig(host, self.log_dir, drivers=settings.drivers, connections=settings.connections,
                      payload_size=settings.payload_size) as rig:
            self.progress(f"floor: {settings.rate:.0f}/s for {settings.duration_s:.1f}s "
                          f"(+{settings.warmup_s:.1f}s warm-up)")
            self.run.floor, _ = rig.run(settings.plan())
            if settings.stall_ms > 0:
                self._self_test(rig)
            for rate in settings.sweep:
                self.progress(f"sweep: {rate:.0f}/s")
                point, _ = rig.run(settings.plan(rate))
                point.label = f"floor@{rate:.0f}"
                self.run.sweep.append(point)
                if not point.valid or point.percentiles().p99 > settings.slo_p99_ms * 1e6:
                    break  # past the knee: higher rates only take longer to fail
            if self.run.sweep:
                self.run.knee = find_knee([sweep_point(p) for p in self.run.sweep],
                                          int(settings.slo_p99_ms * 1e6))
        return self.run

    def _self_test(self, rig: FloorRig) -> None:
        settings = self.settings
        stall_s = settings.stall_ms / 1000
        # The stall lands 40% into the measured window, far from warm-up and drain.
        stall = Stall(after_s=settings.warmup_s + 0.4 * settings.duration_s, duration_s=stall_s)
        self.progress(f"self-test: SIGSTOP the relay for {settings.stall_ms:.0f} ms mid-run")
        point, record = rig.run(settings.plan(), stall)
        point.label = "floor-selftest"
        self.run.self_test = point
        self.run.stall = record
        assert record is not None
        self.run.stall_check = check_stall(point, record.requested_ns)
