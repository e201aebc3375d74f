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
from compat.bench.abtest import DEFAULT_THRESHOLDS, INFO_THRESHOLD, ABVerdict, compare_rounds, void_verdict
from compat.bench.analysis import GoalCheck, Knee, SweepPoint, check_goal, find_knee
from compat.bench.audit import reconcile_points
from compat.bench.budget import Budget, latency_budget
from compat.bench.calibration import Calibration, analyse_calibration
from compat.bench.floor import FloorRig, MidRun, Stall, StallRecord
from compat.bench.gateway import GatewayLoad
from compat.bench.loadpoint import LoadPoint, combine_rounds, load_plan
from compat.bench.rounds import InterleavedRounds, default_max_reruns, run_interleaved
from compat.bench.selftest import StallCheck, check_stall
from compat.bench.sidebyside import PROXY_ROLE, Side, SideBySide, run_side_by_side
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
    max_reruns: int | None = None  # rounds rerun when the achieved rate fell short; None: max(2, rounds // 2)
    # What an A/B decides on: measure -> threshold (compat.bench.abtest; matrix.yaml bench.gate).
    thresholds: tuple[tuple[str, float], ...] = tuple(DEFAULT_THRESHOLDS.items())

    @property
    def rerun_bound(self) -> int:
        return default_max_reruns(self.rounds) if self.max_reruns is None else self.max_reruns

    @property
    def headline_rounds(self) -> int:
        return max(1, min(self.rounds, int(self.duration_s / self.min_round_s)))

    def plan(self, rate: float | None = None, duration_s: float | None = None) -> dict[str, Any]:
        return load_plan(rate or self.rate, duration_s or self.duration_s, self.warmup_s, self.spin_us)


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
    ab: ABVerdict | None = None  # --compare and --calibrate: B against A over the paired rounds
    ab_rounds: dict[str, list[LoadPoint]] = field(default_factory=dict)  # the kept rounds per side
    ab_points: dict[str, LoadPoint] = field(default_factory=dict)  # each side's kept rounds merged
    interleaving: InterleavedRounds | None = None  # reruns and why (headline or A/B rounds)
    calibration: Calibration | None = None
    budgets: list[Budget] = field(default_factory=list)  # each gateway point's p50 split against the floor
    audit: dict[str, Any] = field(default_factory=dict)
    audits: dict[str, dict[str, Any]] = field(default_factory=dict)  # A/B: one audit per side's stack
    gate: dict[str, Any] | None = None  # --gate: the decision record (compat.bench.gate)
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
        return (found + self.sweep + self.gateway + list(self.ab_points.values())
                + ([self.scale] if self.scale else []) + upgrade + windows)

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
            "ab": self.ab.as_dict() if self.ab else None,
            "ab_rounds": {label: [p.as_dict() for p in points] for label, points in self.ab_rounds.items()},
            "ab_points": {label: p.as_dict() for label, p in self.ab_points.items()},
            "interleaving": self.interleaving.as_dict() if self.interleaving else None,
            "calibration": self.calibration.as_dict() if self.calibration else None,
            "budgets": [b.as_dict() for b in self.budgets],
            "audit": dict(self.audit),
            "audits": dict(self.audits),
            "gate": self.gate,
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

    def compare_gateways(self, target: Target, versions: tuple[str, str]) -> BenchRun:
        """A/B: two stacks side by side, load alternated A, B, B, A ... so machine drift cancels.

        The verdict compares every measure of the paired rounds; the deciding ones (latency
        p50 and each path process's CPU per order unless matrix.yaml's ``bench.gate`` says
        otherwise) make a regression. The floor is measured first, for each side's ratio.
        """
        from compat.bench.target import pick

        releases = [pick(target.gateway_releases, version, "gateway") for version in versions]
        sides = [Side(f"{name}:gateway-{release.version}", release)
                 for name, release in zip("AB", releases, strict=True)]
        self._floor_for(target)
        done = self._side_by_side(target, sides)
        self.run.ab = self._verdict(done, dict(self.settings.thresholds))
        return self.run

    def calibrate(self, target: Target, injected_us: float) -> BenchRun:
        """The gateway against itself, B paying ``injected_us`` more per order: sensitivity and MDEs.

        Both sides reach their gateway through their stack's fault proxy; B's holds every
        client -> gateway chunk ``injected_us`` by a busy wait, which adds that much to B's
        latency and to the proxy process's CPU per order, and nothing to the gateway's.
        """
        release = target.cell.gateway
        label = f"gateway-{release.version}"
        sides = [Side(f"A:{label}", release, via_proxy=True),
                 Side(f"B:{label}+{injected_us:g}us", release, busy_us=injected_us, via_proxy=True)]
        self._floor_for(target)
        done = self._side_by_side(target, sides)
        thresholds = {"p50": INFO_THRESHOLD, **dict(self.settings.thresholds), f"cpu.{PROXY_ROLE}": INFO_THRESHOLD}
        self.run.ab = verdict = self._verdict(done, thresholds)
        self.run.calibration = analyse_calibration(verdict, injected_us, self.settings.rounds, self.settings.duration_s)
        return self.run

    def _side_by_side(self, target: Target, sides: list[Side]) -> SideBySide:
        settings = self.settings
        done = run_side_by_side(target, sides, settings.plan(), drivers=settings.drivers,
                                connections=settings.connections, rounds=settings.rounds,
                                max_reruns=settings.rerun_bound, log_dir=self.log_dir, progress=self.progress)
        self.run.interleaving = done.rounds
        self.run.ab_rounds = {label: list(points) for label, points in done.rounds.kept.items()}
        self.run.ab_points = dict(done.combined)
        self.run.audits = dict(done.audits)
        if self.run.floor is not None:
            self.run.budgets = [b for p in done.combined.values() if (b := latency_budget(p, self.run.floor))]
        return done

    def _verdict(self, done: SideBySide, thresholds: dict[str, float]) -> ABVerdict:
        (label_a, rounds_a), (label_b, rounds_b) = done.rounds.kept.items()
        usable = min(len(rounds_a), len(rounds_b))
        verdict = compare_rounds(label_a, label_b, rounds_a[:usable], rounds_b[:usable], thresholds) if usable else \
            compare_rounds(label_a, label_b, [], [], {})
        reasons = done.void_reasons + ([f"floor: {r}" for r in self.run.floor.invalid_reasons]
                                       if self.run.floor is not None else [])
        return void_verdict(verdict, reasons) if reasons else verdict

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
        """Floor, gateway, gateway, floor ...: the headline point and the goal ratio with its CI.

        Each side's rounds merge into one load point (histograms add), so the headline keeps the
        full sample count; the goal compares the rounds' p50s in pairs, so drift cancels. A
        round whose rate fell short is rerun (``compat.bench.rounds``).
        """
        settings = self.settings
        count = settings.headline_rounds
        plan = settings.plan(duration_s=settings.duration_s / count)
        self.progress(f"{count} round(s) of floor and {label}, {settings.rate:.0f}/s for "
                      f"{plan['duration_s']:.1f}s each (+{settings.warmup_s:.1f}s warm-up)")

        def floor(name: str) -> LoadPoint:
            point, _ = rig.run(plan)
            point.label = name
            return point

        sides = {"floor": floor, label: lambda name: load.run(plan, name)[0]}
        done = run_interleaved(sides, count, settings.rerun_bound, self.progress)
        self.run.interleaving = done
        self.run.rounds = {side: list(points) for side, points in done.kept.items()}
        for side, points in done.kept.items():
            point = combine_rounds(side, points or done.ran[side])
            point.invalid_reasons += done.void_reasons
            if side == "floor":
                self.run.floor = point
            else:
                self.run.gateway.append(point)
        floors, gateways = done.kept["floor"], done.kept[label]
        if floors and len(floors) == len(gateways):
            self.run.goal = check_goal([float(p.percentiles().p50) for p in floors],
                                       [float(p.percentiles().p50) for p in gateways])
        if self.run.floor is not None:
            self.run.budgets = [b for p in self.run.gateway if (b := latency_budget(p, self.run.floor))]

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
    points = run.gateway + run.sweep + ([run.self_test] if run.self_test else [])
    if run.interleaving is not None:  # every headline round run, reruns included, not only the kept ones
        points = [p for label, ran in run.interleaving.ran.items() if label != "floor" for p in ran] + \
            run.sweep + ([run.self_test] if run.self_test else [])
    return reconcile_points(audit_path, points)
