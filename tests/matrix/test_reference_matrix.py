"""The real reference matrix, run the way a user runs it: every verdict must match matrix.yaml.

This is the truth-table test: each (cell, scenario) ends pass, n/a or expected-fail, with no
fail, stale or error left unexplained, on both venues, with no process left behind. It runs
the matrix in a subprocess exactly as the README's first command does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXPLAINED = {"pass", "n/a", "expected-fail"}
# issue 16's bounds of the reference matrix's reports (also held on a synthetic run of its size
# by tests/report/test_report_size.py and the browser test)
HTML_MAX_BYTES, JSON_MAX_BYTES = 3_000_000, 5_000_000


def run_matrix(cache: Path, report: Path, *args: str, timeout_s: float = 2400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("COMPAT_RUN_ID", None)
    command = [sys.executable, "-m", "pytest", "tests/compat", "-m", "compat", "-p", "no:randomly", "-q",
               "--compat-cache-dir", str(cache), "--compat-report-json", str(report), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)


def load(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def unexplained(data: dict[str, Any]) -> list[str]:
    return [f"{c['cell_id']}::{s['scenario']} -> {s['verdict']}: {s.get('reason')}"
            for c in data["cells"] for s in c["scenarios"] if s["verdict"] not in EXPLAINED]


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.slow
def test_full_reference_matrix_matches_the_truth_table(tmp_path: Path) -> None:
    before = _descendants()
    html = tmp_path / "matrix.html"
    result = run_matrix(tmp_path / "cache", tmp_path / "matrix.json", "-n", "2", "--compat-report-html", str(html))
    data = load(tmp_path / "matrix.json")
    # issue 16: the reports stay small (evidence and whole failure texts only where they explain)
    sizes = {"json": (tmp_path / "matrix.json").stat().st_size, "html": html.stat().st_size}
    assert sizes["json"] <= JSON_MAX_BYTES and sizes["html"] <= HTML_MAX_BYTES, sizes
    problems = unexplained(data)
    assert not problems, "verdicts matrix.yaml does not explain:\n" + "\n".join(problems[:40])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    venues = {c["venue"] for c in data["cells"]}
    clients = {c["client_version"] for c in data["cells"]}
    gateways = {c["gateway_version"] for c in data["cells"]}
    assert venues == {"obx", "tlx"}
    assert len(clients) >= 5 and len(gateways) >= 5, (clients, gateways)
    assert len(data["cells"]) == len(clients) * len(gateways) * len(venues), "a cell is missing"
    # Every deliberate break of the release history is caught, not hidden behind n/a:
    assert any(s["verdict"] == "expected-fail" for c in data["cells"] for s in c["scenarios"])
    # N + M envs, not N × M.
    assert len(data["envs"]) == len(clients) + len(gateways), data["envs"]
    assert _descendants() <= before, "processes of the matrix run survived it"


def test_warm_cache_rebuilds_nothing(tmp_path: Path) -> None:
    """A 2 client × 2 gateway slice of released versions, twice: the second run reuses every env."""
    # Without the verdict cache: the warm run must run its scenarios, in the envs it reuses.
    cells = ["--compat-cells", "client-2.[01].0--gateway-2.[01].0--venue-obx", "--compat-no-candidate",
             "-k", "insert_ack or cancel or logon", "--compat-verdict-cache", "none"]
    cold = run_matrix(tmp_path / "cache", tmp_path / "cold.json", *cells, timeout_s=900)
    assert cold.returncode == 0, cold.stdout[-3000:]
    warm = run_matrix(tmp_path / "cache", tmp_path / "warm.json", *cells, timeout_s=900)
    assert warm.returncode == 0, warm.stdout[-3000:]
    cold_envs, warm_envs = load(tmp_path / "cold.json")["envs"], load(tmp_path / "warm.json")["envs"]
    assert len(cold_envs) == 4 and all(e["built"] for e in cold_envs), cold_envs
    assert len(warm_envs) == 4 and not any(e["built"] for e in warm_envs), warm_envs
    assert {c["cell_id"] for c in load(tmp_path / "warm.json")["cells"]} == {
        f"client-{c}--gateway-{g}--venue-obx" for c in ("2.0.0", "2.1.0") for g in ("2.0.0", "2.1.0")
    }
