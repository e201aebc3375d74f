"""The harness soak (scripts/soak.py), bounded: a few real runs of each mode, plus proof that its
checks can fail (a planted orphan is reported as a survivor; a broken env is reported corrupt).

The full soaks (50 interrupted runs, 50 runs under -n 4) are run by hand; docs/soak.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK = ROOT / "scripts" / "soak.py"
CELL = "client-2.0.0--gateway-2.1.0--venue-obx"
CONCURRENT_CELLS = (CELL, "client-3.0.0--gateway-2.1.0--venue-obx", "client-2.0.0--gateway-3.0.0--venue-obx",
                    "client-3.0.0--gateway-3.0.0--venue-tlx")
SOAK_TIMEOUT_S = 300.0  # a bound for a stuck soak, far above the ~20-40 s these take

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _soak(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    summary = tmp_path / "summary.json"
    done = subprocess.run([sys.executable, str(SOAK), *args, "--work-dir", str(tmp_path / "work"),
                           "--summary", str(summary)], cwd=ROOT, capture_output=True, text=True,
                          timeout=SOAK_TIMEOUT_S, env={**os.environ, **(env or {})}, check=False)
    output = done.stdout + done.stderr
    assert summary.is_file(), f"the soak wrote no summary (exit {done.returncode}):\n{output[-3000:]}"
    data: dict[str, Any] = json.loads(summary.read_text(encoding="utf-8"))
    return done.returncode, data, output


def test_interrupt_soak_one_run_per_phase_finds_nothing(tmp_path: Path) -> None:
    code, summary, output = _soak(tmp_path, "interrupt", "--runs", "3", "--cells", CELL)
    assert code == 0, output[-4000:]
    assert summary["runs_completed"] == 3
    assert summary["phases"] == {"env-build": 1, "process-start": 1, "mid-scenario": 1}
    assert summary["findings"] == []
    for run in summary["runs"]:
        assert run["reached"] and run["exit_code"] == 2, run  # 2: pytest's "interrupted"
        assert run["follow_up"]["exit_code"] == 0
    build = next(r for r in summary["runs"] if r["phase"] == "env-build")
    assert build["hit"]["env_complete"] is False  # Ctrl-C landed while the env was being built
    assert build["follow_up"]["built"], "the next run rebuilds the env whose build was interrupted"
    assert "[  3/3]" in output and "verdict: clean" in output


def test_concurrency_soak_two_runs_under_n4_finds_nothing(tmp_path: Path) -> None:
    cells = [arg for cell in CONCURRENT_CELLS for arg in ("--cells", cell)]
    tests = ["--tests", "tests/compat/test_session.py::test_logon", "--tests",
             "tests/compat/test_orders.py::test_insert_ack"]
    code, summary, output = _soak(tmp_path, "concurrency", "--runs", "2", "-n", "4", *cells, *tests)
    assert code == 0, output[-4000:]
    assert summary["runs_completed"] == 2 and summary["findings"] == []
    for run in summary["runs"]:
        assert run["exit_code"] == 0 and run["results"] == 2 * len(CONCURRENT_CELLS)
        assert run["churned"], "each run races the workers on a deleted shared env"


def test_survivor_check_reports_a_planted_orphan(tmp_path: Path) -> None:
    token = f"soak-orphan-{uuid.uuid4().hex[:12]}"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])),
           "SOAK_ORPHAN_TOKEN": token}
    try:
        code, summary, output = _soak(tmp_path, "interrupt", "--runs", "1", "--phases", "process-start",
                                      "--cells", CELL, "--pytest-arg=-p", "--pytest-arg=soak_orphan_plugin", env=env)
        assert code == 1, output[-4000:]
        survivors = [s for r in summary["runs"] for s in r["survivors"] + r["follow_up"]["survivors"]]
        assert survivors, output[-4000:]
        assert all(token in s["cmdline"] for s in survivors), survivors
        assert {"soak marker in environment", "orphan re-parented to the soak"} <= set(survivors[0]["found_by"])
        assert summary["findings_by_kind"]["survivor"] == len(survivors)
        assert "survivor" in output
    finally:
        leftovers = [p for p in psutil.process_iter(["cmdline"]) if token in " ".join(p.info["cmdline"] or ())]
        for proc in leftovers:
            proc.kill()
    assert not leftovers, f"the soak reported but did not kill its survivors: {leftovers}"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(SOAK.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, SOAK.parent / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SOAK.parent))


def test_cache_audit_flags_a_marked_env_that_does_not_work_and_a_rebuild(tmp_path: Path) -> None:
    envs = _load("soak_envs")
    broken = tmp_path / "refgw-9.9.9-py311-0000000000000000"
    broken.mkdir()
    (broken / "compat-env.json").write_text(json.dumps({"package": "refgw", "version": "9.9.9",
                                                        "built_at": "2026-01-01T00:00:00Z"}))
    (tmp_path / "refclient-9.9.9-py311-1111111111111111").mkdir()  # partial: no marker, not judged
    before = envs.scan(tmp_path)
    assert [s.complete for s in before.values()] == [False, True]
    problems = envs.CacheAuditor(tmp_path).corrupt(before)
    assert len(problems) == 1 and "no bin/python" in problems[0]
    (broken / "compat-env.json").write_text(json.dumps({"package": "refgw", "version": "9.9.9",
                                                        "built_at": "2026-01-02T00:00:00Z"}))
    replaced = envs.rebuilt(before, envs.scan(tmp_path), allowed=set())
    assert len(replaced) == 1 and broken.name in replaced[0]
    assert envs.rebuilt(before, envs.scan(tmp_path), allowed={broken.name}) == []


_RUN_A_SLEEPER = (
    "import sys\n"
    "from compat.harness.command import Command, run\n"
    "run(Command(argv=('sleep', sys.argv[1]), name='sleeper'), timeout_s=60)\n"
)


def test_ctrl_c_during_command_run_stops_the_child(tmp_path: Path) -> None:
    """Found by the env-build soak: command.run's child leads its own session, so Ctrl-C never
    reached it and a uv build outlived the run. Now the interrupted run kills its group."""
    token = f"59.{uuid.uuid4().int % 10**6}"  # a sleep length no other process uses
    parent = subprocess.Popen([sys.executable, "-c", _RUN_A_SLEEPER, token], cwd=ROOT, process_group=0,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sleepers() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", token]]

    try:
        deadline = time.monotonic() + 30
        while not sleepers() and time.monotonic() < deadline and parent.poll() is None:
            threading.Event().wait(0.02)  # re-check the process table until the child exists
        assert sleepers(), "the command's child never started"
        os.killpg(parent.pid, signal.SIGINT)  # what Ctrl-C does to a foreground job
        assert parent.wait(timeout=30) != 0
        assert sleepers() == [], "the child of an interrupted command.run survived it"
    finally:
        for proc in sleepers():
            proc.kill()
        if parent.poll() is None:
            parent.kill()
            parent.wait()
