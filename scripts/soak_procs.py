"""Which processes belong to one soak run, and which of them outlived it.

A process counts as the run's when any of these holds:

* it was seen as a descendant of the run's pytest while the run was alive (a watcher thread
  walks ``psutil`` children every few tens of milliseconds);
* it carries the run's marker variable (``COMPAT_SOAK_RUN_ID``) in its environment, which
  pytest and everything that inherits pytest's environment do;
* its command line names one of the run's private paths (its run directory, the env scratch
  directories), which the exchange, gateway and uv builds do even though the harness hands
  them a minimal environment;
* it is a live descendant of the soak itself: the soak makes itself a *child subreaper*
  (``prctl(PR_SET_CHILD_SUBREAPER)``), so a process orphaned anywhere below it is re-parented
  to the soak instead of to init, even after ``setsid()`` and a double fork.

Zombies are not survivors (they hold no resources but a pid); the soak reaps those re-parented
to it so they do not pile up over 50 runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

MARKER_VAR = "COMPAT_SOAK_RUN_ID"
_PR_SET_CHILD_SUBREAPER = 36
_WATCH_INTERVAL_S = 0.03


def become_subreaper() -> bool:
    """Make orphans below us re-parent to us (Linux >= 3.4); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class Survivor:
    pid: int
    name: str
    cmdline: str
    found_by: tuple[str, ...]

    def describe(self) -> str:
        return f"pid {self.pid} {self.name!r} [{', '.join(self.found_by)}]: {self.cmdline[:200]}"

    def as_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "name": self.name, "cmdline": self.cmdline, "found_by": list(self.found_by)}


def _live(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class RunTracker:
    """Follows the process tree of one run from its start until the survivor check."""

    def __init__(self, run_id: str, private_paths: Iterable[str]) -> None:
        self.run_id = run_id
        self.private_paths = tuple(p for p in private_paths if p)
        self._seen: dict[int, float] = {}  # pid -> create_time, so a recycled pid is not ours
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._root: psutil.Process | None = None

    @property
    def seen_count(self) -> int:
        with self._lock:
            return len(self._seen)

    def watch(self, root_pid: int) -> None:
        """Start walking ``root_pid``'s descendants in the background."""
        with contextlib.suppress(psutil.Error):
            self._root = psutil.Process(root_pid)
        self._thread = threading.Thread(target=self._loop, name=f"soak-watch-{self.run_id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(_WATCH_INTERVAL_S)

    def sample(self) -> None:
        root = self._root
        if root is None:
            return
        try:
            children = root.children(recursive=True)
        except psutil.Error:
            return  # the root is gone; orphans are found through the subreaper and the marker
        with self._lock:
            for child in children:
                with contextlib.suppress(psutil.Error):
                    self._seen.setdefault(child.pid, child.create_time())

    def stop_watching(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def survivors(self, exclude: Iterable[int] = ()) -> list[Survivor]:
        """Every live process of this run, with the ways it was recognised."""
        skip = set(exclude) | {os.getpid()}
        found: dict[int, list[str]] = {}
        procs: dict[int, psutil.Process] = {}

        def note(proc: psutil.Process, how: str) -> None:
            if proc.pid in skip or not _live(proc):
                return
            procs.setdefault(proc.pid, proc)
            if how not in found.setdefault(proc.pid, []):
                found[proc.pid].append(how)

        with self._lock:
            seen = dict(self._seen)
        for pid, created in seen.items():
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.create_time() == created:
                    note(proc, "seen under pytest")
        with contextlib.suppress(psutil.Error):
            for proc in psutil.Process().children(recursive=True):
                note(proc, "orphan re-parented to the soak")
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if proc.pid in skip:
                    continue
                if proc.environ().get(MARKER_VAR) == self.run_id:
                    note(proc, "soak marker in environment")
                cmdline = " ".join(proc.cmdline())
                if any(path in cmdline for path in self.private_paths):
                    note(proc, "command line names the run's paths")
        result = []
        for pid, hows in sorted(found.items()):
            proc = procs[pid]
            try:
                name, cmdline = proc.name(), " ".join(proc.cmdline())
            except psutil.Error:
                continue  # exited between the scan and now: not a survivor
            result.append(Survivor(pid, name, cmdline, tuple(hows)))
        return result


def kill(survivors: Iterable[Survivor], timeout_s: float = 5.0) -> list[int]:
    """SIGKILL survivors so one finding does not poison the next run; pids still alive after."""
    procs = []
    for survivor in survivors:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(survivor.pid)
            proc.send_signal(signal.SIGKILL)
            procs.append(proc)
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    reap_orphans()
    return [p.pid for p in alive if _live(p)]


def reap_orphans(keep: Iterable[int] = ()) -> int:
    """Reap zombie children re-parented to us (never ``keep``: Popen objects still want those)."""
    kept = set(keep)
    reaped = 0
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children():
            if child.pid in kept:
                continue
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)
                    reaped += 1
    return reaped
