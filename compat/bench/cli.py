"""``compat bench``: the floor, the self-test, the gateway, sweeps, A/B, calibration, the gate, history.

    compat bench                               floor, then the candidate gateway (matrix.yaml)
    compat bench --sweep 1000,2000,4000 --slo-ms 5     ... plus a rate sweep and its knee
    compat bench --compare gateway=3.0.0,HEAD  A/B: interleaved rounds, every measure with its interval
    compat bench --compare gateway=3.0.0,HEAD --gate   ... exit 4 on a regression beyond matrix.yaml's
                                               bench.gate thresholds (3 when void), for CI
    compat bench --calibrate [US]              the gateway against itself + US us per order (default
                                               50): minimum detectable effects, rounds an effect needs
    compat bench --upgrade 3.0.0,HEAD          live-upgrade blip: load through a gateway swap
    compat bench --soak 1h                     open-loop load for an hour: growth, loss, latency drift
    compat bench --floor-only                  floor + instrument self-test only (no matrix)
    compat bench --floor-only --quick          the CI smoke: validity only, a few seconds
    compat bench history --store .compat/bench  change points over stored runs (--gates: gate verdicts)

Exit codes: 0 a valid result; 1 an error; 3 the result is void (rate short after the reruns,
loss, an audit mismatch, the self-test did not see its stall, a calibration blind to an
effect above its MDE); 4 --gate found a regression.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from compat import timing
from compat.errors import ConfigError

DEFAULT_STORE = Path(".compat/bench")
EXIT_VOID = 3
DEFAULT_CALIBRATION_US = 50.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("bench", help="latency benchmark: floor, gateway, A/B, calibration, gate, history",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    load = parser.add_argument_group("load")
    load.add_argument("--rate", type=float, default=1000.0, help="total orders/s (default 1000)")
    load.add_argument("--duration", type=float, default=10.0,
                      help="measured seconds per load point (default 10: 10,000 samples at 1000/s); "
                           "per round with --compare and --calibrate")
    load.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds, excluded")
    load.add_argument("--drivers", type=int, default=1, help="driver processes sharing the rate")
    load.add_argument("--connections", type=int, default=1, help="sessions per driver")
    load.add_argument("--spin-us", type=float, default=None, help="spin window before each send (us)")
    load.add_argument("--rounds", type=int, default=6,
                      help="rounds per side: A/B and calibration (at least 6), and the floor/gateway alternation "
                           "of the headline point (--duration is split over them; rounds of at least 1 s)")
    load.add_argument("--max-reruns", type=int, default=None,
                      help="rounds rerun when the achieved rate fell short before the run is void "
                           "(default max(2, rounds/2)); loss is never rerun")
    load.add_argument("--quick", action="store_true",
                      help="CI-sized: 2 s per point, 0.5 s warm-up (validity only; p99.9 is thin)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--floor-only", action="store_true", help="measure the floor (relay) only")
    mode.add_argument("--compare", default=None, metavar="gateway=A,B",
                      help="A/B two gateway versions (HEAD = the candidate)")
    mode.add_argument("--calibrate", nargs="?", type=float, const=DEFAULT_CALIBRATION_US, default=None, metavar="US",
                      help="the gateway against itself, B with US microseconds more per order (busy wait in the "
                           f"fault proxy; default {DEFAULT_CALIBRATION_US:g}): minimum detectable effects")
    mode.add_argument("--upgrade", default=None, metavar="FROM,TO",
                      help="live-upgrade blip: swap the gateway FROM -> TO mid-run (HEAD = the candidate); "
                           "latency before/during/after, reconnect gap, timeline plot")
    mode.add_argument("--soak", default=None, metavar="DURATION",
                      help="soak the stack for DURATION (1h, 90m, 2m30s, 120): load in windows, RSS/open "
                           "files/threads of every process sampled; void on growth, loss or latency drift")
    load.add_argument("--soak-window", type=float, default=10.0, metavar="SECONDS",
                      help="soak: seconds per latency window (default 10)")
    parser.add_argument("--gate", action="store_true",
                        help="with --compare: exit 4 on a regression beyond matrix.yaml's bench.gate thresholds")
    parser.add_argument("--report", type=Path, default=None, metavar="REPORT_JSON",
                        help="with --gate: also write the verdict into this matrix report's bench section")
    parser.add_argument("--stall-ms", type=float, default=200.0, help="self-test stall (0: skip)")
    parser.add_argument("--sweep", type=_rates, default=(), help="rates to step through, e.g. 1000,2000,4000")
    parser.add_argument("--slo-ms", type=float, default=5.0, help="p99 SLO for the sweep knee (ms)")
    parser.add_argument("--scale", action="store_true",
                        help="also the scale point: 200 sessions over 4 drivers, 16,000 instruments")
    where = parser.add_argument_group("what and where")
    where.add_argument("--matrix", type=Path, default=Path("matrix.yaml"), help="matrix file (gateway modes)")
    where.add_argument("--cache-dir", type=Path, default=Path(".compat"), help="envs and candidate builds")
    where.add_argument("--gateway", default=None, help="gateway version (default: the candidate)")
    where.add_argument("--client", default=None, help="client version (default: the candidate)")
    where.add_argument("--venue", default=None, help="venue (default: the first in matrix.yaml)")
    where.add_argument("--candidate", action="append", default=[], metavar="ROLE=WHEEL",
                       help="use this wheel as ROLE's candidate (HEAD) instead of building the source tree "
                            "(as pytest's --compat-candidate)")
    where.add_argument("--host", action="append", default=[], metavar="[ROLE=]SPEC",
                       help="where to run: SPEC (local, netns:NAME, ssh:user@host[:port]) for every role, or "
                       "ROLE=SPEC (exchange, gateway, client; repeatable) over matrix.yaml's hosts; the floor "
                       "runs on the gateway's host")
    where.add_argument("--store", type=Path, default=DEFAULT_STORE, help="results store directory")
    where.add_argument("--no-plots", action="store_true", help="skip the matplotlib PNGs")
    parser.set_defaults(func=_run)
    sub = parser.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    history = sub.add_parser("history", help="change points over stored runs (ruptures)")
    history.add_argument("--store", type=Path, default=DEFAULT_STORE)
    history.add_argument("--label", default="gateway",
                         help="load point label to follow: gateway (the headline point, any version), "
                              "floor, or an exact label")
    history.add_argument("--metric", default="p50",
                         help="percentile key (p50, p90, p99, p999, max); with --gates a measure (p50, cpu.gateway...)")
    history.add_argument("--gates", action="store_true",
                         help="the stored --gate verdicts, and change points of one measure's B/A ratio over them")
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
    from compat.bench.run import BenchSession, BenchSettings

    versions = _check(args)
    if args.soak is not None:
        return _soak(args)
    if args.quick:
        args.duration, args.warmup = 2.0, 0.5
    host_specs = _host_specs(args.host)
    settings = BenchSettings(rate=args.rate, duration_s=args.duration, warmup_s=args.warmup,
                             drivers=args.drivers, connections=args.connections, stall_ms=args.stall_ms,
                             sweep=args.sweep, slo_p99_ms=args.slo_ms, spin_us=args.spin_us,
                             host=host_specs.get("gateway", "local"), scale=args.scale, rounds=args.rounds,
                             max_reruns=args.max_reruns)
    started = timing.monotonic()
    out_dir = args.store / _run_dir_name()
    if args.floor_only:
        run = BenchSession(settings, out_dir / "logs", progress=_progress).floor_only()
    else:
        from compat.bench.target import resolve_target

        target = resolve_target(args.matrix, args.cache_dir, out_dir / "logs", gateway=args.gateway,
                                client=args.client, venue=args.venue, progress=_progress, host_specs=host_specs,
                                candidates=_candidates(args.candidate))
        settings = dataclasses.replace(settings, thresholds=tuple(target.matrix.bench.gate.items()))
        session = BenchSession(settings, out_dir / "logs", progress=_progress)
        try:
            if args.upgrade:
                run = session.upgrade(target, _pair(args.upgrade, "--upgrade", "FROM,TO (e.g. 3.0.0,HEAD)"))
            elif versions is not None:
                run = session.compare_gateways(target, versions)
            elif args.calibrate is not None:
                run = session.calibrate(target, args.calibrate)
            else:
                run = session.gateway(target)
        finally:
            for host in {id(h): h for h in target.hosts.values()}.values():
                host.close()  # namespaces and remote run dirs go; local: nothing
        if args.gate:
            run.gate = _gate(args, run, target)
    return _finish(args, run, out_dir, started)


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


def _check(args: argparse.Namespace) -> tuple[str, str] | None:
    """Refuse contradictory options before anything starts; the --compare pair if given."""
    from compat.bench.paired import MIN_ROUNDS

    if args.drivers < 1 or args.connections < 1:
        raise ConfigError("--drivers and --connections must be at least 1")
    if args.rounds < 1:
        raise ConfigError(f"--rounds must be at least 1, got {args.rounds}")
    if args.max_reruns is not None and args.max_reruns < 0:
        raise ConfigError(f"--max-reruns must be 0 or more, got {args.max_reruns}")
    versions = None
    if args.compare:
        role, _, rest = args.compare.partition("=")
        if role != "gateway":
            raise ConfigError(f"--compare expects gateway=A,B (e.g. gateway=3.0.0,HEAD), got {args.compare!r}")
        versions = _pair(rest, "--compare", "gateway=A,B (e.g. gateway=3.0.0,HEAD)")
    if (versions is not None or args.calibrate is not None) and args.rounds < MIN_ROUNDS:
        raise ConfigError(f"--compare and --calibrate need at least {MIN_ROUNDS} --rounds (the fewest paired rounds "
                          f"whose signed-rank interval reaches 95%), got {args.rounds}")
    if args.calibrate is not None and args.calibrate <= 0:
        raise ConfigError(f"--calibrate wants a positive number of microseconds, got {args.calibrate:g}")
    if args.soak is not None and (args.gate or args.calibrate is not None):
        raise ConfigError("--soak excludes --gate and --calibrate")
    if args.gate and versions is None:
        raise ConfigError("--gate judges an A/B: give --compare gateway=RELEASED,HEAD")
    if args.report is not None and not args.gate:
        raise ConfigError("--report writes a --gate verdict into a matrix report; add --gate")
    return versions


def _pair(text: str, option: str, shape: str) -> tuple[str, str]:
    versions = [v.strip() for v in text.split(",") if v.strip()]
    if len(versions) != 2:
        raise ConfigError(f"{option} expects {shape}, got {text!r}")
    return versions[0], versions[1]


def _candidates(values: list[str]) -> dict[str, Path]:
    from compat.run.plan import parse_assignments

    chosen = {role: Path(path) for role, path in parse_assignments(values, "--candidate").items()}
    for role, path in chosen.items():
        if role not in ("gateway", "client"):
            raise ConfigError(f"--candidate {role}={path}: the roles are gateway and client")
        if not path.is_file():
            raise ConfigError(f"--candidate {role}={path}: no such wheel file")
    return chosen


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


def _gate(args: argparse.Namespace, run: Any, target: Any) -> dict[str, Any]:
    from compat.bench.gate import gate_record, write_into_report
    from compat.report.benchgate import markdown
    from compat.report.markdown import write_step_summary

    assert run.ab is not None
    spec = target.matrix.bench
    record = gate_record(run.ab, run_id=run.run_id, timestamp=timing.utc_timestamp(), thresholds=dict(spec.gate),
                         declared=spec.declared, client=target.cell.client.version, venue=target.cell.venue,
                         rounds=run.settings.rounds, duration_s=run.settings.duration_s, rate=run.settings.rate,
                         reruns=[r.as_dict() for r in run.interleaving.reruns] if run.interleaving else [])
    if args.report is not None:
        write_into_report(args.report, record)
    write_step_summary(markdown(record))
    return record


def _finish(args: argparse.Namespace, run: Any, out_dir: Path, started: float) -> int:
    from compat.bench.console import report_lines
    from compat.bench.outputs import write_outputs

    print()
    lines, void = report_lines(run)
    print("\n".join(lines))
    written = write_outputs(out_dir, run.as_dict(), run.points(), run.floor, timing.wall_ns(), run.run_id)
    if not args.no_plots:
        written += _plots(out_dir, run)
    print(f"  outputs        {out_dir}/ ({len(written)} files: bench.json, .hgrm, CSV, Influx, OpenMetrics"
          f"{', PNG' if not args.no_plots else ''})")
    if args.report is not None:
        print(f"  report         gate verdict written into {args.report} (bench.gate)")
    print(f"  wall time      {timing.monotonic() - started:.1f}s")
    if run.calibration is not None and not run.calibration.valid:
        void = True
    if run.gate is not None:
        from compat.bench.gate import EXIT_REGRESSION

        code = int(run.gate["exit"])
        print("  GATE           " + ("passed" if code == 0 else "FAILED: regression" if code == EXIT_REGRESSION
                                     else "FAILED: the comparison is void or undecided") + f" (exit {code})")
        return code
    print("  RESULT         " + ("VOID (see reasons above)" if void else "valid"))
    return EXIT_VOID if void else 0


def _plots(out_dir: Path, run: Any) -> list[Path]:
    try:
        from compat.bench.plots import write_plots
    except ImportError as exc:
        print(f"  plots          skipped: {exc} (pip install matplotlib)")
        return []
    written: list[Path] = write_plots(out_dir, run)
    return written


def _history(args: argparse.Namespace) -> int:
    from compat.bench.history import describe_gates, describe_history, load_gates, load_series

    if args.gates:
        print(describe_gates(load_gates(args.store), args.metric, min_size=args.min_size))
        return 0
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
