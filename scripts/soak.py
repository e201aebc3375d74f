"""Soak the harness (issue 8): Ctrl-C at every phase of a run, and ``-n 4`` over one shared env cache.

    python scripts/soak.py interrupt --runs 50
    python scripts/soak.py concurrency --runs 50 -n 4

interrupt
    Each run starts ``pytest -m compat`` on one cell in a process group of its own (as a shell
    starts a foreground job), waits for a phase, and sends SIGINT to that group as Ctrl-C does.
    Phases rotate: ``env-build`` (an env of the cell was deleted, so the run rebuilds it; SIGINT
    once its scratch directory, or the venv inside it, exists), ``process-start`` (once the
    exchange's or the gateway's log is created, i.e. it is being spawned), ``mid-scenario``
    (once the client driver has answered k requests). Afterwards: every process of the run must
    be gone (see soak_procs), every env marked complete must work and none may have been rebuilt,
    and the next, uninterrupted run must pass and rebuild nothing that was complete.
concurrency
    Each run is a small matrix slice under ``-n N`` (several cells at once on N workers), all
    runs sharing ONE env cache. Before each run one env used by several cells is deleted
    (``--churn``), so workers race to rebuild it. Per run: exit status 0, no bad verdicts,
    verdicts equal to a serial reference run, each result filed under its own cell, each
    gateway wired to its own cell's exchange, no "address already in use", no survivors, every
    complete env intact, no complete env rebuilt.

Both print a line per run and a summary, write ``summary.json`` and exit 1 on any finding.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from soak_envs import CacheAuditor, rebuilt, scan, scratch_dirs
from soak_procs import Survivor, become_subreaper, kill, reap_orphans
from soak_run import (
    PytestRun,
    RunPaths,
    Selection,
    collisions,
    count_lines,
    envs_built,
    report_problems,
    verdicts,
    wiring,
)

PHASES = ("env-build", "process-start", "mid-scenario")
QUICK_TESTS = (
    "tests/compat/test_session.py::test_logon",
    "tests/compat/test_orders.py::test_insert_ack",
    "tests/compat/test_orders.py::test_cancel",
    "tests/compat/test_market_data.py::test_snapshot_then_incrementals",
)
INTERRUPT_CELLS = (
    "client-2.0.0--gateway-2.1.0--venue-obx",
    "client-3.0.0--gateway-3.0.0--venue-tlx",
    "client-2.1.0--gateway-2.0.0--venue-obx",
)
CONCURRENCY_CELLS = (
    "client-2.0.0--gateway-2.1.0--venue-obx",
    "client-2.1.0--gateway-2.1.0--venue-obx",
    "client-3.0.0--gateway-2.1.0--venue-obx",
    "client-2.0.0--gateway-3.0.0--venue-obx",
    "client-2.1.0--gateway-3.0.0--venue-obx",
    "client-3.0.0--gateway-3.0.0--venue-obx",
    "client-3.0.0--gateway-3.0.0--venue-tlx",
    "client-2.1.0--gateway-2.1.0--venue-tlx",
)
BUILD_POINTS = (("client", "scratch"), ("gateway", "venv"), ("client", "venv"), ("gateway", "scratch"))
PROCESS_POINTS = ("exchange", "gateway")
SCENARIO_POINTS = (1, 5, 10)  # driver answers seen before Ctrl-C
SURVIVOR_SETTLE_S = 1.0  # a process still exiting this long after pytest returned is not counted
PRODUCTS = {"client": "refclient", "gateway": "refgw"}


@dataclass
class Soak:
    """State shared by the runs of one soak: where things go, what was found."""

    mode: str
    work: Path
    extra_args: tuple[str, ...]
    run_timeout_s: float
    exit_timeout_s: float
    phase_timeout_s: float
    findings: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0
    current: PytestRun | None = None
    stop_at: float | None = None  # monotonic; no new run starts after it

    @property
    def cache(self) -> Path:
        return self.work / "cache"

    def auditor(self) -> CacheAuditor:
        return CacheAuditor(self.cache / "envs")

    def paths(self, label: str) -> RunPaths:
        self.counter += 1
        run_id = f"soak-{self.mode}-{self.counter:03d}-{label}"
        return RunPaths(run_id, self.cache, self.work / "reports" / run_id, self.work / "logs" / f"{run_id}.log")

    def find(self, run: int | str, kind: str, details: list[str] | str) -> None:
        for detail in [details] if isinstance(details, str) else details:
            self.findings.append({"run": run, "kind": kind, "detail": detail})

    def launch(self, selection: Selection, label: str, extra: bool = True) -> PytestRun:
        run = PytestRun(selection, self.paths(label), self.extra_args if extra else ())
        self.current = run
        run.start()
        return run

    def finish(self, run: PytestRun, where: int | str, timeout_s: float) -> tuple[int, list[Survivor]]:
        """Wait for the exit (bounded), then find, report and kill every survivor of the run."""
        code = run.wait_exit(timeout_s)
        if code is None:
            self.find(where, "hung", f"{run.paths.run_id}: pytest still running {timeout_s:.0f}s later; "
                      f"killed its process group; log {run.paths.log_path}")
            code = run.kill_group()
        run.finish_tracking()
        survivors = _settled_survivors(run)
        if survivors:
            self.find(where, "survivor", [f"{run.paths.run_id}: {s.describe()}" for s in survivors])
            left = kill(survivors)
            if left:
                self.find(where, "survivor", f"{run.paths.run_id}: still alive after SIGKILL: {left}")
        reap_orphans()
        self.current = None
        return code, survivors

    def abort_current(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.kill_group()
        if self.current is not None:
            self.current.finish_tracking()
            kill(self.current.tracker.survivors())


def _settled_survivors(run: PytestRun) -> list[Survivor]:
    survivors = run.tracker.survivors()
    if not survivors:
        return []
    deadline = time.monotonic() + SURVIVOR_SETTLE_S
    while survivors and time.monotonic() < deadline:
        run.tracker.sample()
        procs = []
        for survivor in survivors:
            try:
                procs.append(psutil.Process(survivor.pid))
            except psutil.Error:
                continue
        psutil.wait_procs(procs, timeout=max(0.0, deadline - time.monotonic()))
        survivors = run.tracker.survivors()
    return survivors


def _env_names(report: dict[str, Any] | None, cells: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """cell id -> {"client": env dir, "gateway": env dir}, from a report's env list."""
    by_version = {(e["product"], e["version"]): Path(str(e["path"])).name for e in (report or {}).get("envs", ())}
    names: dict[str, dict[str, str]] = {}
    for cell in cells:
        parts = dict(part.split("-", 1) for part in cell.split("--"))
        names[cell] = {role: by_version.get((PRODUCTS[role], parts[role]), "") for role in PRODUCTS}
    return names


