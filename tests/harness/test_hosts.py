"""Same results everywhere: one real cell's scenarios on local, netns and ssh hosts.

Each run is the real thing, end to end: ``pytest -m compat --compat-host ROLE=SPEC`` in a
subprocess, with the reference products from wheelhouse/, the simulated exchange, the
plugin's fixtures and its JSON report. The verdict of every scenario must match the
all-local run, and the report must name the host each role ran on.

Needs root + iproute2 (netns) and openssh-server (ssh); each part skips with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compat.harness.netns import netns_unavailable_reason
from compat.harness.sshd import SshdServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CELL = "client-2.0.0--gateway-2.0.0--venue-obx"
# Session, orders, fills against the book, market data, and a live gateway swap on the same host.
SCENARIOS = "logon or insert_ack or cancel or partial_then_full_fill or snapshot_then_incrementals or live_upgrade"
RUN_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class CellRun:
    verdicts: dict[str, str]
    hosts: dict[str, str]
    output: str
    log_dir: Path


def run_cell(tmp_path: Path, label: str, hosts: Mapping[str, str], env: Mapping[str, str] | None = None,
             extra_args: tuple[str, ...] = ()) -> CellRun:
    report = tmp_path / f"{label}.json"
    argv = [sys.executable, "-m", "pytest", "tests/compat", "-m", "compat", "-p", "no:randomly", "-q",
            "--compat-no-candidate", "--compat-cells", CELL, "-k", SCENARIOS, "--compat-report-json", str(report),
            *extra_args]
    for role, spec in hosts.items():
        argv += ["--compat-host", f"{role}={spec}"]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPAT_", "PYTEST_"))}
    child_env["COMPAT_RUN_ID"] = f"hosts-{label}-{os.getpid()}"
    child_env.update(env or {})
    done = subprocess.run(argv, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    output = done.stdout + done.stderr
    if not report.is_file():
        pytest.fail(f"{label}: pytest wrote no report (exit {done.returncode}):\n{output[-4000:]}")
    data: dict[str, Any] = json.loads(report.read_text())
    cells = data["cells"]
    if not cells:
        pytest.skip(f"cell {CELL} is not in the plan (wheelhouse changed?):\n{output[-2000:]}")
    (cell,) = cells
    verdicts = {s["scenario"]: s["verdict"] for s in cell["scenarios"]}
    log_dir = REPO / ".compat" / "runs" / child_env["COMPAT_RUN_ID"] / CELL
    return CellRun(verdicts, dict(cell["hosts"]), output, log_dir)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> CellRun:
    run = run_cell(tmp_path_factory.mktemp("local"), "local", {})
    assert run.hosts == {"exchange": "local", "gateway": "local", "client": "local"}
    assert list(run.verdicts.values()).count("pass") >= 5, run.output[-3000:]
    assert "error" not in run.verdicts.values(), run.output[-4000:]
    return run


def assert_same(run: CellRun, baseline: CellRun) -> None:
    assert "error" not in run.verdicts.values(), run.output[-4000:]
    assert run.verdicts == baseline.verdicts, run.output[-4000:]


def gateway_log(run: CellRun) -> str:
    return (run.log_dir / "gateway-2.0.0.log").read_text()


@pytest.mark.skipif(netns_unavailable_reason() is not None, reason=f"netns: {netns_unavailable_reason()}")
def test_three_machines_in_namespaces(local_run: CellRun, tmp_path: Path) -> None:
    """Exchange and gateway each in their own namespace, the client driver in a third, with
    20 ms ± 5 ms injected on the client-gateway link by the fault proxy for every scenario."""
    hosts = {"exchange": "netns:hx", "gateway": "netns:hg", "client": "netns:hc"}
    run = run_cell(tmp_path, "netns", hosts, extra_args=("--compat-link-delay", "20", "--compat-link-jitter", "5"))
    assert run.hosts == {**hosts, "client-gateway link": "fault proxy: delay 20ms ± 5ms"}
    assert_same(run, local_run)
    log = gateway_log(run)
    assert "on host netns:hg: ip netns exec compat-hg-" in log and "10.231." in log
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert "compat-hx-" not in leftover and "compat-hg-" not in leftover  # removed at session end


def test_gateway_and_client_over_ssh(local_run: CellRun, sshd: SshdServer, tmp_path: Path) -> None:
    """Gateway and client driver over ssh to a loopback sshd: shipped venvs, remote pids."""
    remote_root = tmp_path / "remote-root"
    env = {**sshd.environment(), "COMPAT_SSH_REMOTE_ROOT": str(remote_root)}
    hosts = {"gateway": sshd.spec, "client": sshd.spec}
    run = run_cell(tmp_path, "ssh", hosts, env)
    assert run.hosts == {"exchange": "local", **hosts}
    assert_same(run, local_run)
    log = gateway_log(run)
    assert f"on host {sshd.spec}: {remote_root}/envs/refgw-2.0.0-" in log and "started remote pid" in log
    assert list((remote_root / "envs").glob("refclient-2.0.0-*/compat-env.json"))
    assert not list((remote_root / "runs").iterdir())  # run dirs removed when the hosts closed
