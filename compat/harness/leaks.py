"""Leak check: after the session, no process the run started may still be alive.

Every child started through :mod:`compat.harness.command` is registered here with its
create time (so a recycled pid, or a session id recycled by another run, is never mistaken
for ours). Each child leads its own session, so :func:`check_leaks` finds survivors three
ways:

1. a registered child that is still running;
2. any process still in the session of a registered child: grandchildren that were
   orphaned (re-parented to init) when their parent died keep its session id;
3. any descendant of the current process (``psutil.Process().children(recursive=True)``),
   which also catches children started outside the harness.

A grandchild that called ``setsid()`` itself *and* lost its parent escapes all three;
nothing short of a cgroup can follow it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil

from compat import timing
from compat.errors import LeakError


@dataclass(frozen=True)
class Started:
    pid: int
    name: str
    create_time: float  # psutil's create time, identifies the process together with pid


@dataclass(frozen=True)
class Leak:
    """A surviving process: enough to find and kill it by hand."""

    pid: int
    name: str
    cmdline: tuple[str, ...]
    started_as: str  # the harness role it belongs to, or "descendant of pytest"

    def describe(self) -> str:
        return f"pid {self.pid} {self.name!r} ({self.started_as}): {' '.join(self.cmdline) or '?'}"


_lock = threading.Lock()
_started: list[Started] = []


def register(pid: int, name: str) -> None:
    """Remember a child the harness started. Called by command.py right after spawning."""
    try:
        create_time = psutil.Process(pid).create_time()
    except psutil.Error:
        return  # already gone and reaped: it cannot leak
    with _lock:
        _started.append(Started(pid, name, create_time))


def started() -> list[Started]:
    with _lock:
        return list(_started)


def _is_live(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(proc: psutil.Process, started_as: str) -> Leak | None:
    try:
        with proc.oneshot():
            return Leak(proc.pid, proc.name(), tuple(proc.cmdline()), started_as)
    except psutil.Error:
        return None


def _default_ignore(proc: psutil.Process) -> bool:
    """Descendants that belong to the test runner itself, not to the run (xdist workers)."""
    try:
        cmdline = " ".join(proc.cmdline())
    except psutil.Error:
        return True
    return "execnet" in cmdline or "xdist" in cmdline


def check_leaks(
    *,
    include_descendants: bool = True,
    ignore: Callable[[psutil.Process], bool] | None = _default_ignore,
) -> list[Leak]:
    """Every process of the run that is still alive, deduplicated by pid."""
    found: dict[int, Leak] = {}
    records = started()
    by_pid = {r.pid: r for r in records}
    me = os.getpid()

    def add(proc: psutil.Process, started_as: str) -> None:
        if proc.pid == me or proc.pid in found or not _is_live(proc):
            return
        if ignore is not None and started_as == "descendant of pytest" and ignore(proc):
            return
        leak = _describe(proc, started_as)
        if leak is not None:
            found[leak.pid] = leak

    for record in records:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(record.pid)
            if proc.create_time() == record.create_time:
                add(proc, record.name)

    if records:
        earliest = min(r.create_time for r in records)
        ours: dict[int, bool] = {}
        for proc in psutil.process_iter(["create_time"]):
            with contextlib.suppress(OSError, psutil.Error):
                sid = os.getsid(proc.pid)
                leader = by_pid.get(sid)
                if leader is None or proc.info["create_time"] < earliest:
                    continue
                if sid not in ours:
                    ours[sid] = _session_still_ours(leader)
                if ours[sid]:
                    add(proc, f"session of {leader.name}")

    if include_descendants:
        with contextlib.suppress(psutil.Error):
            for proc in psutil.Process(me).children(recursive=True):
                add(proc, "descendant of pytest")
    return sorted(found.values(), key=lambda leak: leak.pid)


def _session_still_ours(leader: Started) -> bool:
    """Whether session id ``leader.pid`` is still the session our child led.

    Linux keeps a pid number allocated while any process still uses it as a session id, so
    while members of our child's session live, nobody else can get that pid. Once the whole
    session has died the number is free: another run's process may get it and call setsid(),
    and its session then carries our old id (seen: a concurrent matrix run's exchange was
    killed as this run's leak). A live process at that pid with another create time means
    exactly that. (If that other leader has died too and only its members remain, they are
    still taken for ours: nothing left tells the two apart.)"""
    try:
        return psutil.Process(leader.pid).create_time() == leader.create_time
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def kill(leaks: Sequence[Leak]) -> None:
    """SIGKILL the given survivors (best effort) so one leak does not poison later runs."""
    for leak in leaks:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(leak.pid, signal.SIGKILL)
    # Wait until each is dead or a zombie. Not psutil's wait(): on our own child it would
    # reap the exit status that the child's Popen (and so Process.stop) still wants to read.
    deadline = timing.Deadline(5.0)
    pending = list(leaks)
    while pending and not deadline.expired():
        pending = [leak for leak in pending if _is_live_pid(leak.pid)]
        if pending:
            threading.Event().wait(0.02)


def _is_live_pid(pid: int) -> bool:
    try:
        return _is_live(psutil.Process(pid))
    except psutil.Error:
        return False


def assert_no_leaks(*, kill_survivors: bool = True) -> None:
    """Raise LeakError listing every survivor; by default kill them first."""
    leaks = check_leaks()
    if not leaks:
        return
    if kill_survivors:
        kill(leaks)
    lines = "\n".join(f"  {leak.describe()}" for leak in leaks)
    action = "killed them now" if kill_survivors else "left them running"
    raise LeakError(
        f"{len(leaks)} process(es) started by this run survived the session ({action}):\n{lines}\n"
        "A test or fixture started a process without stopping it; use Host.start inside an "
        "ExitStack/fixture finalizer and Process.stop()."
    )
