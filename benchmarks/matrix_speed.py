"""How fast the reference matrix runs, uncached and with the verdict cache (not a timed test).

Runs the reference matrix (``pytest -m compat tests/compat -n W``) on a temporary copy of this
tree, so the user's tree is never edited, four ways in one go:

(a) **uncached** (``--compat-fresh``, an empty verdict cache: every scenario runs; it warms the cache);
(b) **warm**: again, with the cache (2,000+ cells' results replayed, no process started for them);
(c) **after a one-line change to the gateway source** (a comment appended to refgw): the candidate
    gateway is rebuilt, so its column runs, and so does each live upgrade that swaps to it;
(d) **3 shards, warm, after another one-line change**: each shard restores a copy of the warm
    cache (as a CI job would) and runs only its share of the changed cells; their reports are
    merged with ``compat merge`` and compared with (a), and their caches with
    ``compat verdict-cache merge``.

For each it prints the wall time, the results run and cached, the ratios to (a), and where the
time goes: env builds, stack start/stop (setup and teardown outside the env builds), scenario
bodies by scenario, collection (per process: plan, candidate build, importing the scenarios) and
reporting (the controller writing the reports). The phases come from a small pytest plugin
(``matrix_speed_probe.py``); the results from each run's JSON report. It writes the same as
Markdown to ``--output`` (default docs/matrix-speed.md).

    python benchmarks/matrix_speed.py [--cells GLOB]... [-k EXPR] [--workers auto] [--shards 3]
                                      [--cache-dir DIR] [--output docs/matrix-speed.md] [--keep]

``--cells``/``-k`` narrow the matrix (a smoke run); ``--cache-dir`` reuses the envs of an earlier
run (default: a fresh one, so (a) includes building every env).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compat import timing  # noqa: E402  (after the path: run as a script from anywhere)

EDITED = Path("gateways/refgw/src/refgw/__init__.py")  # the one line is appended here
Key = tuple[str, str, str]  # (venue, cell id, scenario)


@dataclass
class RunStats:
    """One pytest run of the matrix, measured."""

    name: str
    wall_s: float
    exit_code: int
    verdicts: dict[Key, str] = field(default_factory=dict)
    cached: int = 0
    envs_built: int = 0
    env_build_s: float = 0.0
    setup_teardown_s: float = 0.0
    bodies: Counter[str] = field(default_factory=Counter)  # scenario name -> seconds of call phases
    collection_s: float = 0.0  # summed over processes
    processes: int = 0
    reporting_s: float = 0.0

    @property
    def results(self) -> int:
        return len(self.verdicts)

    @property
    def ran(self) -> int:
        return self.results - self.cached

    @property
    def stack_s(self) -> float:
        return max(0.0, self.setup_teardown_s - self.env_build_s)

    @property
    def bodies_s(self) -> float:
        return sum(self.bodies.values())


def copy_tree(source: Path, target: Path) -> None:
    """The files git knows of (tracked, and untracked but not ignored): the tree as the user has it."""
    listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True, timeout=120).stdout.decode().split("\0")
    for name in filter(None, listed):
        origin = source / name
        if origin.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / name)


def pytest_run(name: str, tree: Path, work: Path, args: list[str], *, report: Path,
               timeout_s: float | None) -> RunStats:
    """One ``pytest -m compat`` in ``tree``; its wall time, JSON report and probe, measured."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")  # "(d) shard 1/3" → "d-shard-1-3"
    probe = work / f"{slug}.probe.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("COMPAT_RUN_ID", "PYTEST_ADDOPTS")}
    env["COMPAT_SPEED_PROBE"] = str(probe)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "benchmarks"), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    argv = [sys.executable, "-m", "pytest", "-m", "compat", "tests/compat", "-p", "matrix_speed_probe",
            "-p", "no:randomly", "-q", "--compat-store", "none", "--compat-report-json", str(report), *args]
    print(f"[{name}] {' '.join(argv[2:])}", flush=True)
    started = timing.monotonic()
    with open(work / f"{slug}.log", "w", encoding="utf-8") as log:
        done = subprocess.run(argv, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s)
    stats = RunStats(name, timing.monotonic() - started, done.returncode)
    if not report.exists():
        raise SystemExit(f"[{name}] wrote no report (exit {done.returncode}); see {work / f'{slug}.log'}")
    measure(stats, json.loads(report.read_text()), probe)
    print(f"[{name}] {stats.wall_s:.1f}s, {stats.ran} results run, {stats.cached} cached", flush=True)
    return stats


