"""The results history: one JSON report per run in a directory, named
``<UTC timestamp>--<git sha>.json`` (``20261125T160500Z--0123abcd4567.json``), never
overwritten. Plain files so CI can cache, upload and diff them; ordered by timestamp."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from compat import timing
from compat.outcome import CellResult, RunResults
from compat.report.errors import ReportError
from compat.report.json_report import load_json, render_json

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
    raise ReportError(f"{directory}: 1000 runs already stored for {stamp} at {sha}; clean the history")


def list_runs(directory: str | Path) -> list[StoredRun]:
    """Stored runs, oldest first. Files not named by ``store_run`` are ignored."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReportError(
            f"history directory {directory} does not exist; store a run with `compat history add`"
        )
    runs = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            runs.append(StoredRun(path, match["ts"], match["sha"], int(match["n"] or 0)))
    return sorted(runs, key=lambda r: (r.timestamp, r.sequence, r.git_sha))


def same_version(a: str, b: str) -> bool:
    """``2.0`` and ``2.0.0`` are the same version; invalid versions compare as text."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def latest_for_pair(
    directory: str | Path, client: str, gateway: str, venue: str | None = None
) -> tuple[StoredRun, list[CellResult]] | None:
    """The newest stored run holding cells of that pair (and venue), with those cells."""
    for run in reversed(list_runs(directory)):
        cells = [
            c
            for c in load_json(run.path).cells
            if same_version(c.client_version, client)
            and same_version(c.gateway_version, gateway)
            and (venue is None or c.venue == venue)
        ]
        if cells:
            return run, cells
    return None
