"""Running a product's candidate column against one wheel, and judging a mutant against the baseline.

The column is run the way a user runs the matrix (``python -m pytest <tests> -m compat``) in a
subprocess, with the wheel as the product's candidate (``--compat-candidate``). Every wheel of
one coverage run (the unmutated baseline and each mutant) carries the same version, so the
cells and test ids are the same in every run: verdicts compare key by key, and the scenarios
the baseline does not pass are left out of the mutants' runs (``--deselect``), which lets a
mutant's run stop at its first red scenario (``-x``).

A mutant is **killed** when a (cell, scenario) that passed, was n/a or expected-fail in the
baseline turns fail, stale or error in the mutant's run; it **survives** otherwise (a survivor
whose only change is a pass turning n/a is marked so: the gate would not block on it).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat.artifacts.atomic import write_text_atomically
from compat.errors import CoverageError
from compat.harness.command import Command, run
from compat.harness.uv import uv_environment
from compat.results.jsonfile import load_json

GREEN = frozenset({"pass", "n/a", "expected-fail", "flaky"})
RED = frozenset({"fail", "stale", "error"})
COVERAGE_TAG = "coverage"  # the local version every wheel of a coverage run carries


Key = tuple[str, str, str, str]  # (venue, client label, gateway label, scenario)


@dataclass(frozen=True)
class ColumnSpec:
    """Where and how a product's candidate column runs."""

    project: Path  # where pytest runs (the rootdir)
    matrix: Path
    role: str  # the mutated product: "gateway" or "client"
    tests: tuple[str, ...] = ("tests/compat",)
    cache_dir: Path = Path(".compat")
    counterparts: tuple[str, ...] = ("*",)  # globs over the other product's version labels
    venues: tuple[str, ...] = ("*",)
    keyword: str | None = None  # -k
    workers: int = 0  # -n; 0 runs in one process
    timeout_s: float = 3600.0

    def cell_globs(self) -> list[str]:
        """The candidate's column (or row), narrowed to the counterparts and venues asked for."""
        mine = f"*{COVERAGE_TAG}.candidate"  # also "+x.coverage" when the version had a local part
        globs = []
        for other in self.counterparts:
            for venue in self.venues:
                client, gateway = (other, mine) if self.role == "gateway" else (mine, other)
                globs.append(f"client-{client}--gateway-{gateway}--venue-{venue}")
        return globs

    def fingerprint(self, extra: Mapping[str, str]) -> str:
        """What the verdicts of a run depend on besides the wheel: the scenarios' files, the
        matrix, the selection, and ``extra`` (the adapter, the other product's tree, the index)."""
        digest = hashlib.sha256()
        digest.update(json.dumps({"role": self.role, "cells": self.cell_globs(), "k": self.keyword,
                                  "tests": list(self.tests), **extra}, sort_keys=True).encode())
        digest.update(self.matrix.read_bytes())
        for test in self.tests:
            root = self.project / test
            paths = [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
            for path in paths:
                digest.update(str(path.relative_to(self.project)).encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class ColumnRun:
    verdicts: dict[Key, str]
    nodeids: dict[Key, str]
    reasons: dict[Key, str]
    seconds: float
    returncode: int

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "returncode": self.returncode,
                "results": [[*key, self.verdicts[key], self.nodeids.get(key, ""), self.reasons.get(key, "")]
                            for key in sorted(self.verdicts)]}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ColumnRun:
        verdicts, nodeids, reasons = {}, {}, {}
        for venue, client, gateway, scenario, verdict, nodeid, reason in data["results"]:
            key = (venue, client, gateway, scenario)
            verdicts[key], nodeids[key], reasons[key] = verdict, nodeid, reason
        return ColumnRun(verdicts, nodeids, reasons, float(data["seconds"]), int(data["returncode"]))


def run_column(spec: ColumnSpec, wheel: Path, report: Path, *, deselect: Sequence[str] = (),
               stop_at_first: bool = False) -> ColumnRun:
    """One pytest run of the column with ``wheel`` as the product's candidate."""
    argv = [sys.executable, "-m", "pytest", *spec.tests, "-m", "compat", "-p", "no:randomly", "-q",
            "-p", "no:cacheprovider", "--compat-matrix", str(spec.matrix), "--compat-cache-dir", str(spec.cache_dir),
            "--compat-store", "none", "--compat-report-json", str(report),
            "--compat-candidate", f"{spec.role}={wheel}"]
    for glob in spec.cell_globs():
        argv += ["--compat-cells", glob]
    if spec.keyword:
        argv += ["-k", spec.keyword]
    if spec.workers:
        argv += ["-n", str(spec.workers)]
    if stop_at_first:
        argv.append("-x")
    for nodeid in deselect:
        argv += ["--deselect", nodeid]
    report.unlink(missing_ok=True)
    # The run builds envs with uv: it needs uv's settings, trust and proxies (uv_environment).
    command = Command(argv=tuple(argv), name=f"coverage-{report.stem}", cwd=str(spec.project), env=uv_environment())
    outcome = run(command, spec.timeout_s)
    if not report.is_file():
        raise CoverageError(
            f"the column run for {wheel.name} wrote no report (pytest exited {outcome.returncode}); "
            f"its output ends:\n{(outcome.stdout + outcome.stderr)[-3000:]}")
    verdicts: dict[Key, str] = {}
    nodeids: dict[Key, str] = {}
    reasons: dict[Key, str] = {}
    for cell in load_json(report).cells:
        for scenario in cell.scenarios:
            key = (cell.venue, cell.client_version, cell.gateway_version, scenario.scenario)
            verdicts[key] = str(scenario.verdict)
            nodeids[key] = scenario.nodeid
            reasons[key] = scenario.reason or ""
    return ColumnRun(verdicts, nodeids, reasons, outcome.duration_s, outcome.returncode)


@dataclass(frozen=True)
class Judgement:
    """What one mutant did to the column."""

    killed: bool
    by: tuple[str, ...] = ()  # "fail: client-… [tlx] logon: …" for each newly red (cell, scenario)
    only_na: tuple[str, ...] = ()  # passes that turned n/a (not killed: the gate would not block)
    seconds: float = 0.0
    as_error_only: bool = False  # killed, but only by infrastructure errors (it did not start, ...)

    def to_dict(self) -> dict[str, Any]:
        return {"killed": self.killed, "by": list(self.by), "only_na": list(self.only_na),
                "seconds": round(self.seconds, 3), "as_error_only": self.as_error_only}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Judgement:
        return Judgement(bool(data["killed"]), tuple(data.get("by", ())), tuple(data.get("only_na", ())),
                         float(data.get("seconds", 0.0)), bool(data.get("as_error_only", False)))


def judge(baseline: ColumnRun, mutant: ColumnRun) -> Judgement:
    red = sorted(k for k, v in mutant.verdicts.items() if v in RED and baseline.verdicts.get(k) in GREEN)
    to_na = sorted(k for k, v in mutant.verdicts.items() if v == "n/a" and baseline.verdicts.get(k) == "pass")
    by = tuple(f"{mutant.verdicts[k]}: client {k[1]} × gateway {k[2]} [{k[0]}] {k[3]}: "
               f"{mutant.reasons.get(k, '')[:200]}" for k in red)
    na = tuple(f"client {k[1]} × gateway {k[2]} [{k[0]}] {k[3]}" for k in to_na)
    errors_only = bool(red) and all(mutant.verdicts[k] == "error" for k in red)
    return Judgement(bool(red), by, na, mutant.seconds, errors_only)


@dataclass
class MutantCache:
    """Judgements by key (the mutant wheel's sha256 and the suite's fingerprint), one JSON file each."""

    directory: Path
    read: bool = True  # False: judge everything again (and store the new judgements)
    hits: int = 0
    stored: list[str] = field(default_factory=list)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Judgement | None:
        data = self._read(key)
        try:
            found = None if data is None else Judgement.from_dict(data)
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is judged again
        return found

    def put(self, key: str, judgement: Judgement) -> None:
        self._write(key, judgement.to_dict())

    def get_baseline(self, key: str) -> ColumnRun | None:
        data = self._read(f"baseline-{key}")
        try:
            return None if data is None else ColumnRun.from_dict(data)
        except (ValueError, KeyError, TypeError):
            return None

    def put_baseline(self, key: str, run: ColumnRun) -> None:
        self._write(f"baseline-{key}", run.to_dict())

    def _read(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        if not self.read or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return None
        self.hits += 1
        return data if isinstance(data, dict) else None

    def _write(self, key: str, data: dict[str, Any]) -> None:
        write_text_atomically(self.path(key), json.dumps(data, indent=1) + "\n")
        self.stored.append(key)


def cache_key(wheel_sha256: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{wheel_sha256}\0{fingerprint}".encode()).hexdigest()[:32]
