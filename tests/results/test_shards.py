"""A real 3-shard run of the reference matrix gives the verdicts of one full run.

Runs ``pytest -m compat -n 2`` on the ``client-1.*--gateway-1.*`` cells of matrix.yaml once
in full and once as ``--compat-shard 1/3``, ``2/3``, ``3/3``, merges the shard reports with
``compat merge`` and compares every (venue, cell, scenario) verdict. When the plugin has the
results-store options (``--compat-store``, ``--compat-durations``), the shards are balanced by
the durations the full run measured and nothing is recorded; their ``meta.shard`` records
must then agree and the estimated loads differ by at most one cell.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SUBSET = "client-1.*--gateway-1.*"
TIMEOUT_S = 900


def _env() -> dict[str, str]:
    drop = ("GITHUB_STEP_SUMMARY", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def _matrix_run(report: Path, *extra: str) -> dict[str, Any] | None:
    """One run of the subset; its JSON report, or None when it selected no cell."""
    argv = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "-m", "compat", "-n", "2"]
    argv += ["--compat-cells", SUBSET, "--compat-no-candidate", "--compat-report-json", str(report), *extra]
    argv += ["--compat-verdict-cache", "none"]  # every shard runs its cells, as the full run does
    done = _run([*argv, "tests/compat"])
    if done.returncode in (0, 5) and not report.exists():
        return None  # a shard without cells (every scenario skipped, "empty parameter set"): no report
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
    assert done.returncode in (0, 1) and report.exists(), f"{' '.join(argv)} exited {done.returncode}:\n{tail}"
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _verdicts(report: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    # flaky is a pass on rerun: a retry in one run and not the other is not a sharding difference
    return {
        (cell["venue"], cell["cell_id"], s["scenario"]): "pass" if s["verdict"] == "flaky" else s["verdict"]
        for cell in report["cells"]
        for s in cell["scenarios"]
    }


@pytest.fixture(scope="module")
def runnable() -> bool:
    """Whether the plugin has the store options (wired); skip when the matrix cannot run."""
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH: the matrix builds its venvs with uv")
    wheels = {p.name.split("-")[0] + "-" + p.name.split("-")[1][:2] for p in (ROOT / "wheelhouse").glob("*.whl")}
    if not {"refgw-1.", "refclient-1."} <= wheels:
        pytest.skip(f"wheelhouse/ lacks refgw 1.x or refclient 1.x wheels (has {sorted(wheels)})")
    helped = _run([sys.executable, "-m", "pytest", "--help"])
    return "--compat-store" in helped.stdout


@pytest.fixture
def workdir() -> Iterator[Path]:
    # not tmp_path: the run takes minutes, and other pytest sessions of the same user prune
    # old numbered basetemp directories meanwhile
    with tempfile.TemporaryDirectory(prefix="compat-shards-") as path:
        yield Path(path)


def test_three_shards_merge_into_the_verdicts_of_one_full_run(runnable: bool, workdir: Path) -> None:
    wired, tmp_path = runnable, workdir
    quiet = ["--compat-store", "none"] if wired else []
    full = _matrix_run(tmp_path / "full.json", *quiet)
    assert full is not None and len(full["cells"]) == 8, "the subset is 2 clients x 2 gateways x 2 venues"

    extra = list(quiet)
    durations: dict[str, float] = {}
    if wired:
        for cell in full["cells"]:
            durations[cell["cell_id"]] = sum(s["duration_s"] for s in cell["scenarios"])
        (tmp_path / "durations.json").write_text(json.dumps(durations))
        extra += ["--compat-durations", str(tmp_path / "durations.json")]
    shards = {k: _matrix_run(tmp_path / f"shard-{k}.json", "--compat-shard", f"{k}/3", *extra) for k in (1, 2, 3)}
    present = [tmp_path / f"shard-{k}.json" for k, report in shards.items() if report is not None]

    cells_per_shard = [{c["cell_id"] for c in r["cells"]} for r in shards.values() if r is not None]
    assert sum(len(s) for s in cells_per_shard) == len(set().union(*cells_per_shard)) == 8, cells_per_shard

    merged_path = tmp_path / "merged.json"
    merge = _run([sys.executable, "-m", "compat.cli", "merge", *map(str, present), "--output", str(merged_path),
                  "--window", "all"])  # fmt: skip
    assert merge.returncode in (0, 1) and merged_path.exists(), merge.stdout + merge.stderr
    merged = json.loads(merged_path.read_text())
    full_verdicts, merged_verdicts = _verdicts(full), _verdicts(merged)
    differences = {
        key: (full_verdicts.get(key), merged_verdicts.get(key))
        for key in full_verdicts.keys() | merged_verdicts.keys()
        if full_verdicts.get(key) != merged_verdicts.get(key)
    }
    assert not differences, f"(full, merged) verdicts differ: {differences}"
    assert len(full_verdicts) == len(merged_verdicts) > 100

    gate = _run(
        [sys.executable, "-m", "compat.cli", "gate", "--results", str(tmp_path / "full.json"), "--window", "all"]
    )
    assert gate.returncode == merge.returncode, (gate.stdout, merge.stdout)
    assert gate.stdout.splitlines()[-1].split(";")[0] == merge.stdout.splitlines()[-1].split(";")[0]

    if wired:  # balanced by the full run's durations, and the merge checked the set
        records = [r["meta"]["shard"] for r in shards.values() if r is not None]
        assert len(records) == 3 and len({r["basis"] for r in records}) == 1
        loads = [r["estimated_s"] for r in records]
        assert max(loads) - min(loads) <= max(durations.values()) + 0.01, (loads, durations)
        assert merged["meta"]["shards"]["count"] == 3