def measure(stats: RunStats, document: dict[str, Any], probe: Path) -> None:
    scenario_of: dict[str, str] = {}
    for cell in document["cells"]:
        for scenario in cell["scenarios"]:
            stats.verdicts[(cell["venue"], cell["cell_id"], scenario["scenario"])] = scenario["verdict"]
            stats.cached += bool(scenario.get("cached_from"))
            scenario_of[scenario["nodeid"]] = scenario["scenario"].split("[", 1)[0]
    for env in document.get("envs", ()):
        if env.get("built"):
            stats.envs_built += 1
            stats.env_build_s += float(env.get("seconds", 0.0))
    events = [json.loads(line) for line in probe.read_text().splitlines()] if probe.exists() else []
    for event in events:
        if event["kind"] == "collected":
            stats.collection_s += event["seconds"]
            stats.processes += 1
        elif event["kind"] == "reporting":
            stats.reporting_s += event["seconds"]
        elif event["kind"] == "report" and not event["cached"]:
            if event["when"] == "call":
                stats.bodies[scenario_of.get(event["nodeid"], event["nodeid"])] += event["duration"]
            else:
                stats.setup_teardown_s += event["duration"]


def differences(ours: dict[Key, str], reference: dict[Key, str]) -> list[str]:
    keys = sorted(set(ours) | set(reference))
    return [f"{key[1]} {key[2]} [{key[0]}]: {reference.get(key, 'missing')} → {ours.get(key, 'missing')}"
            for key in keys if ours.get(key) != reference.get(key)]


def append_line(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{line}\n")


def compat_cli(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat.cli", *args], cwd=tree, capture_output=True, text=True,
                          timeout=600)


# --- the report --------------------------------------------------------------------------


def _s(seconds: float) -> str:
    return f"{seconds:,.1f} s"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}" if base else "-"


