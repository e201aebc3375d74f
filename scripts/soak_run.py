"""One pytest run under the soak: started like a terminal starts a foreground job, watched, and
interrupted the way Ctrl-C does (SIGINT to the job's whole process group).

Waiting is always on something observable (a line of output, a file, the exit), each with a
deadline; nothing sleeps to let things happen.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soak_procs import MARKER_VAR, RunTracker

ROOT = Path(__file__).resolve().parent.parent
_POLL_S = 0.02  # how often file conditions are re-checked while waiting on them


@dataclass(frozen=True)
class Selection:
    """What one run executes: cells (ids or globs) and scenario node ids."""

    cells: tuple[str, ...]
    tests: tuple[str, ...]
    workers: int = 0

    def pytest_args(self) -> list[str]:
        # Every run must build, start and interrupt for real: nothing replayed from the verdict cache.
        args = ["-m", "compat", "-p", "no:randomly", "-v", "--compat-verdict-cache", "none", *self.tests]
        for cell in self.cells:
            args += ["--compat-cells", cell]
        if self.workers:
            args += ["-n", str(self.workers)]
        return args


@dataclass
class RunPaths:
    run_id: str
    cache_dir: Path
    report_dir: Path
    log_path: Path

    @property
    def run_dir(self) -> Path:
        """Where the plugin puts this run's process logs (compat_run_dir honours COMPAT_RUN_ID)."""
        return self.cache_dir / "runs" / self.run_id

    @property
    def envs_dir(self) -> Path:
        return self.cache_dir / "envs"

    def report(self) -> dict[str, Any] | None:
        path = self.report_dir / "matrix.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data


