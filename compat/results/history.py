"""The results history: one JSON report per run in a directory, named
``<UTC timestamp>--<git sha>.json`` (``20261125T160500Z--0123abcd4567.json``), never
overwritten. Plain files so CI can cache, upload and diff them; ordered by timestamp."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from compat import timing
from compat.config.versions import same_version
from compat.errors import ResultsError
from compat.results.identity import file_matrices, run_matrix
from compat.results.jsonfile import load_json, render_json
from compat.results.model import CellResult, RunResults

_NAME = re.compile(r"^(?P<ts>\d{8}T\d{6}Z)--(?P<sha>[0-9A-Za-z._-]+?)(?:~(?P<n>\d+))?\.json$")
_SHA = re.compile(r"[^0-9A-Za-z._-]")


@dataclass(frozen=True)
class StoredRun:
    path: Path
    timestamp: str  # 20261125T160500Z
    git_sha: str
    sequence: int = 0  # disambiguates two runs stored in the same second at the same sha


def _compact(iso: str) -> str | None:
    try:
        moment = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return moment.strftime("%Y%m%dT%H%M%SZ")


def git_head_sha(start: Path) -> str | None:
    """The commit HEAD points at, read from .git files (no git process); None outside a repo."""
    for folder in (start.resolve(), *start.resolve().parents):
        dot_git = folder / ".git"
        if dot_git.is_file():  # a worktree or submodule: "gitdir: PATH"
            dot_git = (folder / dot_git.read_text().split(":", 1)[1].strip()).resolve()
        if not dot_git.is_dir():
            continue
        head = (dot_git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        common = dot_git
        if (dot_git / "commondir").is_file():
            common = (dot_git / (dot_git / "commondir").read_text().strip()).resolve()
        for base in (dot_git, common):
            loose = base / ref
            if loose.is_file():
                return loose.read_text().strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
        return None
    return None


def store_run(
    results: RunResults, directory: str | Path, git_sha: str | None = None, timestamp: str | None = None
) -> Path:
    """Append one run to the history. ``git_sha`` defaults to ``meta["git_sha"]``;
    ``timestamp`` (ISO, ``2026-11-25T16:05:00Z``) to the run's finish, else now."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sha = git_sha or str(results.meta.get("git_sha") or "") or "unknown"
    sha = _SHA.sub("_", sha)[:40]
    stamp = None
    for candidate in (timestamp, results.finished_at, results.started_at):
        if candidate and (stamp := _compact(candidate)):
            break
    stamp = stamp or _compact(timing.utc_timestamp())
    text = render_json(results)
    for sequence in range(1000):
        suffix = f"~{sequence}" if sequence else ""
        path = directory / f"{stamp}--{sha}{suffix}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        return path
    raise ResultsError(f"{directory}: 1000 runs already stored for {stamp} at {sha}; clean the history")