def render(runs: list[RunStats], shards: list[RunStats], checks: list[str], setup: list[str]) -> str:
    a = runs[0]
    shard_wall = sum(s.wall_s for s in shards)
    shard_run = sum(s.ran for s in shards)
    shard_cached = sum(s.cached for s in shards)
    columns = [r.name for r in runs] + [f"(d) {len(shards)} shards, warm (sum; longest)"]
    lines = ["# Matrix speed: uncached, warm verdict cache, one-line gateway change, warm shards", "",
             "Written by `benchmarks/matrix_speed.py` (not a timed test: numbers depend on the machine and",
             "its load); the verdict cache is described in [ci-shards.md](ci-shards.md#verdict-cache). The runs:",
             "", "- (a) uncached: `--compat-fresh` and an empty cache, every scenario runs (and warms the cache);",
             "- (b) the same again with the warm cache: every clean result is replayed, its cell starts nothing;",
             "- (c) after a one-line change to the gateway source: the candidate gateway is rebuilt, its column",
             "  runs, and so does the live upgrade of each cell whose gateway swaps to it;",
             "- (d) after another one-line change, as shards that each restore a copy of the warm cache: each",
             "  runs only its share of the changed cells; their reports merged must equal (a).", "",
             "How it was run:", "", *setup, "",
             "| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]

    def row(title: str, values: list[str], shard: str) -> None:
        lines.append(f"| {title} | " + " | ".join(values) + f" | {shard} |")

    longest = max((s.wall_s for s in shards), default=0.0)
    row("wall time", [_s(r.wall_s) for r in runs], f"{_s(shard_wall)}; {_s(longest)}")
    row("wall time / (a)", [_ratio(r.wall_s, a.wall_s) for r in runs], _ratio(shard_wall, a.wall_s))
    row("results", [str(r.results) for r in runs], str(sum(s.results for s in shards)))
    row("results run", [str(r.ran) for r in runs], str(shard_run))
    row("results cached", [str(r.cached) for r in runs], str(shard_cached))
    row("results run / (a)", [_ratio(r.ran, a.ran) for r in runs], _ratio(shard_run, a.ran))
    lines += ["", "\"Results run\" counts every result not replayed from the verdict cache, including those",
              "matrix.yaml declares `unsupported` (skipped before anything starts: never cached, they cost nothing)."]
    lines += ["", "Where the time goes (seconds summed over the xdist workers, so they exceed the wall time):", "",
              "| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    row("env builds", [f"{_s(r.env_build_s)} ({r.envs_built})" for r in runs],
        f"{_s(sum(s.env_build_s for s in shards))} ({sum(s.envs_built for s in shards)})")
    row("stack start/stop", [_s(r.stack_s) for r in runs], _s(sum(s.stack_s for s in shards)))
    row("scenario bodies", [_s(r.bodies_s) for r in runs], _s(sum(s.bodies_s for s in shards)))
    row("collection, per process (plan, candidate build, imports)",
        [f"{_s(r.collection_s)} ({r.processes})" for r in runs],
        f"{_s(sum(s.collection_s for s in shards))} ({sum(s.processes for s in shards)})")
    row("reporting (controller)", [_s(r.reporting_s) for r in runs], _s(sum(s.reporting_s for s in shards)))
    top = [name for name, _ in a.bodies.most_common(15)]
    lines += ["", "Scenario bodies by scenario (the 15 longest of (a), all cells; seconds):", "",
              "| scenario | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in top:
        lines.append(f"| {name} | " + " | ".join(f"{r.bodies[name]:.1f}" for r in runs)
                     + f" | {sum(s.bodies[name] for s in shards):.1f} |")
    rest = [sum(v for k, v in r.bodies.items() if k not in top) for r in [*runs, *shards]]
    lines.append("| (the others) | " + " | ".join(f"{v:.1f}" for v in rest[: len(runs)])
                 + f" | {sum(rest[len(runs):]):.1f} |")
    lines += ["", "Checks:", "", *(f"- {check}" for check in checks), ""]
    return "\n".join(lines)


KEPT = "<!-- notes below are kept by benchmarks/matrix_speed.py -->"


def kept_notes(output: Path) -> str:
    """The hand-written notes of ``output`` (from the ``KEPT`` marker on), so a new run of the
    benchmark replaces its measurements and keeps what was written about them."""
    try:
        old = output.read_text(encoding="utf-8")
    except OSError:
        return ""
    at = old.find(KEPT)
    return "\n" + old[at:] if at >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cells", action="append", default=[], metavar="GLOB", help="--compat-cells (repeatable)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k")
    parser.add_argument("--workers", default="auto",
                        help="pytest -n (default auto: compat_workers_per_cpu, 2, per CPU, as the README runs it)")
    parser.add_argument("--shards", type=int, default=3, help="shards of run (d) (default 3)")
    parser.add_argument("--cache-dir", type=Path, help="envs and candidate builds (default: a fresh one)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "matrix-speed.md")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per pytest run (default none)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy, logs and reports")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="matrix-speed-"))
    tree = work / "tree"
    copy_tree(REPO, tree)
    cache_dir = (args.cache_dir.resolve() if args.cache_dir else work / "cache")
    verdicts = work / "verdicts.db"
    common = ["-n", str(args.workers), "--compat-cache-dir", str(cache_dir)]
    common += [f"--compat-cells={glob}" for glob in args.cells]
    if args.keyword:
        common += ["-k", args.keyword]
    shown = " ".join(common).replace(f"{REPO}{os.sep}", "").replace(str(work), "<tmp>")
    typed = " ".join(argv if argv is not None else sys.argv[1:]).replace(f"{REPO}{os.sep}", "")
    setup = [f"- `python benchmarks/matrix_speed.py {typed}`"
             f" on {platform.node() or 'this machine'}: {os.cpu_count()} CPUs, load average "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start, Python {platform.python_version()};",
             f"- each run: `pytest -m compat tests/compat {shown} --compat-verdict-cache <file>`"
             " on a copy of the tree;",
             f"- (c) appends one comment line to `{EDITED}`, (d) another; the shards restore a copy of the cache"
             " (a CI cache step) and run one after the other."]
    if args.cells or args.keyword:
        setup.append("- **narrowed** (`--cells`/`-k`): a smoke run of part of the matrix, not the reference matrix;"
                     " run it without them for the full figures.")
    try:
        runs = [pytest_run("(a) uncached", tree, work, [*common, "--compat-fresh", "--compat-verdict-cache",
                                                        str(verdicts)], report=work / "a.json", timeout_s=args.timeout)]
        runs.append(pytest_run("(b) warm cache", tree, work, [*common, "--compat-verdict-cache", str(verdicts)],
                               report=work / "b.json", timeout_s=args.timeout))
        append_line(tree / EDITED, "# matrix_speed.py (c): a one-line change to the gateway source")
        runs.append(pytest_run("(c) gateway edited", tree, work, [*common, "--compat-verdict-cache", str(verdicts)],
                               report=work / "c.json", timeout_s=args.timeout))
        append_line(tree / EDITED, "# matrix_speed.py (d): another one-line change")
        shards = []
        for k in range(1, args.shards + 1):
            copy = work / f"verdicts-{k}.db"
            shutil.copy(verdicts, copy)
            shards.append(pytest_run(f"(d) shard {k}/{args.shards}", tree, work,
                                     [*common, "--compat-shard", f"{k}/{args.shards}", "--compat-verdict-cache",
                                      str(copy)], report=work / f"shard-{k}.json", timeout_s=args.timeout))
        merged = work / "merged.json"
        compat_cli(tree, "merge", *(str(work / f"shard-{k}.json") for k in range(1, args.shards + 1)),
                   "--output", str(merged))
        cache_merge = compat_cli(tree, "verdict-cache", "merge",
                                 *(str(work / f"verdicts-{k}.db") for k in range(1, args.shards + 1)),
                                 "--output", str(verdicts))
        merged_stats = RunStats("merged", 0.0, 0)
        measure(merged_stats, json.loads(merged.read_text()), work / "none")
        checks = []
        for run in runs[1:]:
            diff = differences(run.verdicts, runs[0].verdicts)
            same = "identical to (a)" if not diff else f"differ from (a) in {len(diff)}: " + "; ".join(diff[:5])
            checks.append(f"{run.name}: {run.results} results, verdicts {same}")
        diff = differences(merged_stats.verdicts, runs[0].verdicts)
        checks.append(f"(d) merged with `compat merge`: {merged_stats.results} results, verdicts "
                      + ("identical to the uncached full run (a)" if not diff
                         else f"differ from (a) in {len(diff)}: " + "; ".join(diff[:5])))
        merged_text = cache_merge.stdout.strip().replace(str(work), "<tmp>")
        checks.append(f"(d) shards' caches merged with `compat verdict-cache merge` (with every earlier entry of "
                      f"the file): {merged_text or cache_merge.stderr.strip()}")
        checks.append(f"exit codes: {', '.join(f'{r.name} {r.exit_code}' for r in [*runs, *shards])}")
        text = render(runs, shards, checks, setup)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    print(text)
    args.output.write_text(text + kept_notes(args.output), encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