def _reference(soak: Soak, selection: Selection) -> tuple[dict[tuple[str, str], str], dict[str, Any] | None]:
    """An uninterrupted serial run of the whole selection: warms the cache, gives the verdicts."""
    run = soak.launch(selection, "reference", extra=False)
    code, _ = soak.finish(run, "reference", soak.run_timeout_s)
    report = run.paths.report()
    problems = report_problems(report, None)
    if code != 0 or problems:
        soak.find("reference", "run_failed", [f"exit {code}; log {run.paths.log_path}", *problems])
    corrupt = soak.auditor().corrupt(scan(soak.cache / "envs"))
    soak.find("reference", "corrupt_env", corrupt)
    ref = verdicts(report) if report else {}
    print(f"reference: exit {code}, {len(ref)} results ({dict(Counter(ref.values()))}), {run.elapsed():.1f}s",
          flush=True)
    return ref, report


# --- interrupt -------------------------------------------------------------------------------


def _phase_condition(run: PytestRun, phase: str, point: str, cell: str, env_name: str) -> Any:
    cell_dir = run.paths.run_dir / cell
    if phase == "env-build":
        envs = run.paths.envs_dir
        inner = "" if point == "scratch" else "venv/pyvenv.cfg"
        return lambda: any((p / inner).exists() if inner else True for p in envs.glob(f".tmp-{env_name}-*"))
    if phase == "process-start":
        # "started pid" is the harness's note right after the spawn: the process exists, and
        # it is not ready yet unless it printed its ready line within the same instant.
        return lambda: any(count_lines(p, b"] started pid ") for p in cell_dir.glob(f"{point}-*.log"))
    needed = int(point)
    return lambda: any(count_lines(p, b"channel << ") >= needed for p in cell_dir.glob("client-*.log"))