def list_runs(directory: str | Path) -> list[StoredRun]:
    """Stored runs, oldest first. Files not named by ``store_run`` are ignored."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"history directory {directory} does not exist; store a run with `compat history add`")
    runs = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            runs.append(StoredRun(path, match["ts"], match["sha"], int(match["n"] or 0)))
    return sorted(runs, key=lambda r: (r.timestamp, r.sequence, r.git_sha))


def matrices_in(directory: str | Path) -> dict[str, str]:
    """identity → description of every matrix whose runs the directory holds
    (``compat.results.identity``; files without ``meta.matrix`` are ``legacy``)."""
    return file_matrices([load_json(run.path) for run in list_runs(directory)])


def latest_for_pair(
    directory: str | Path, client: str, gateway: str, venue: str | None = None, *, matrix: str | None = None
) -> tuple[StoredRun, list[CellResult]] | None:
    """The newest stored run (of ``matrix``, when given) holding cells of that pair (and
    venue), with those cells."""
    for run in reversed(list_runs(directory)):
        results = load_json(run.path)
        if matrix is not None and run_matrix(results) != matrix:
            continue
        cells = [
            c
            for c in results.cells
            if same_version(c.client_version, client)
            and same_version(c.gateway_version, gateway)
            and (venue is None or c.venue == venue)
        ]
        if cells:
            return run, cells
    return None


# --- across runs: flips since the release run, flake rates ---------------------------------


@dataclass(frozen=True)
class Flip:
    """A (venue, cell, scenario) whose verdict changed between two runs."""

    venue: str
    cell_id: str
    scenario: str
    before: str
    after: str


def flips(baseline: RunResults, current: RunResults) -> list[Flip]:
    """Every (venue, cell, scenario) present in both runs whose verdict differs, in the order
    of ``current``."""
    before = {(c.venue, c.cell_id, s.scenario): str(s.verdict) for c in baseline.cells for s in c.scenarios}
    found = []
    for cell in current.cells:
        for scenario in cell.scenarios:
            old = before.get((cell.venue, cell.cell_id, scenario.scenario))
            if old is not None and old != str(scenario.verdict):
                found.append(Flip(cell.venue, cell.cell_id, scenario.scenario, old, str(scenario.verdict)))
    return found


def cell_keys(results: RunResults) -> set[tuple[str, str]]:
    return {(c.venue, c.cell_id) for c in results.cells}


def flip_lines(baseline: RunResults, current: RunResults) -> list[str]:
    """One line per flipped cell: its summary verdict before → after and the scenarios that moved."""
    by_cell: dict[tuple[str, str], list[Flip]] = {}
    for flip in flips(baseline, current):
        by_cell.setdefault((flip.venue, flip.cell_id), []).append(flip)
    old_cells = {(c.venue, c.cell_id): c for c in baseline.cells}
    lines = []
    for cell in current.cells:
        moved = by_cell.get((cell.venue, cell.cell_id))
        if not moved:
            continue
        was = old_cells[(cell.venue, cell.cell_id)].verdict
        detail = ", ".join(f"{f.scenario}: {f.before} → {f.after}" for f in moved)
        lines.append(f"  {cell.cell_id} [{cell.venue}]: {was} → {cell.verdict} ({detail})")
    new = cell_keys(current) - cell_keys(baseline)
    gone = cell_keys(baseline) - cell_keys(current)
    if not lines:
        lines.append("  no cell flipped")
    if new:
        lines.append(f"  {len(new)} cell(s) not in the release run (new versions or venues): not compared")
    if gone:
        lines.append(f"  {len(gone)} cell(s) of the release run not run since: not compared")
    return lines


@dataclass(frozen=True)
class FlakeRate:
    """How often a cell's verdicts were unsteady: runs in which any of its scenarios was flaky
    or differed from that scenario's verdict in the cell's previous run."""

    venue: str
    cell_id: str
    runs: int
    unsteady_runs: int
    scenarios: tuple[tuple[str, int], ...]  # scenario → unsteady runs, most first

    @property
    def rate(self) -> float:
        return self.unsteady_runs / self.runs if self.runs else 0.0

    def line(self) -> str:
        worst = ", ".join(f"{name} {n}" for name, n in self.scenarios[:3])
        return f"  {self.rate:5.0%}  {self.unsteady_runs}/{self.runs} runs  {self.cell_id} [{self.venue}]" + (
            f"  ({worst})" if worst else ""
        )


class _Point(Protocol):
    """One verdict observation (``compat.results.store.HistoryPoint``)."""

    @property
    def run_id(self) -> int: ...
    @property
    def venue(self) -> str: ...
    @property
    def cell_id(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def verdict(self) -> str: ...


def flake_rates(points: Iterable[_Point]) -> list[FlakeRate]:
    """Flake rate per (venue, cell) from verdict observations (``ResultsStore.observations``),
    unsteadiest first, then by cell id. A scenario's first observation only counts when flaky;
    a flaky verdict compares as a pass with the next run (one flake is one event, not two)."""
    points = sorted(points, key=lambda p: (p.venue, p.cell_id, p.scenario, p.run_id))
    previous: dict[tuple[str, str, str], str] = {}
    runs: dict[tuple[str, str], set[int]] = {}
    unsteady: dict[tuple[str, str], set[int]] = {}
    per_scenario: dict[tuple[str, str], Counter[str]] = {}
    for p in points:
        cell = (p.venue, p.cell_id)
        key = (p.venue, p.cell_id, p.scenario)
        runs.setdefault(cell, set()).add(p.run_id)
        before = previous.get(key)
        # flaky is a pass on rerun: it counts itself, and compares as a pass with the next run
        steady = "pass" if p.verdict == "flaky" else p.verdict
        if p.verdict == "flaky" or (before is not None and before != steady):
            unsteady.setdefault(cell, set()).add(p.run_id)
            per_scenario.setdefault(cell, Counter())[p.scenario] += 1
        previous[key] = steady
    rates = [
        FlakeRate(
            venue,
            cell_id,
            len(run_ids),
            len(unsteady.get((venue, cell_id), ())),
            tuple(sorted(per_scenario.get((venue, cell_id), Counter()).items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        for (venue, cell_id), run_ids in runs.items()
    ]
    return sorted(rates, key=lambda r: (-r.rate, r.cell_id, r.venue))
