"""``compat bench``: the floor, the self-test, the gateway, sweeps, A/B and history.

    compat bench --floor-only                  floor + instrument self-test on this machine
    compat bench --floor-only --sweep 1000,2000,4000 --slo-ms 5
    compat bench history --store .compat/bench  change points over stored runs

Exit codes: 0 a valid result; 1 an error; 3 the result is void (rate short, loss, or the
self-test did not see its stall).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from compat import timing
from compat.errors import ConfigError

DEFAULT_STORE = Path(".compat/bench")
EXIT_VOID = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("bench", help="latency benchmark: floor, gateway, sweeps, history",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floor-only", action="store_true", help="measure the floor (relay) only")
    parser.add_argument("--rate", type=float, default=2000.0, help="total orders/s (default 2000)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per load point")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds, excluded")
    parser.add_argument("--drivers", type=int, default=1, help="driver processes sharing the rate")
    parser.add_argument("--connections", type=int, default=1, help="sessions per driver")
    parser.add_argument("--stall-ms", type=float, default=200.0, help="self-test stall (0: skip)")
    parser.add_argument("--sweep", type=_rates, default=(), help="rates to step through, e.g. 1000,2000,4000")
    parser.add_argument("--slo-ms", type=float, default=5.0, help="p99 SLO for the sweep knee (ms)")
    parser.add_argument("--spin-us", type=float, default=None, help="spin window before each send (us)")
    parser.add_argument("--host", default="local", help="host spec for every process (default local)")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="results store directory")
    parser.add_argument("--no-plots", action="store_true", help="skip the matplotlib PNGs")
    parser.set_defaults(func=_run)
    sub = parser.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    history = sub.add_parser("history", help="change points over stored runs (ruptures)")
    history.add_argument("--store", type=Path, default=DEFAULT_STORE)
    history.add_argument("--label", default="floor", help="load point label to follow")
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
    from compat.bench.outputs import render_text, write_outputs
    from compat.bench.run import BenchSession, BenchSettings

    if not args.floor_only:
        raise ConfigError(
            "compat bench: only --floor-only is available from the CLI so far; the gateway "
            "measurement runs under the plugin (pytest -m bench). See docs/bench.md."
        )
    if args.drivers < 1 or args.connections < 1:
        raise ConfigError("--drivers and --connections must be at least 1")
    settings = BenchSettings(rate=args.rate, duration_s=args.duration, warmup_s=args.warmup,
                             drivers=args.drivers, connections=args.connections, stall_ms=args.stall_ms,
                             sweep=args.sweep, slo_p99_ms=args.slo_ms, host=args.host, spin_us=args.spin_us)
    started = timing.monotonic()
    out_dir = args.store / _run_dir_name()
    session = BenchSession(settings, out_dir / "logs", progress=_progress)
    run = session.floor_only()
    floor = run.floor
    assert floor is not None
    print()
    print(f"compat bench run {run.run_id} on {settings.host}: {settings.drivers} driver(s) x "
          f"{settings.connections} session(s), warm-up {settings.warmup_s:.1f}s excluded")
    _print_point(floor, None)
    if run.self_test is not None and run.stall_check is not None:
        print(f"  self-test      {run.stall_check.describe()}")
        print(f"                 (relay actually stopped {run.stall.observed_ns / 1e6:.1f} ms)"
              if run.stall else "")
    for point in run.sweep:
        print(render_text(point, floor))
        _print_rates(point)
    if run.knee is not None:
        knee = run.knee
        rate = f"{knee.rate:.0f}/s" if knee.rate is not None else "below the lowest rate"
        print(f"  knee           {rate} (limited by {knee.limited_by}: {knee.detail})")
    written = write_outputs(out_dir, run.as_dict(), run.points(), floor, timing.wall_ns(), run.run_id)
    if not args.no_plots:
        written += _plots(out_dir, run)
    print(f"  outputs        {out_dir}/ ({len(written)} files: bench.json, .hgrm, CSV, Influx, OpenMetrics"
          f"{', PNG' if not args.no_plots else ''})")
    print(f"  wall time      {timing.monotonic() - started:.1f}s")
    void = not floor.valid or (run.stall_check is not None and not run.stall_check.detected) or \
        any(not p.valid for p in run.sweep[:-1])
    print("  RESULT         " + ("VOID (see reasons above)" if void else "valid"))
    return EXIT_VOID if void else 0


def _print_point(point: Any, floor: Any) -> None:
    from compat.bench.outputs import render_text

    for metric in point.histograms:
        print(render_text(point, floor, metric))
    _print_rates(point)


def _print_rates(point: Any) -> None:
    counts = point.counts
    state = "valid" if point.valid else "INVALID: " + "; ".join(point.invalid_reasons)
    print(f"  {point.label}: achieved {point.achieved_rate:.1f}/s of target {point.target_rate:.1f}/s "
          f"({point.achieved_rate / point.target_rate:.2%}); sent {counts.get('sent', 0)} acked "
          f"{counts.get('acked', 0)} rejected {counts.get('rejected', 0)} lost {counts.get('lost', 0)} "
          f"gaps {counts.get('gaps', 0)} dup {counts.get('duplicates', 0)}; harness overhead "
          f"{point.overhead_ns_mean:.0f} ns/msg mean (+{point.record_ns_per_sample:.0f} ns/sample "
          f"batch recording after the run); loop {point.event_loop}; {state}")


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


def _progress(message: str) -> None:
    print(f"[bench {timing.utc_timestamp()}] {message}", file=sys.stderr, flush=True)


def _run_dir_name() -> str:
    return timing.utc_timestamp().replace(":", "").replace("-", "")
