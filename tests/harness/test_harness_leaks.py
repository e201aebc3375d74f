"""The leak check finds survivors, including orphaned and detached grandchildren."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest

from compat.errors import LeakError
from compat.harness import Command, LocalHost, ReadyLine, check_leaks, leaks

HELPERS = Path(__file__).parent / "helpers"
GRANDCHILD_READY = r"PARENT READY grandchild=(?P<pid>\d+)"


def _start(mode: str, tmp_path: Path) -> tuple[int, int, object]:
    cmd = Command((sys.executable, str(HELPERS / "spawns_grandchild.py"), mode), name=f"parent-{mode}")
    proc = LocalHost().start(cmd, ReadyLine(GRANDCHILD_READY), tmp_path)
    return proc.pid, int(proc.ready_info["pid"]), proc


def test_orphaned_grandchild_is_found_by_session(tmp_path: Path) -> None:
    parent_pid, grandchild_pid, proc = _start("same-session", tmp_path)
    os.kill(parent_pid, signal.SIGKILL)  # kill only the parent: the grandchild is orphaned
    assert proc.wait(10) == -signal.SIGKILL  # type: ignore[attr-defined]
    found = {leak.pid: leak for leak in check_leaks()}
    try:
        assert grandchild_pid in found
        assert parent_pid not in found
        assert found[grandchild_pid].started_as == "session of parent-same-session"
    finally:
        proc.stop(grace_s=1)  # type: ignore[attr-defined]
    assert grandchild_pid not in {leak.pid for leak in check_leaks()}


def test_detached_grandchild_is_found_as_descendant_and_stopped(tmp_path: Path) -> None:
    parent_pid, grandchild_pid, proc = _start("own-session", tmp_path)
    grandchild = psutil.Process(grandchild_pid)
    try:
        found = {leak.pid: leak for leak in check_leaks()}
        assert parent_pid in found  # still running: a leak if the session ended now
        assert grandchild_pid in found
        assert found[grandchild_pid].started_as == "descendant of pytest"
        assert "signal.pause" in " ".join(found[grandchild_pid].cmdline)
    finally:
        proc.stop(grace_s=1)  # type: ignore[attr-defined]
    # A group signal misses a setsid() grandchild; stop() finds and kills it, and says so.
    assert not grandchild.is_running()
    assert "detached descendants outside the process group survived" in proc.log_path.read_text()  # type: ignore[attr-defined]


def test_orphaned_detached_grandchild_is_reported_once_registered(tmp_path: Path) -> None:
    parent_pid, grandchild_pid, proc = _start("own-session", tmp_path)
    # Simulate a stop that saw the grandchild, then lost its parent before cleanup.
    leaks.register(grandchild_pid, "detached descendant of parent-own-session")
    os.kill(parent_pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL  # type: ignore[attr-defined]
    try:
        found = {leak.pid: leak for leak in check_leaks()}
        assert found[grandchild_pid].started_as == "detached descendant of parent-own-session"
    finally:
        leaks.kill([leak for leak in check_leaks() if leak.pid == grandchild_pid])
        proc.stop()  # type: ignore[attr-defined]
    assert grandchild_pid not in {leak.pid for leak in check_leaks()}


def test_assert_no_leaks_raises_and_kills(tmp_path: Path) -> None:
    parent_pid, grandchild_pid, proc = _start("same-session", tmp_path)
    with pytest.raises(LeakError) as info:
        leaks.assert_no_leaks()
    message = str(info.value)
    assert f"pid {parent_pid}" in message
    assert f"pid {grandchild_pid}" in message
    assert "killed them now" in message
    assert proc.wait(10) == -signal.SIGKILL  # type: ignore[attr-defined]
    proc.stop()  # type: ignore[attr-defined]
    assert not [leak for leak in check_leaks() if leak.pid in (parent_pid, grandchild_pid)]


def test_a_session_id_recycled_by_another_run_is_not_ours(tmp_path: Path) -> None:
    """Our child's session died, its pid was handed to another run's process, which called
    setsid(): that session carries our old id but is not ours, and must never be killed as
    our leak (a concurrent matrix run lost its exchange that way)."""
    other_run = psutil.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
    try:
        assert os.getsid(other_run.pid) == other_run.pid
        recycled = leaks.Started(other_run.pid, "gateway-of-a-finished-cell", other_run.create_time() - 60.0)
        with leaks._lock:
            leaks._started.append(recycled)
        try:
            found = {leak.pid for leak in check_leaks(include_descendants=False)}
        finally:
            with leaks._lock:
                leaks._started.remove(recycled)
        assert other_run.pid not in found
    finally:
        other_run.kill()
        other_run.wait(10)
