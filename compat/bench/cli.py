"""``compat bench``: the floor, the self-test, the gateway, sweeps, A/B and history.

    compat bench                               floor, then the candidate gateway (matrix.yaml)
    compat bench --sweep 1000,2000,4000 --slo-ms 5     ... plus a rate sweep and its knee
    compat bench --compare gateway=2.0.0,HEAD  A/B, interleaved rounds, bootstrap CI
    compat bench --upgrade 3.0.0,HEAD          live-upgrade blip: load through a gateway swap
    compat bench --soak 1h                     open-loop load for an hour: growth, loss, latency drift
    compat bench --floor-only                  floor + instrument self-test only (no matrix)
    compat bench --floor-only --quick          the CI smoke: validity only, a few seconds
    compat bench history --store .compat/bench  change points over stored runs

Exit codes: 0 a valid result; 1 an error; 3 the result is void (rate short, loss, or the
self-test did not see its stall).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compat import timing
from compat.errors import ConfigError

DEFAULT_STORE = Path(".compat/bench")
EXIT_VOID = 3
MIN_SAMPLES_FOR_P999 = 10_000  # ten samples above p99.9


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("bench", help="latency benchmark: floor, gateway, sweeps, history",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floor-only", action="store_true", help="measure the floor (relay) only")
    parser.add_argument("--rate", type=float, default=1000.0, help="total orders/s (default 1000)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="measured seconds per load point (default 10: 10,000 samples at 1000/s)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds, excluded")
    parser.add_argument("--drivers", type=int, default=1, help="driver processes sharing the rate")
    parser.add_argument("--connections", type=int, default=1, help="sessions per driver")
    parser.add_argument("--stall-ms", type=float, default=200.0, help="self-test stall (0: skip)")
    parser.add_argument("--sweep", type=_rates, default=(), help="rates to step through, e.g. 1000,2000,4000")
    parser.add_argument("--slo-ms", type=float, default=5.0, help="p99 SLO for the sweep knee (ms)")
    parser.add_argument("--spin-us", type=float, default=None, help="spin window before each send (us)")
    parser.add_argument("--host", action="append", default=[], metavar="[ROLE=]SPEC",
                        help="where to run: SPEC (local, netns:NAME, ssh:user@host[:port]) for every role, or "
                        "ROLE=SPEC (exchange, gateway, client; repeatable) over matrix.yaml's hosts; the floor "
                        "runs on the gateway's host")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="results store directory")
    parser.add_argument("--no-plots", action="store_true", help="skip the matplotlib PNGs")
    parser.add_argument("--matrix", type=Path, default=Path("matrix.yaml"), help="matrix file (gateway mode)")
    parser.add_argument("--cache-dir", type=Path, default=Path(".compat"), help="envs and candidate builds")
    parser.add_argument("--gateway", default=None, help="gateway version (default: the candidate)")
    parser.add_argument("--client", default=None, help="client version (default: the candidate)")
    parser.add_argument("--venue", default=None, help="venue (default: the first in matrix.yaml)")
    parser.add_argument("--compare", default=None, metavar="gateway=A,B",
                        help="A/B two gateway versions (HEAD = the candidate)")
    parser.add_argument("--upgrade", default=None, metavar="FROM,TO",
                        help="live-upgrade blip: swap the gateway FROM -> TO mid-run (HEAD = the candidate); "
                             "latency before/during/after, reconnect gap, timeline plot")
    parser.add_argument("--soak", default=None, metavar="DURATION",
                        help="soak the stack for DURATION (1h, 90m, 2m30s, 120): load in windows, RSS/open "
                             "files/threads of every process sampled; void on growth, loss or latency drift")
    parser.add_argument("--soak-window", type=float, default=10.0, metavar="SECONDS",
                        help="soak: seconds per latency window (default 10)")
    parser.add_argument("--rounds", type=int, default=6,
                        help="rounds per side: A/B, and the floor/gateway alternation of the headline point "
                             "(--duration is split over them; rounds of at least 1 s)")
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized: 2 s per point, 0.5 s warm-up (validity only; p99.9 is thin)")
    parser.add_argument("--scale", action="store_true",
                        help="also the scale point: 200 sessions over 4 drivers, 16,000 instruments")
    parser.set_defaults(func=_run)
    sub = parser.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    history = sub.add_parser("history", help="change points over stored runs (ruptures)")
    history.add_argument("--store", type=Path, default=DEFAULT_STORE)
    history.add_argument("--label", default="gateway",
                         help="load point label to follow: gateway (the headline point, any version), "
                              "floor, or an exact label")
    history.add_argument("--metric", default="p50", help="percentile key: p50, p90, p99, p999, max")
    history.add_argument("--min-size", type=int, default=3, help="minimum segment length")
    history.set_defaults(func=_history)


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sweep wants comma-separated rates, got {text!r}") from exc
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError(f"--sweep wants positive rates, got {text!r}")
    return tuple(sorted(rates))


def _run(args: argparse.Namespace) -> int:
    from compat.bench.outputs import write_outputs
    from compat.bench.run import BenchSession, BenchSettings

    if args.drivers < 1 or args.connections < 1:
        raise ConfigError("--drivers and --connections must be at least 1")
    if args.rounds < 1:
        raise ConfigError(f"--rounds must be at least 1, got {args.rounds}")
    versions = _compare_versions(args.compare) if args.compare else None
    if versions is not None and args.floor_only:
        raise ConfigError("--compare and --floor-only exclude each other")
    if versions is not None and args.rounds < 2:
        raise ConfigError(f"--compare needs at least 2 --rounds for a confidence interval, got {args.rounds}")
    swap = _upgrade_versions(args.upgrade) if args.upgrade else None
    if swap is not None and (args.floor_only or versions is not None):
        raise ConfigError("--upgrade excludes --floor-only and --compare")
    if args.soak is not None:
        if args.floor_only or versions is not None or swap is not None:
            raise ConfigError("--soak excludes --floor-only, --compare and --upgrade")
        return _soak(args)
    if args.quick:
        args.duration, args.warmup = 2.0, 0.5
    host_specs = _host_specs(args.host)
    settings = BenchSettings(rate=args.rate, duration_s=args.duration, warmup_s=args.warmup,
                             drivers=args.drivers, connections=args.connections, stall_ms=args.stall_ms,
                             sweep=args.sweep, slo_p99_ms=args.slo_ms, spin_us=args.spin_us,
                             host=host_specs.get("gateway", "local"),
                             scale=args.scale, rounds=args.rounds)
    started = timing.monotonic()
    out_dir = args.store / _run_dir_name()
    session = BenchSession(settings, out_dir / "logs", progress=_progress)
    if args.floor_only:
        run = session.floor_only()
    else:
        from compat.bench.target import resolve_target

        target = resolve_target(args.matrix, args.cache_dir, out_dir / "logs", gateway=args.gateway,
                                client=args.client, venue=args.venue, progress=_progress, host_specs=host_specs)
        try:
            if swap is not None:
                run = session.upgrade(target, swap)
            elif versions is not None:
                run = session.compare_gateways(target, versions, args.rounds)
            else:
                run = session.gateway(target)
        finally:
            for host in {id(h): h for h in target.hosts.values()}.values():
                host.close()  # namespaces and remote run dirs go; local: nothing
    print()
    void = _print_run(run)
    written = write_outputs(out_dir, run.as_dict(), run.points(), run.floor, timing.wall_ns(), run.run_id)
    if not args.no_plots:
        written += _plots(out_dir, run)
    print(f"  outputs        {out_dir}/ ({len(written)} files: bench.json, .hgrm, CSV, Influx, OpenMetrics"
          f"{', PNG' if not args.no_plots else ''})")
    print(f"  wall time      {timing.monotonic() - started:.1f}s")
    print("  RESULT         " + ("VOID (see reasons above)" if void else "valid"))
    return EXIT_VOID if void else 0


def _soak(args: argparse.Namespace) -> int:
    from compat.bench.outputs import write_outputs
    from compat.bench.soak import SoakSettings, describe, parse_duration, run_soak, write_series
    from compat.bench.target import resolve_target

    settings = SoakSettings(duration_s=parse_duration(args.soak), rate=args.rate, window_s=args.soak_window,
                            drivers=args.drivers, connections=args.connections, spin_us=args.spin_us)
    started = timing.monotonic()
    run_id = _run_dir_name()
    out_dir = args.store / run_id
    host_specs = _host_specs(args.host)
    target = resolve_target(args.matrix, args.cache_dir, out_dir / "logs", gateway=args.gateway,
                            client=args.client, venue=args.venue, progress=_progress, host_specs=host_specs)
    try:
        result = run_soak(target, settings, out_dir / "logs", run_id, progress=_progress)
    finally:
        for host in {id(h): h for h in target.hosts.values()}.values():
            host.close()
    print()
    for line in describe(result):
        print(line)
    combined = result.combined()
    written = write_outputs(out_dir, result.as_dict(), [combined] if combined else [], None,
                            timing.wall_ns(), run_id)
    written.append(write_series(out_dir / "soak.csv", result))
    if not args.no_plots:
        from compat.bench.plots import plot_soak, plot_spectrum

        written.append(plot_soak(result, out_dir / "soak.png"))
        if combined is not None:
            written.append(plot_spectrum([combined], out_dir / "spectrum.png"))
    print(f"  outputs        {out_dir}/ ({len(written)} files: bench.json, soak.csv, .hgrm, CSV, Influx, "
          f"OpenMetrics{', PNG' if not args.no_plots else ''})")
    print(f"  wall time      {timing.monotonic() - started:.1f}s")
    print("  RESULT         " + ("valid" if result.valid else "VOID (see reasons above)"))
    return 0 if result.valid else EXIT_VOID


def _host_specs(values: list[str]) -> dict[str, str]:
    """``--host SPEC`` places every role; ``--host ROLE=SPEC`` one role (the later wins)."""
    from compat.bench.target import ROLES
    from compat.run.plan import parse_assignments

    specs: dict[str, str] = {}
    for value in values:
        if "=" in value:
            specs.update(parse_assignments([value], "--host"))
        else:
            specs.update(dict.fromkeys(ROLES, value))
    return specs


def _compare_versions(text: str) -> tuple[str, str]:
    role, _, rest = text.partition("=")
    versions = [v.strip() for v in rest.split(",") if v.strip()]
    if role != "gateway" or len(versions) != 2:
        raise ConfigError(f"--compare expects gateway=A,B (e.g. gateway=2.0.0,HEAD), got {text!r}")
    return versions[0], versions[1]


def _upgrade_versions(text: str) -> tuple[str, str]:
    versions = [v.strip() for v in text.split(",") if v.strip()]
    if len(versions) != 2:
        raise ConfigError(f"--upgrade expects FROM,TO (e.g. 3.0.0,HEAD), got {text!r}")
    return versions[0], versions[1]


def _print_run(run: Any) -> bool:
    """Print the report; True when the run is void."""
    from compat.bench.outputs import render_text

    settings = run.settings
    floor = run.floor
    assert floor is not None
    print(f"compat bench run {run.run_id} on {settings.host}: {settings.drivers} driver(s) x "
          f"{settings.connections} session(s), warm-up {settings.warmup_s:.1f}s excluded, "
          f"latency from INTENDED send time (coordinated-omission corrected)")
    alternation = (f"; {run.goal.rounds} round(s) alternating with the gateway's, merged"
                   if run.goal is not None else "")
    print(f"FLOOR (client driver -> relay -> echo, same hosts, same measurement code{alternation})")
    _print_point(floor, None)
    void = not floor.valid
    for point in run.gateway:
        print(f"GATEWAY {point.label}")
        _print_point(point, floor)
        void = void or not point.valid
    if run.goal is not None:
        for label, points in run.rounds.items():
            print(f"  rounds         {label} p50 per round (us): " +
                  " ".join(f"{p.percentiles().p50 / 1000:.0f}" for p in points))
        print(f"  goal           {run.goal.describe()}")
    if run.stall_check is not None:
        target = "gateway" if run.gateway else "relay"
        print(f"SELF-TEST (SIGSTOP the {target} mid-run)")
        stopped = run.stall.observed_ns / 1e6
        print(f"  {run.stall_check.describe()}; {target} actually stopped {stopped:.1f} ms")
        void = void or not run.stall_check.detected
    if run.sweep:
        print("RATE SWEEP")
        for point in run.sweep:
            print(render_text(point, floor))
            _print_rates(point)
    if run.knee is not None:
        knee = run.knee
        rate = f"{knee.rate:.0f}/s" if knee.rate is not None else "below the lowest rate"
        print(f"  knee           {rate} (limited by {knee.limited_by}: {knee.detail})")
    for label, points in run.ab_rounds.items():
        print(f"A/B {label}: p50 per round (us): " +
              " ".join(f"{p.percentiles().p50 / 1000:.0f}" for p in points))
        void = void or any(not p.valid for p in points)
    for comparison in run.comparisons:
        print(f"  compare        {comparison.describe()}")
    if run.scale is not None:
        extra = run.scale.extra
        print(f"SCALE {extra.get('sessions')} sessions over {run.scale.drivers} drivers, "
              f"{extra.get('instruments')} instruments, one gateway (logon of all sessions: "
              f"{extra.get('logon_seconds')}s)")
        _print_point(run.scale, floor)
        void = void or not run.scale.valid
    if run.upgrade is not None:
        from compat.bench.upgrade import describe

        print(f"UPGRADE {run.upgrade.label} (live gateway swap; clients through the stack's fault proxy, "
              "so the proxy hop is in every figure)")
        _print_point(run.upgrade, floor)
        if run.blip is not None:
            for line in describe(run.blip):
                print(line)
        void = void or not run.upgrade.valid
    if run.audit:
        audit = run.audit
        if audit.get("checked"):
            state = "match" if audit.get("match") else "MISMATCH"
            print(f"  audit          harness acked {audit['acked_by_harness']}, exchange audit accepted "
                  f"{audit['accepted_in_audit']}: {state}")
        else:
            print(f"  audit          not checked: {audit.get('reason')}")
    for note in run.notes:
        print(f"  note           {note}")
    return void


def _print_point(point: Any, floor: Any) -> None:
    from compat.bench.outputs import render_text

    for metric in point.histograms:
        print(render_text(point, floor, metric))
    _print_rates(point)
    cpu = point.extra.get("cpu_us_per_order") or {}
    if cpu:
        print(f"  {'':<{len(point.label)}}  CPU per order (us): " +
              ", ".join(f"{role} {value:.0f}" for role, value in cpu.items()))
    count = point.percentiles().count
    if count < MIN_SAMPLES_FOR_P999:
        print(f"  {'':<{len(point.label)}}  note: {count} samples; p99.9 rests on {count // 1000} sample(s) "
              f"above it (ask for >= {MIN_SAMPLES_FOR_P999} with --rate x --duration)")


def _print_rates(point: Any) -> None:
    counts = point.counts
    state = "valid" if point.valid else "INVALID: " + "; ".join(point.invalid_reasons)
    print(f"  {point.label}: achieved {point.achieved_rate:.1f}/s of target {point.target_rate:.1f}/s "
          f"({point.achieved_rate / point.target_rate:.2%}); sent {counts.get('sent', 0)} acked "
          f"{counts.get('acked', 0)} rejected {counts.get('rejected', 0)} lost {counts.get('lost', 0)} "
          f"gaps {counts.get('gaps', 0)} dup {counts.get('duplicates', 0)}")
    tasks = ""
    if point.bookkeeping_ns_mean and point.overhead_ns_mean - point.bookkeeping_ns_mean > 1:
        tasks = f" = {point.bookkeeping_ns_mean:.0f} bookkeeping + one asyncio task per order"
    print(f"  {'':<{len(point.label)}}  harness overhead {point.overhead_ns_mean:.0f} ns/msg mean{tasks} "
          f"(+{point.record_ns_per_sample:.0f} ns/sample batch recording after the run); "
          f"loop {point.event_loop}; {state}")


def _plots(out_dir: Path, run: Any) -> list[Path]:
    try:
        from compat.bench.plots import write_plots
    except ImportError as exc:
        print(f"  plots          skipped: {exc} (pip install matplotlib)")
        return []
    written: list[Path] = write_plots(out_dir, run)
    return written


def _history(args: argparse.Namespace) -> int:
    from compat.bench.history import describe_history, load_series

    series = load_series(args.store, args.label, args.metric)
    if not series:
        print(f"compat bench history: no stored runs with label {args.label!r} under {args.store}")
        return 0
    print(describe_history(series, args.metric, min_size=args.min_size))
    return 0


_CONSOLE: Any = None


def _progress(message: str) -> None:
    """A live progress line on stderr (rich when available; plain text when not a terminal)."""
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(stderr=True, highlight=False, soft_wrap=True)
    from rich.markup import escape

    _CONSOLE.print(f"[dim]{timing.utc_timestamp()}[/dim] [bold cyan]bench[/bold cyan] {escape(message)}")


def _run_dir_name() -> str:
    return timing.utc_timestamp().replace(":", "").replace("-", "")
