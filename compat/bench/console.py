"""The text report of one ``compat bench`` run: ``report_lines(run)`` and whether it is void.

Pure over a ``BenchRun`` (no I/O): the command prints the lines. Sections appear only for
what the run measured: floor, gateway headline and goal, self-test, sweep and knee, A/B or
calibration, scale, upgrade, audits, notes.
"""

from __future__ import annotations

from typing import Any

from compat.bench.loadpoint import LoadPoint
from compat.bench.outputs import render_text
from compat.bench.run import BenchRun

MIN_SAMPLES_FOR_P999 = 10_000  # ten samples above p99.9


def report_lines(run: BenchRun) -> tuple[list[str], bool]:
    """The report, and True when the run is void."""
    out: list[str] = []
    settings = run.settings
    floor = run.floor
    out.append(f"compat bench run {run.run_id} on {settings.host}: {settings.drivers} driver(s) x "
               f"{settings.connections} session(s), warm-up {settings.warmup_s:.1f}s excluded, "
               f"latency from INTENDED send time (coordinated-omission corrected)")
    void = False
    if floor is not None:
        alternation = (f"; {run.goal.rounds} round(s) alternating with the gateway's, merged"
                       if run.goal is not None else "")
        out.append(f"FLOOR (client driver -> relay -> echo, same hosts, same measurement code{alternation})")
        out += point_lines(floor, None)
        void = not floor.valid
    for point in run.gateway:
        out.append(f"GATEWAY {point.label}")
        out += point_lines(point, floor)
        void = void or not point.valid
    if run.goal is not None:
        for label, points in run.rounds.items():
            out.append(f"  rounds         {label} p50 per round (us): " + _p50s(points))
        out.append(f"  goal           {run.goal.describe()}")
    if run.ab is None and run.interleaving is not None and run.interleaving.reruns:
        out.append(f"  reruns         {run.interleaving.describe_reruns()}")
    if run.stall_check is not None and run.stall is not None:
        target = "gateway" if run.gateway else "relay"
        out.append(f"SELF-TEST (SIGSTOP the {target} mid-run)")
        out.append(f"  {run.stall_check.describe()}; {target} actually stopped {run.stall.observed_ns / 1e6:.1f} ms")
        void = void or not run.stall_check.detected
    if run.sweep:
        out.append("RATE SWEEP")
        for point in run.sweep:
            out.append(render_text(point, floor))
            out += rate_lines(point)
    if run.knee is not None:
        knee = run.knee
        rate = f"{knee.rate:.0f}/s" if knee.rate is not None else "below the lowest rate"
        out.append(f"  knee           {rate} (limited by {knee.limited_by}: {knee.detail})")
    if run.ab is not None:
        out += ab_lines(run)
        void = void or run.ab.verdict == "void"
    for budget in run.budgets:
        out.append(f"  budget         {budget.label}: {budget.describe()}")
    if run.scale is not None:
        extra = run.scale.extra
        out.append(f"SCALE {extra.get('sessions')} sessions over {run.scale.drivers} drivers, "
                   f"{extra.get('instruments')} instruments, one gateway (logon of all sessions: "
                   f"{extra.get('logon_seconds')}s)")
        out += point_lines(run.scale, floor)
        void = void or not run.scale.valid
    if run.upgrade is not None:
        from compat.bench.upgrade import describe

        out.append(f"UPGRADE {run.upgrade.label} (live gateway swap; clients through the stack's fault proxy, "
                   "so the proxy hop is in every figure)")
        out += point_lines(run.upgrade, floor)
        if run.blip is not None:
            out += describe(run.blip)
        void = void or not run.upgrade.valid
    if run.audit:
        out.append("  audit          " + _audit(run.audit))
    for label, audit in run.audits.items():
        out.append(f"  audit          {label}: {_audit(audit)}")
    for note in run.notes:
        out.append(f"  note           {note}")
    return out, void


