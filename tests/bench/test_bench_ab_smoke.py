"""CI smoke of ``compat bench --compare ... --gate`` and ``--calibrate``: real stacks, VALIDITY only.

Small runs (200 orders/s, six 1 s rounds a side) on real processes. What is asserted holds on
a busy machine as on a quiet one, and never a time:

- the gate: a copy of the released gateway that burns 1 ms per order (five times what the
  gateway itself costs) is a regression, decided by the gateway's CPU per order, exit 4, the
  run valid (no loss, both audits match) and its verdict written into the matrix report;
- the calibration: the gateway against itself with +500 us of proxy CPU per order on B is a
  valid calibration (every injected effect at least twice its MDE was seen), the proxy's
  known CPU effect was detected above its MDE, and every deciding measure has a finite MDE.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from compat.cli import main
from compat.results.jsonfile import load_json, render_json
from compat.results.model import RunResults

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import slowed_wheel  # scripts/slowed_wheel.py (scripts is not a package)

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ~45 s each on a busy 2-core machine

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--rate", "200", "--duration", "1", "--warmup", "0.2", "--rounds", "6", "--stall-ms", "0", "--no-plots",
         "--matrix", str(REPO / "matrix.yaml"), "--cache-dir", str(REPO / ".compat"), "--client", "3.0.0"]


def _run_json(store: Path) -> dict:  # type: ignore[type-arg]
    (run_dir,) = [p for p in store.iterdir() if p.is_dir()]
    return json.loads((run_dir / "bench.json").read_text())  # type: ignore[no-any-return]


def test_gate_calls_a_slowed_gateway_a_regression_and_writes_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = slowed_wheel.slowed(tmp_path / "wheels", busy_us=1000)
    report = tmp_path / "report.json"
    report.write_text(render_json(RunResults(cells=())))
    code = main(["bench", "--compare", "gateway=3.0.0,HEAD", "--candidate", f"gateway={wheel}", "--gate",
                 "--report", str(report), "--store", str(tmp_path / "store"), *SMALL])
    out = capsys.readouterr().out
    assert code == 4, out[-5000:]
    run = _run_json(tmp_path / "store")
    gate = run["gate"]
    assert gate["verdict"] == "regression" and "cpu.gateway" in gate["decided_by"], gate["headline"]
    assert gate["b"] == "B:gateway-3.0.0+slow1000"
    assert all(audit["checked"] and audit["match"] for audit in run["audits"].values()), run["audits"]
    for points in run["ab_rounds"].values():
        assert len(points) == 6 and all(p["valid"] and p["counts"]["lost"] == 0 for p in points)
    assert load_json(report).bench["gate"]["run_id"] == run["run_id"]
    assert "GATE           FAILED: regression (exit 4)" in out


def test_calibration_finds_its_injected_cost_and_reports_every_mde(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--calibrate", "500", "--gateway", "3.0.0", "--store", str(tmp_path), *SMALL])
    out = capsys.readouterr().out
    assert code == 0, out[-5000:]
    calibration = _run_json(tmp_path)["calibration"]
    assert calibration["valid"] is True
    known = {k["measure"]: k for k in calibration["known"]}
    proxy = known["cpu.proxy"]
    assert proxy["above_mde"] and proxy["detected"], proxy  # an effect above the MDE, and it was seen
    mde = {s["measure"]: s["mde"] for s in calibration["sensitivity"]}
    assert {"p50", "cpu.gateway", "cpu.exchange", "cpu.client"} <= set(mde)
    assert all(value is not None and value > 0 for value in mde.values()), mde
    assert "CALIBRATION" in out and "sensitivity" in out and "calibration    valid" in out