def _what_was_hit(run: PytestRun, phase: str, point: str, cell: str, env_name: str) -> dict[str, Any]:
    """The state at the moment of Ctrl-C, so the summary says what was really interrupted."""
    cell_dir = run.paths.run_dir / cell
    if phase == "env-build":
        return {"env_complete": (run.paths.envs_dir / env_name / "compat-env.json").is_file(),
                "scratch": scratch_dirs(run.paths.envs_dir)}
    if phase == "process-start":
        logs = sorted(cell_dir.glob(f"{point}-*.log"))
        ready = any(count_lines(p, b" READY ") for p in logs)
        return {"log": [p.name for p in logs], "ready_before_sigint": ready}
    return {"driver_answers": max((count_lines(p, b"channel << ") for p in cell_dir.glob("client-*.log")),
                                  default=0)}


def interrupt_mode(soak: Soak, args: argparse.Namespace) -> None:
    cells = tuple(args.cells or INTERRUPT_CELLS)
    phases = tuple(args.phases or PHASES)
    workers = tuple(int(w) for w in str(args.workers).split(","))
    auditor = soak.auditor()
    ref, report = _reference(soak, Selection(cells, QUICK_TESTS))
    env_names = _env_names(report, cells)
    for index in range(args.runs):
        if _out_of_time(soak, index, args.runs):
            break
        number = index + 1
        phase = phases[index % len(phases)]
        turn = index // len(phases)
        cell = cells[turn % len(cells)]
        selection = Selection((cell,), QUICK_TESTS, workers[turn % len(workers)])
        envs_dir = soak.cache / "envs"
        deleted: set[str] = set()
        env_name = ""
        if phase == "env-build":
            role, point = BUILD_POINTS[turn % len(BUILD_POINTS)]
            env_name = env_names[cell][role]
            shutil.rmtree(envs_dir / env_name, ignore_errors=True)
            deleted.add(env_name)
            variant = f"{role} env, {point}"
        elif phase == "process-start":
            point = PROCESS_POINTS[turn % len(PROCESS_POINTS)]
            variant = f"{point} spawned, not ready"
        else:
            point = str(SCENARIO_POINTS[turn % len(SCENARIO_POINTS)])
            variant = f"after {point} driver answers"
        before = scan(envs_dir)
        run = soak.launch(selection, phase)
        reached = run.wait_until(_phase_condition(run, phase, point, cell, env_name), soak.phase_timeout_s)
        sigint_at = run.elapsed()
        hit = _what_was_hit(run, phase, point, cell, env_name)
        if reached and run.poll() is None:
            run.interrupt()
        else:
            soak.find(number, "phase_missed", f"{run.paths.run_id}: {phase} ({variant}) not reached before "
                      f"{'pytest exited' if run.poll() is not None else 'the timeout'}; log {run.paths.log_path}")
            run.interrupt()
        code, survivors = soak.finish(run, number, soak.exit_timeout_s)
        exit_s = run.elapsed() - sigint_at
        if reached and code != 2:  # pytest's exit status for "interrupted"
            soak.find(number, "not_interrupted", f"{run.paths.run_id}: exit {code} after Ctrl-C, not 2 "
                      f"(interrupted); the run ignored or outran the SIGINT; log {run.paths.log_path}")
        after = scan(envs_dir)
        corrupt = auditor.corrupt(after)
        replaced = rebuilt(before, after, allowed=deleted)
        soak.find(number, "corrupt_env", corrupt)
        soak.find(number, "rebuilt_complete", replaced)
        soak.find(number, "collision", collisions(run.output, run.paths.run_dir))
        follow = _follow_up(soak, number, cell, ref)
        record = {
            "run": number, "phase": phase, "variant": variant, "cell": cell, "workers": selection.workers,
            "reached": reached, "sigint_at_s": round(sigint_at, 2), "hit": hit, "exit_code": code,
            "exit_after_sigint_s": round(exit_s, 2), "seen_processes": run.tracker.seen_count,
            "survivors": [s.as_dict() for s in survivors],
            "envs": {"complete": sum(s.complete for s in after.values()),
                     "partial": sorted(n for n, s in after.items() if not s.complete),
                     "scratch_left": scratch_dirs(envs_dir), "corrupt": corrupt, "rebuilt": replaced},
            "follow_up": follow,
        }
        soak.records.append(record)
        print(f"[{number:3d}/{args.runs}] {phase:13s} {variant:28s} {cell} -n{selection.workers}: "
              f"SIGINT@{sigint_at:5.1f}s exit {code} in {exit_s:4.1f}s, seen {run.tracker.seen_count} procs, "
              f"survivors {len(survivors)}, corrupt {len(corrupt)}, rebuilt {len(replaced)} | next run: exit "
              f"{follow['exit_code']}, built {follow['built'] or '-'}, rebuilt-complete "
              f"{len(follow['rebuilt_complete'])}, problems {len(follow['problems'])}", flush=True)


