"""A benchmark session: floor, instrument self-test, optional rate sweep, written outputs.

``BenchSession`` is what ``compat bench`` (and the plugin's bench mode) drive. Each step
returns values; printing is the caller's business, through the ``progress`` callback.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compat import timing
from compat.bench.analysis import Comparison, GoalCheck, Knee, SweepPoint, check_goal, compare, find_knee
from compat.bench.floor import FloorRig, MidRun, Stall, StallRecord
from compat.bench.gateway import GatewayLoad
from compat.bench.loadpoint import LoadPoint, combine_rounds
from compat.bench.selftest import StallCheck, check_stall
from compat.bench.upgrade import DEFAULT_BUCKET_MS, Blip, analyse, swap_gateway
from compat.harness.host import host_from_spec

if TYPE_CHECKING:
    from compat.bench.target import Target

SCHEMA = "compat-bench/1"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    rate: float = 1000.0  # total orders/s over all drivers
    duration_s: float = 10.0
    warmup_s: float = 1.0
    drivers: int = 1
    connections: int = 1  # sessions per driver
    stall_ms: float = 200.0  # self-test stall; 0 disables the self-test
    sweep: tuple[float, ...] = ()
    slo_p99_ms: float = 5.0
    payload_size: int = 64
    host: str = "local"
    spin_us: float | None = None
    scale: bool = False  # also the 200-session, 16,000-instrument point (its own stack)
    scale_drivers: int = 4
    scale_sessions: int = 200
    scale_instruments: int = 16_000
    # The headline point alternates floor and gateway rounds (duration split over them), so
    # that machine drift hits both sides alike and the goal ratio gets a confidence interval.
    rounds: int = 6
    min_round_s: float = 1.0  # fewer rounds rather than rounds shorter than this

    @property
    def headline_rounds(self) -> int:
        return max(1, min(self.rounds, int(self.duration_s / self.min_round_s)))

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
    comparisons: list[Comparison] = field(default_factory=list)
    ab_rounds: dict[str, list[LoadPoint]] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    scale: LoadPoint | None = None
    upgrade: LoadPoint | None = None  # the load point that ran through a live gateway swap
    blip: Blip | None = None  # what the swap did to it (gap, windows, affected, check)
    notes: list[str] = field(default_factory=list)
    rounds: dict[str, list[LoadPoint]] = field(default_factory=dict)  # the headline's alternating rounds
    goal: GoalCheck | None = None

    @property
    def headline(self) -> LoadPoint | None:
        """The gateway's main load point (the first one measured), if any."""
        return self.gateway[0] if self.gateway else None

    def points(self) -> list[LoadPoint]:
        found = [p for p in (self.floor, self.self_test) if p is not None]
        upgrade = [self.upgrade] if self.upgrade else []
        windows = list(self.blip.windows.values()) if self.blip else []
        return found + self.sweep + self.gateway + ([self.scale] if self.scale else []) + upgrade + windows

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
            "comparisons": [c.as_dict() for c in self.comparisons],
            "ab_rounds": {label: [p.as_dict() for p in points] for label, points in self.ab_rounds.items()},
            "audit": dict(self.audit),
            "scale": self.scale.as_dict() if self.scale else None,
            "upgrade": ({"point": self.upgrade.as_dict(), "blip": self.blip.as_dict() if self.blip else None}
                        if self.upgrade else None),
            "notes": list(self.notes),
            "rounds": {label: [p.as_dict() for p in points] for label, points in self.rounds.items()},
            "goal": self.goal.as_dict() if self.goal else None,
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
        with contextlib.closing(host), FloorRig(host, self.log_dir, drivers=settings.drivers,
                                                connections=settings.connections,
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

    def gateway(self, target: Target) -> BenchRun:
        """Floor and gateway of ``target``'s cell in alternating rounds; then self-test, sweep, knee."""
        from compat.run.stack import Stack

        settings = self.settings
        cell = target.cell
        self.progress(f"starting the stack of {cell.id} (exchange -> gateway {cell.gateway.version})")
        with Stack(cell, target.matrix, target.envs, self.log_dir / cell.id, target.hosts,
                   target.settings) as stack:
            load = GatewayLoad(stack, drivers=settings.drivers, connections=settings.connections).connect()
            label = f"gateway-{cell.gateway.version}"
            self.progress(f"{label}: order {load.order}")
            # Both rigs stay up through the rounds; the idle one only waits on its sockets.
            with self._floor_rig(target) as rig:
                self._alternate(rig, load, label)
            if settings.stall_ms > 0:
                stall = Stall(after_s=settings.warmup_s + 0.4 * settings.duration_s,
                              duration_s=settings.stall_ms / 1000)
                self.progress(f"self-test: SIGSTOP the gateway for {settings.stall_ms:.0f} ms mid-run")
                tested, record = load.run(settings.plan(), f"{label}-selftest", stall)
                assert record is not None
                self.run.self_test, self.run.stall = tested, record
                self.run.stall_check = check_stall(tested, record.requested_ns)
            for rate in settings.sweep:
                self.progress(f"sweep: {label} at {rate:.0f}/s")
                swept, _ = load.run(settings.plan(rate), f"{label}@{rate:.0f}")
                self.run.sweep.append(swept)
                if not swept.valid or swept.percentiles().p99 > settings.slo_p99_ms * 1e6:
                    break
            if self.run.sweep:
                self.run.knee = find_knee([sweep_point(p) for p in self.run.sweep],
                                          int(settings.slo_p99_ms * 1e6))
        # After the stop, so the exchange has flushed its audit log.
        self.run.audit = reconcile_audit(stack.audit_path, self.run)
        if self.run.audit.get("checked") and not self.run.audit.get("match"):
            for point in self.run.gateway:
                point.invalid_reasons.append(
                    f"audit mismatch: harness acked {self.run.audit['acked_by_harness']}, exchange accepted "
                    f"{self.run.audit['accepted_in_audit']}")
        if settings.scale:
            self._scale(target)
        return self.run

    def _scale(self, target: Target) -> None:
        """Many sessions over several drivers and many instruments, through one gateway."""
        import dataclasses

        from compat.bench.scale import scale_order, write_instruments
        from compat.run.stack import Stack

        settings = self.settings
        scale_dir = self.log_dir / "scale"
        path, names = write_instruments(scale_dir, settings.scale_instruments)
        drivers = settings.scale_drivers
        per_driver = max(settings.scale_sessions // drivers, 1)
        # Long enough that every instrument receives at least one order.
        duration = max(settings.duration_s, len(names) / settings.rate)
        stack_settings = dataclasses.replace(target.settings, instruments=path)
        self.progress(f"scale: stack with {len(names)} instruments, {drivers} drivers x {per_driver} sessions")
        with Stack(target.cell, target.matrix, target.envs, scale_dir, target.hosts, stack_settings) as stack:
            began = timing.monotonic()
            load = GatewayLoad(stack, drivers=drivers, connections=per_driver,
                               order=scale_order(names)).connect()
            logon_s = timing.monotonic() - began
            self.progress(f"scale: {drivers * per_driver} sessions logged on in {logon_s:.1f}s; "
                          f"{settings.rate:.0f}/s for {duration:.1f}s over {len(names)} symbols")
            point, _ = load.run(settings.plan(duration_s=duration),
                                f"scale-{drivers * per_driver}x{len(names)}")
        point.extra.update({"sessions": drivers * per_driver, "instruments": len(names),
                            "logon_seconds": round(logon_s, 1)})
        self.run.scale = point

    def compare_gateways(self, target: Target, versions: tuple[str, str], rounds: int = 6) -> BenchRun:
        """A/B: two stacks side by side, load alternated A, B, A, B so machine drift cancels."""
        from compat.bench.target import pick
        from compat.run.stack import Stack

        settings = self.settings
        releases = [pick(target.gateway_releases, version, "gateway") for version in versions]
        self._floor_for(target)
        loads: dict[str, GatewayLoad] = {}
        with contextlib.ExitStack() as stacks:
            for side, release in zip("AB", releases, strict=True):
                cell = type(target.cell)(client=target.cell.client, gateway=release, venue=target.cell.venue)
                envs = {"gateway": target.env_for(release), "client": target.envs["client"]}
                self.progress(f"starting stack {side}: {cell.id}")
                stack = stacks.enter_context(Stack(cell, target.matrix, envs,
                                                   self.log_dir / f"{side}-{cell.id}",
                                                   target.hosts, target.settings))
                loads[f"{side}:gateway-{release.version}"] = GatewayLoad(
                    stack, drivers=settings.drivers, connections=settings.connections).connect()
            for number in range(1, rounds + 1):
                for label, load in loads.items():
                    self.progress(f"A/B round {number}/{rounds}: {label}")
                    point, _ = load.run(settings.plan(), f"{label}#{number}")
                    self.run.ab_rounds.setdefault(label, []).append(point)
        (label_a, points_a), (label_b, points_b) = self.run.ab_rounds.items()
        void = [p.label for p in points_a + points_b if not p.valid]
        if void:
            self.run.notes.append(f"A/B comparison is void: invalid rounds {void}")
        for key in ("p50", "p99"):
            a = [float(getattr(p.percentiles(), key)) for p in points_a]
            b = [float(getattr(p.percentiles(), key)) for p in points_b]
            self.run.comparisons.append(compare(a, b, metric=f"{key} {label_b} / {label_a}"))
        return self.run

    def upgrade(self, target: Target, versions: tuple[str, str]) -> BenchRun:
        """The live-upgrade blip: load through the fault proxy while the gateway is swapped FROM -> TO.

        The swap starts 30% into the measured window (the rest shows the recovery). The
        drivers resume their sessions and resend what met the outage; the exchange's audit
        log must then hold exactly the orders the harness saw acked.
        """
        from compat.bench.target import pick
        from compat.run.stack import Stack

        settings = self.settings
        old, new = (pick(target.gateway_releases, version, "gateway") for version in versions)
        self._floor_for(target)
        cell = type(target.cell)(client=target.cell.client, gateway=old, venue=target.cell.venue)
        envs = {"gateway": target.env_for(old), "client": target.envs["client"]}
        new_env = target.env_for(new)
        label = f"upgrade-{old.version}-{new.version}"
        self.progress(f"starting the stack of {cell.id}; clients through its fault proxy")
        with Stack(cell, target.matrix, envs, self.log_dir / label, target.hosts, target.settings) as stack:
            load = GatewayLoad(stack, drivers=settings.drivers, connections=settings.connections,
                               via_proxy=True).connect()
            plan = {**settings.plan(), "timeline_bucket_ms": DEFAULT_BUCKET_MS,
                    "drain_timeout_s": max(15.0, settings.duration_s)}
            after_s = settings.warmup_s + 0.3 * settings.duration_s
            self.progress(f"{label}: {settings.rate:.0f}/s for {settings.duration_s:.1f}s; gateway "
                          f"{old.version} -> {new.version} swapped {after_s:.1f}s in")
            midrun = MidRun(after_s, lambda: swap_gateway(stack, new, new_env), "the gateway swap")
            point, results, swap = load.run_raw(plan, label, midrun, order={"reconnect": True})
        self.run.upgrade = point
        self.run.blip = blip = analyse(point, results, swap)
        audit = reconcile_points(stack.audit_path, [point])
        self.run.audit = audit
        if audit.get("checked") and not audit.get("match"):
            point.invalid_reasons.append(f"audit mismatch: harness acked {audit['acked_by_harness']}, exchange "
                                         f"accepted {audit['accepted_in_audit']}")
        if not blip.valid:
            point.invalid_reasons += [f"blip: {reason}" for reason in blip.reasons]
        return self.run

    def _floor_for(self, target: Target) -> None:
        """The floor alone (A/B and upgrade runs, whose headline is not the goal ratio)."""
        with self._floor_rig(target) as rig:
            self.run.floor, _ = rig.run(self.settings.plan())

    def _floor_rig(self, target: Target) -> FloorRig:
        """The floor on the gateway's host with the gateway's and client's interpreters."""
        settings = self.settings
        self.progress("floor: relay/echo with the gateway venv's Python, drivers with the client's")
        return FloorRig(target.hosts["gateway"], self.log_dir / "floor", drivers=settings.drivers,
                        connections=settings.connections, payload_size=settings.payload_size,
                        driver_python=str(target.envs["client"].python),
                        relay_python=str(target.envs["gateway"].python), relay_loop="auto")

    def _alternate(self, rig: FloorRig, load: GatewayLoad, label: str) -> None:
        """Floor, gateway, floor, gateway ...: the headline point and the goal ratio with its CI.

        Each side's rounds merge into one load point (histograms add), so the headline keeps the
        full sample count; the goal compares the rounds' p50s in pairs, so drift cancels.
        """
        settings = self.settings
        count = settings.headline_rounds
        plan = settings.plan(duration_s=settings.duration_s / count)
        floors: list[LoadPoint] = []
        gateways: list[LoadPoint] = []
        for number in range(1, count + 1):
            self.progress(f"round {number}/{count}: floor, then {label}, {settings.rate:.0f}/s for "
                          f"{plan['duration_s']:.1f}s each (+{settings.warmup_s:.1f}s warm-up)")
            floor, _ = rig.run(plan)
            floor.label = f"floor#{number}"
            floors.append(floor)
            gateway, _ = load.run(plan, f"{label}#{number}")
            gateways.append(gateway)
        self.run.rounds = {"floor": floors, label: gateways}
        self.run.floor = combine_rounds("floor", floors)
        self.run.gateway.append(combine_rounds(label, gateways))
        self.run.goal = check_goal([float(p.percentiles().p50) for p in floors],
                                   [float(p.percentiles().p50) for p in gateways])

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


def reconcile_audit(audit_path: Path, run: BenchRun) -> dict[str, Any]:
    """Acked orders by the harness against orders the exchange's audit log accepted."""
    return reconcile_points(audit_path, run.gateway + run.sweep + ([run.self_test] if run.self_test else []))


def reconcile_points(audit_path: Path, points: list[LoadPoint]) -> dict[str, Any]:
    """Acked orders of ``points`` (every order on one stack) against the audit's accepted orders.

    Best effort: the audit log format belongs to the exchange; when it cannot be read the
    reason is recorded (and shown), never silently skipped.
    """
    acked = sum(p.counts.get("acked", 0) for p in points)
    try:
        from compat.exchange.audit import read_audit

        records = read_audit(audit_path)
    except Exception as exc:  # the exchange's reader raises its own error types
        return {"checked": False, "reason": f"cannot read {audit_path}: {exc}", "acked_by_harness": acked}
    # The bench is the only traffic on its stack, so every accepted order is one of ours.
    accepted = sum(1 for record in records if record.kind == "accepted")
    rejected = sum(1 for record in records if record.kind == "rejected")
    return {"checked": True, "acked_by_harness": acked, "accepted_in_audit": accepted,
            "rejected_in_audit": rejected, "match": accepted == acked, "audit_log": str(audit_path)}
