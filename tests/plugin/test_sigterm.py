"""SIGTERM (a cancelled CI job, `timeout`, `kill`) mid-scenario stops every process the run
started, serial and under xdist: real pytest runs of one real cell, terminated while the
cell's gateway is up; then psutil checks that none of the run's descendants (exchange,
gateway, drivers, workers) and no process carrying the run's marker is still alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psutil
import pytest

from compat import timing

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CELL = "client-3.0.0--gateway-3.0.0--venue-obx"
MARK = "COMPAT_SIGTERM_TEST"


def _marked(mark: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _wait_for_gateway(run_dir: Path, child: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = timing.Deadline(timeout_s)
    while not deadline.expired():
        logs = list(run_dir.glob(f"{CELL}/gateway-*.log"))
        if logs and "ready:" in logs[0].read_text(errors="replace"):
            return
        if child.poll() is not None:
            output = child.stdout.read() if child.stdout else ""
            pytest.fail(f"the run ended (exit {child.returncode}) before its gateway was up:\n{output[-3000:]}")
        threading.Event().wait(0.05)  # polling the log file for the ready line, under a deadline
    pytest.fail(f"no ready gateway under {run_dir} within {timeout_s:.0f}s")


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_sigterm_mid_run_leaves_nothing_behind(tmp_path: Path, workers: tuple[str, ...]) -> None:
    mark = uuid.uuid4().hex
    run_id = f"sigterm-{mark[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPAT_", "PYTEST_"))}
    env.update({MARK: mark, "COMPAT_RUN_ID": run_id})
    argv = [sys.executable, "-m", "pytest", "tests/compat", "-m", "compat", "-p", "no:randomly", "-q",
            "--compat-no-candidate", "--compat-cells", CELL, "-k", "stall_gateway or insert_ack",
            "--compat-store", "none",
            # the run must really start its processes: no result replayed from the verdict cache
            "--compat-verdict-cache", "none", *workers]
    child = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    try:
        _wait_for_gateway(REPO / ".compat" / "runs" / run_id, child, timeout_s=180.0)
        # Everything the run started, before the signal: the harness gives its children a
        # minimal environment (no marker), but they stay descendants of pytest.
        started = psutil.Process(child.pid).children(recursive=True)
        commands = " ".join(" ".join(p.cmdline()) for p in started)
        assert "compat.exchange" in commands and "refgw" in commands, commands  # else this proves nothing
        # Like a CI runner cancelling a job: SIGTERM to the whole process group.
        os.killpg(child.pid, signal.SIGTERM)
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    survivors = [p for p in started if p.is_running()] + _marked(mark)
    for process in survivors:
        process.kill()
    assert child.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert not survivors, f"processes outlived a SIGTERM'd run: {[p.pid for p in survivors]}\n{output[-3000:]}"