def _follow_up(soak: Soak, number: int, cell: str, ref: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The next, uninterrupted run of the cell: passes, and rebuilds nothing that was complete."""
    envs_dir = soak.cache / "envs"
    before = scan(envs_dir)
    complete = {n for n, s in before.items() if s.complete}
    run = soak.launch(Selection((cell,), QUICK_TESTS), "next")
    code, survivors = soak.finish(run, number, soak.run_timeout_s)
    report = run.paths.report()
    built = envs_built(report)
    after = scan(envs_dir)
    again = sorted({*(f"{n}: the next run reported it built" for n, b in built.items() if b and n in complete),
                    *rebuilt(before, after, allowed=set())})
    problems = report_problems(report, {k: v for k, v in ref.items() if k[0] == cell})
    if code != 0:
        soak.find(number, "run_failed", f"{run.paths.run_id}: exit {code}; log {run.paths.log_path}")
    soak.find(number, "rebuilt_complete", again)
    soak.find(number, "verdict_mismatch", problems)
    soak.find(number, "collision", collisions(run.output, run.paths.run_dir))
    soak.find(number, "corrupt_env", soak.auditor().corrupt(after))
    return {"exit_code": code, "built": sorted(n for n, b in built.items() if b),
            "reused": sorted(n for n, b in built.items() if not b), "rebuilt_complete": again,
            "problems": problems, "survivors": [s.as_dict() for s in survivors]}


# --- concurrency -----------------------------------------------------------------------------


def concurrency_mode(soak: Soak, args: argparse.Namespace) -> None:
    cells = tuple(args.cells or CONCURRENCY_CELLS)
    tests = tuple(args.tests or QUICK_TESTS)
    auditor = soak.auditor()
    ref, report = _reference(soak, Selection(cells, tests))
    env_names = _env_names(report, cells)
    shared = Counter(name for names in env_names.values() for name in names.values() if name)
    churn = sorted(name for name, uses in shared.items() if uses >= 2) if args.churn else []
    envs_dir = soak.cache / "envs"
    for index in range(args.runs):
        if _out_of_time(soak, index, args.runs):
            break
        number = index + 1
        deleted = {churn[index % len(churn)]} if churn else set()
        for name in deleted:
            shutil.rmtree(envs_dir / name, ignore_errors=True)
        before = scan(envs_dir)
        run = soak.launch(Selection(cells, tests, args.numprocesses), "n")
        code, survivors = soak.finish(run, number, soak.run_timeout_s)
        report = run.paths.report()
        after = scan(envs_dir)
        problems = report_problems(report, ref)
        if code != 0:
            soak.find(number, "run_failed", f"{run.paths.run_id}: exit {code}; log {run.paths.log_path}")
        complete_before = {n for n, s in before.items() if s.complete}
        again = sorted({*(f"{n}: the run reported it built" for n, b in envs_built(report).items()
                          if b and n in complete_before),
                        *rebuilt(before, after, allowed=deleted)})
        corrupt = auditor.corrupt(after)
        clashes = collisions(run.output, run.paths.run_dir)
        crossed = wiring(run.paths.run_dir)
        missing = sorted(deleted - {n for n, s in after.items() if s.complete})
        soak.find(number, "verdict_mismatch", problems)
        soak.find(number, "rebuilt_complete", again)
        soak.find(number, "corrupt_env", corrupt)
        soak.find(number, "collision", clashes)
        soak.find(number, "crosstalk", crossed)
        soak.find(number, "corrupt_env", [f"{n}: deleted before the run and not rebuilt by it" for n in missing])
        soak.records.append({
            "run": number, "workers": args.numprocesses, "exit_code": code, "seconds": round(run.elapsed(), 2),
            "churned": sorted(deleted), "results": len(verdicts(report)) if report else 0,
            "verdict_problems": problems, "rebuilt_complete": again, "corrupt": corrupt, "collisions": clashes,
            "crosstalk": crossed, "seen_processes": run.tracker.seen_count,
            "survivors": [s.as_dict() for s in survivors],
        })
        print(f"[{number:3d}/{args.runs}] -n{args.numprocesses} {len(cells)} cells: exit {code} in "
              f"{run.elapsed():5.1f}s, {len(verdicts(report)) if report else 0} results, churned "
              f"{sorted(deleted) or '-'}, seen {run.tracker.seen_count} procs, survivors {len(survivors)}, "
              f"mismatches {len(problems)}, rebuilt {len(again)}, corrupt {len(corrupt)}, "
              f"collisions {len(clashes)}, crosstalk {len(crossed)}", flush=True)


# --- driver ----------------------------------------------------------------------------------


def _out_of_time(soak: Soak, index: int, runs: int) -> bool:
    if soak.stop_at is None or time.monotonic() < soak.stop_at:
        return False
    print(f"stopping after {index} of {runs} runs: the time limit (--max-minutes/--until) was reached", flush=True)
    return True


def _stop_at(args: argparse.Namespace) -> float | None:
    """The monotonic instant after which no new run starts, from --max-minutes and --until HH:MM (UTC)."""
    limits = []
    if args.max_minutes is not None:
        limits.append(time.monotonic() + args.max_minutes * 60)
    if args.until:
        now = datetime.now(UTC)
        hour, minute = (int(x) for x in args.until.split(":"))
        until = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if until <= now:
            until += timedelta(days=1)
        limits.append(time.monotonic() + (until - now).total_seconds())
    return min(limits) if limits else None


KINDS = ("survivor", "hung", "phase_missed", "not_interrupted", "rebuilt_complete", "corrupt_env", "collision",
         "verdict_mismatch", "crosstalk", "run_failed")


def summarise(soak: Soak, args: argparse.Namespace, seconds: float, aborted: bool) -> dict[str, Any]:
    kinds = Counter(f["kind"] for f in soak.findings)
    summary: dict[str, Any] = {
        "mode": soak.mode, "runs_requested": args.runs, "runs_completed": len(soak.records),
        "aborted": aborted, "seconds": round(seconds, 1), "work_dir": str(soak.work),
        "findings_by_kind": {kind: kinds.get(kind, 0) for kind in KINDS},
        "findings": soak.findings, "runs": soak.records,
    }
    for key, kind in (("survivors_found", "survivor"), ("envs_rebuilt_that_were_complete", "rebuilt_complete"),
                      ("corrupt_envs", "corrupt_env"), ("collisions", "collision"),
                      ("verdict_mismatches", "verdict_mismatch"), ("crosstalk", "crosstalk"),
                      ("failed_runs", "run_failed"), ("hung_runs", "hung")):
        summary[key] = kinds.get(kind, 0)
    if soak.mode == "interrupt":
        summary["phases"] = dict(Counter(r["phase"] for r in soak.records))
        summary["phases_missed"] = kinds.get("phase_missed", 0)
        summary["not_interrupted"] = kinds.get("not_interrupted", 0)
        summary["ready_before_sigint"] = sum(bool(r["hit"].get("ready_before_sigint")) for r in soak.records)
        summary["exit_after_sigint_s_max"] = max((r["exit_after_sigint_s"] for r in soak.records), default=None)
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\nsoak {summary['mode']}: {summary['runs_completed']} of {summary['runs_requested']} runs in "
          f"{summary['seconds']:.0f}s{' (ABORTED)' if summary['aborted'] else ''}")
    if "phases" in summary:
        print(f"  interrupted at: {summary['phases']} (process-start runs where the process was already "
              f"ready: {summary['ready_before_sigint']})")
    for key in ("survivors_found", "envs_rebuilt_that_were_complete", "corrupt_envs", "collisions",
                "verdict_mismatches", "crosstalk", "failed_runs", "hung_runs", "phases_missed", "not_interrupted",
                "exit_after_sigint_s_max"):
        if key in summary:
            print(f"  {key.replace('_', ' ')}: {summary[key]}")
    print(f"  findings by kind: {summary['findings_by_kind']}")
    for finding in summary["findings"][:40]:
        print(f"  run {finding['run']}: {finding['kind']}: {finding['detail']}")
    if len(summary["findings"]) > 40:
        print(f"  ... {len(summary['findings']) - 40} more in the JSON summary")
    print(f"  verdict: {'FINDINGS' if summary['findings'] else 'clean'}")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # stop the current run and its processes, then summarise


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("interrupt", "concurrency"):
        p = sub.add_parser(mode)
        p.add_argument("--runs", type=int, default=50)
        p.add_argument("--work-dir", type=Path, help="cache, reports and logs (default: a new temp dir)")
        p.add_argument("--summary", type=Path, help="JSON summary path (default <work-dir>/summary.json)")
        p.add_argument("--cells", action="append", help="cell ids (repeatable; default: a built-in slice)")
        p.add_argument("--pytest-arg", action="append", default=[], dest="pytest_args",
                       help="extra argument for every soak run's pytest (repeatable; use --pytest-arg=-p)")
        p.add_argument("--max-minutes", type=float, help="start no new run after this many minutes")
        p.add_argument("--until", metavar="HH:MM", help="start no new run after this UTC time of day")
        p.add_argument("--run-timeout", type=float, default=600.0, help="bound on one uninterrupted run (s)")
        p.add_argument("--exit-timeout", type=float, default=60.0, help="bound on pytest's exit after Ctrl-C (s)")
        p.add_argument("--phase-timeout", type=float, default=180.0, help="bound on waiting for a phase (s)")
        p.add_argument("--keep", action="store_true", help="keep the env cache even when the soak is clean")
    interrupt = sub.choices["interrupt"]
    interrupt.add_argument("--phases", action="append", choices=PHASES, help="phases to rotate (default all)")
    interrupt.add_argument("--workers", default="0", help="xdist workers per run, rotated: e.g. 0,2")
    concurrency = sub.choices["concurrency"]
    concurrency.add_argument("-n", "--numprocesses", type=int, default=4)
    concurrency.add_argument("--tests", action="append", help="scenario node ids (default: four quick ones)")
    concurrency.add_argument("--no-churn", dest="churn", action="store_false",
                             help="do not delete a shared env before each run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix=f"compat-soak-{args.mode}-"))
    work.mkdir(parents=True, exist_ok=True)
    if not become_subreaper():
        print("soak: cannot become a child subreaper; orphans re-parented to init are found only by their "
              "environment marker and command line", file=sys.stderr)
    soak = Soak(args.mode, work.resolve(), tuple(args.pytest_args), args.run_timeout, args.exit_timeout,
                args.phase_timeout)
    # A shell's background job (`soak.py ... &` in a script) starts with SIGINT ignored, and
    # an ignored signal stays ignored across exec: pytest would shrug off our Ctrl-C. A terminal
    # never starts a foreground job like that, so restore the default before starting any run.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    soak.stop_at = _stop_at(args)
    print(f"soak {args.mode}: {args.runs} runs, work dir {soak.work}", flush=True)
    started = time.monotonic()
    aborted = False
    try:
        (interrupt_mode if args.mode == "interrupt" else concurrency_mode)(soak, args)
    except KeyboardInterrupt:
        aborted = True
        soak.abort_current()
        soak.find("soak", "run_failed", "the soak itself was interrupted")
    summary = summarise(soak, args, time.monotonic() - started, aborted)
    path = args.summary or soak.work / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print_summary(summary)
    print(f"  summary: {path}")
    if not soak.findings and not args.keep:
        shutil.rmtree(soak.cache, ignore_errors=True)  # envs are big; logs and the summary stay
    return 1 if soak.findings else 0


if __name__ == "__main__":
    sys.exit(main())