def ab_lines(run: BenchRun) -> list[str]:
    """The A/B (or calibration) section: rounds, every measure, the verdict and its MDE."""
    ab = run.ab
    assert ab is not None
    out: list[str] = []
    calibration = run.calibration
    if calibration is not None:
        out.append(f"CALIBRATION {ab.label_a} against itself with +{calibration.injected_us:g} us per order on "
                   f"the client -> gateway link (B: a busy wait in its fault proxy; both sides through a proxy), "
                   f"{calibration.rounds} rounds of {calibration.duration_s:g}s")
    else:
        out.append(f"A/B {ab.label_a} against {ab.label_b}: {len(next(iter(run.ab_rounds.values()), []))} "
                   f"interleaved rounds of {run.settings.duration_s:g}s (A, B, B, A ...)")
    for point in run.ab_points.values():
        out += point_lines(point, run.floor)
    for label, points in run.ab_rounds.items():
        out.append(f"  rounds         {label} p50 per round (us): " + _p50s(points))
        cpu = [p.extra.get("cpu_us_per_order", {}).get("gateway") for p in points]
        if all(v is not None for v in cpu):
            out.append(f"  {'':<15}{label} gateway CPU per order per round (us): "
                       + " ".join(f"{v:.0f}" for v in cpu if v is not None))
    if run.interleaving is not None:
        out.append(f"  reruns         {run.interleaving.describe_reruns()}")
    out.append("  measures       B against A, paired rounds (Hodges-Lehmann ratio, signed-rank interval):")
    out += [f"    {c.describe()}" for c in ab.comparisons]
    if calibration is not None:
        out.append("  known effects  (what the injection must move, found again)")
        out += [f"    {k.describe()}" for k in calibration.known]
        out.append("  sensitivity    (this machine, this gateway, these rounds and duration; MDE at 80% power)")
        out += [f"    {s.describe()}" for s in calibration.sensitivity]
        state = "valid" if calibration.valid else "NOT VALID: an injected effect twice its MDE or more went unseen"
        out.append(f"  calibration    {state}")
    else:
        out.append(f"  verdict        {ab.headline()}")
    return out


def point_lines(point: LoadPoint, floor: LoadPoint | None) -> list[str]:
    out = [render_text(point, floor, metric) for metric in point.histograms]
    out += rate_lines(point)
    pad = " " * (len(point.label) + 2)
    for key, title, digits in (("cpu_us_per_order", "CPU per order (us)", 0),
                               ("switches_per_order", "voluntary context switches per order", 2),
                               ("faults_per_order", "minor page faults per order", 3)):
        values: dict[str, Any] = point.extra.get(key) or {}
        if values:
            out.append(f"  {pad}{title}: " + ", ".join(f"{role} {value:.{digits}f}" for role, value in values.items()))
    count = point.percentiles().count
    if count < MIN_SAMPLES_FOR_P999:
        out.append(f"  {pad}note: {count} samples; p99.9 rests on {count // 1000} sample(s) above it "
                   f"(ask for >= {MIN_SAMPLES_FOR_P999} with --rate x --duration)")
    return out


def rate_lines(point: LoadPoint) -> list[str]:
    counts = point.counts
    state = "valid" if point.valid else "INVALID: " + "; ".join(point.invalid_reasons)
    tasks = ""
    if point.bookkeeping_ns_mean and point.overhead_ns_mean - point.bookkeeping_ns_mean > 1:
        tasks = f" = {point.bookkeeping_ns_mean:.0f} bookkeeping + one asyncio task per order"
    return [
        f"  {point.label}: achieved {point.achieved_rate:.1f}/s of target {point.target_rate:.1f}/s "
        f"({point.achieved_rate / point.target_rate:.2%}); sent {counts.get('sent', 0)} acked "
        f"{counts.get('acked', 0)} rejected {counts.get('rejected', 0)} lost {counts.get('lost', 0)} "
        f"gaps {counts.get('gaps', 0)} dup {counts.get('duplicates', 0)}",
        f"  {'':<{len(point.label)}}  harness overhead {point.overhead_ns_mean:.0f} ns/msg mean{tasks} "
        f"(+{point.record_ns_per_sample:.0f} ns/sample batch recording after the run); "
        f"loop {point.event_loop}; {state}",
    ]


def _p50s(points: list[LoadPoint]) -> str:
    return " ".join(f"{p.percentiles().p50 / 1000:.0f}" for p in points)


def _audit(audit: dict[str, Any]) -> str:
    if not audit.get("checked"):
        return f"not checked: {audit.get('reason')}"
    state = "match" if audit.get("match") else "MISMATCH"
    return f"harness acked {audit['acked_by_harness']}, exchange audit accepted {audit['accepted_in_audit']}: {state}"