@dataclass
class PytestRun:
    """A pytest process in its own process group, with its output teed to a log."""

    selection: Selection
    paths: RunPaths
    extra_args: Sequence[str] = ()
    tracker: RunTracker = field(init=False)
    started: float = field(init=False, default=0.0)
    _popen: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _output: bytearray = field(init=False, default_factory=bytearray)
    _changed: threading.Condition = field(init=False, default_factory=threading.Condition)
    _reader: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tracker = RunTracker(self.paths.run_id, [str(self.paths.run_dir), str(self.paths.envs_dir / ".tmp-")])

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "pytest", *self.selection.pytest_args(),
                "--compat-no-candidate", "--compat-store", "none",
                "--compat-cache-dir", str(self.paths.cache_dir),
                "--compat-report-json", str(self.paths.report_dir / "matrix.json"),  # no md/html: not judged
                *self.extra_args]

    def start(self) -> None:
        # A soak started from inside a pytest session (the CI test) must not hand that session's
        # worker identity to the runs it starts, nor fill a CI job's step summary with 100 grids.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))
               and k not in ("COMPAT_RUN_ID", "GITHUB_STEP_SUMMARY")}
        env[MARKER_VAR] = self.paths.run_id
        env["COMPAT_RUN_ID"] = self.paths.run_id
        self.paths.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        # process_group=0: a job of its own, as a shell puts a foreground command in one; Ctrl-C
        # is SIGINT to that group (pytest and any xdist workers), never to the soak.
        self._popen = subprocess.Popen(self.argv(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0)
        self.tracker.watch(self._popen.pid)
        self._reader = threading.Thread(target=self._read, name=f"soak-read-{self.paths.run_id}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        assert self._popen is not None
        return self._popen.pid

    def _read(self) -> None:
        assert self._popen is not None and self._popen.stdout is not None
        with open(self.paths.log_path, "wb") as log:
            log.write(f"$ {' '.join(self.argv())}\n".encode())
            fd = self._popen.stdout.fileno()
            while chunk := os.read(fd, 65536):
                log.write(chunk)
                log.flush()
                with self._changed:
                    self._output += chunk
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return self._output.decode("utf-8", errors="replace")

    def poll(self) -> int | None:
        assert self._popen is not None
        return self._popen.poll()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """True once ``condition`` holds; False if pytest exited first or the deadline passed."""
        deadline = time.monotonic() + timeout_s
        while True:
            if condition():
                return True
            if self.poll() is not None or time.monotonic() >= deadline:
                return condition()
            # Wakes on new output at once; file conditions are re-checked every _POLL_S.
            with self._changed:
                self._changed.wait(_POLL_S)

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the foreground job's process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGINT)

    def wait_exit(self, timeout_s: float) -> int | None:
        assert self._popen is not None
        try:
            code = self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(timeout=10.0)
        return code

    def kill_group(self) -> int:
        """Last resort for a run that does not exit: SIGKILL its group and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        assert self._popen is not None
        return self._popen.wait(timeout=30.0)

    def finish_tracking(self) -> None:
        self.tracker.stop_watching()


def count_lines(path: Path, needle: bytes) -> int:
    try:
        return path.read_bytes().count(needle)
    except OSError:
        return 0


ADDRESS_IN_USE = re.compile(r"address already in use|EADDRINUSE|\[Errno 98\]", re.IGNORECASE)


def collisions(text: str, run_dir: Path) -> list[str]:
    """Lines saying a port was taken, in pytest's output or any process log of the run."""
    found = [f"pytest output: {line.strip()[:200]}" for line in text.splitlines() if ADDRESS_IN_USE.search(line)]
    if run_dir.is_dir():
        for log in sorted(run_dir.rglob("*.log")):
            with contextlib.suppress(OSError):
                for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                    if ADDRESS_IN_USE.search(line):
                        found.append(f"{log.relative_to(run_dir)}: {line.strip()[:200]}")
    return found


_GATEWAY_VERSION = re.compile(r'"gateway_version": ?"(?P<version>[^"]+)"')


def wiring(run_dir: Path) -> list[str]:
    """Every gateway a cell's client driver talked to was that cell's own (no cross-talk).

    The driver's log holds every connect reply, and each names the gateway version that
    answered; a driver reaching another cell's gateway of another version shows up here.
    """
    problems: list[str] = []
    if not run_dir.is_dir():
        return problems
    for cell_dir in sorted(p for p in run_dir.iterdir() if p.is_dir() and "--gateway-" in p.name):
        expected = cell_dir.name.split("--gateway-", 1)[1].split("--", 1)[0]
        for log in sorted(cell_dir.glob("client-*.log")):
            with contextlib.suppress(OSError):
                seen = {m["version"] for m in _GATEWAY_VERSION.finditer(log.read_text(errors="replace"))}
                if seen - {expected}:
                    problems.append(f"{cell_dir.name}/{log.name}: connected to gateway version(s) "
                                    f"{sorted(seen - {expected})}, the cell's is {expected}")
    return problems


BAD_VERDICTS = frozenset({"fail", "error", "stale", "flaky"})


def verdicts(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(cell id, scenario) -> verdict from a JSON report."""
    return {(cell["cell_id"], s["scenario"]): s["verdict"] for cell in report.get("cells", ())
            for s in cell.get("scenarios", ())}


def report_problems(report: dict[str, Any] | None, reference: dict[tuple[str, str], str] | None) -> list[str]:
    """Bad verdicts, results filed under another cell, and differences from the reference run."""
    if report is None:
        return ["no JSON report was written"]
    problems = []
    for cell in report.get("cells", ()):
        for scenario in cell.get("scenarios", ()):
            where = f"{cell['cell_id']} {scenario['scenario']}"
            if scenario["verdict"] in BAD_VERDICTS:
                problems.append(f"{where}: verdict {scenario['verdict']}: {str(scenario.get('message'))[:200]}")
            # xdist's loadgroup suffixes node ids with "@<group>"; the group is the cell id too.
            nodeid, _, group = str(scenario.get("nodeid", "")).partition("@")
            if scenario["cell_id"] != cell["cell_id"] or not nodeid.endswith(f"[{cell['cell_id']}]") \
                    or group not in ("", cell["cell_id"]):
                problems.append(f"{where}: result names cell {scenario['cell_id']} / node {scenario.get('nodeid')}")
    if reference is not None:
        got = verdicts(report)
        for key in sorted(set(reference) | set(got)):
            if reference.get(key) != got.get(key):
                problems.append(f"{key[0]} {key[1]}: verdict {got.get(key)}, reference run said {reference.get(key)}")
    return problems


def envs_built(report: dict[str, Any] | None) -> dict[str, bool]:
    """Env directory name -> built (True) or reused (False), as the plugin reported them."""
    if report is None:
        return {}
    return {Path(str(e["path"])).name: bool(e["built"]) for e in report.get("envs", ())}
