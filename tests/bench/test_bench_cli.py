"""`compat bench` end to end (real processes): floor only, the gateway's alternating rounds, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_floor_only_run_writes_every_output_and_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--floor-only", "--rate", "500", "--duration", "1.0", "--warmup", "0.2",
                 "--stall-ms", "150", "--store", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FLOOR" in out and "DETECTED" in out and "RESULT         valid" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    names = {p.name for p in run_dir.iterdir()}
    assert {"bench.json", "bench.csv", "bench.influx", "bench.om.txt", "spectrum.png",
            "floor.corrected_ack.hgrm"} <= names
    run = json.loads((run_dir / "bench.json").read_text())
    assert run["schema"] == "compat-bench/1"
    assert run["floor"]["valid"] is True
    assert run["self_test"]["check"]["detected"] is True
    assert (run_dir / "bench.om.txt").read_text().endswith("# EOF\n")
    assert "Percentile" in (run_dir / "floor.corrected_ack.hgrm").read_text()


def test_gateway_run_alternates_floor_and_gateway_rounds_and_merges_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # matrix.yaml and the candidate's envs
    code = main(["bench", "--rate", "300", "--duration", "2.0", "--warmup", "0.3", "--rounds", "2",
                 "--stall-ms", "0", "--no-plots", "--store", str(tmp_path / "store"),
                 "--cache-dir", str(REPO / ".compat")])
    out = capsys.readouterr().out
    assert code == 0, out[-4000:]
    (run_dir,) = [p for p in (tmp_path / "store").iterdir() if p.is_dir()]
    run = json.loads((run_dir / "bench.json").read_text())
    floor_rounds, gateway_rounds = run["rounds"].values()
    assert [p["label"] for p in floor_rounds] == ["floor#1", "floor#2"]
    assert len(gateway_rounds) == 2 and gateway_rounds[1]["label"].endswith("#2")
    # The headline points are the rounds merged: every measured sample of both rounds.
    for merged, rounds in ((run["floor"], floor_rounds), (run["gateway"][0], gateway_rounds)):
        assert merged["valid"] is True, merged["invalid_reasons"]
        assert merged["counts"]["sent"] == sum(p["counts"]["sent"] for p in rounds)
        assert merged["percentiles_ns"]["corrected_ack"]["count"] == \
            sum(p["percentiles_ns"]["corrected_ack"]["count"] for p in rounds)
    goal = run["goal"]
    assert goal["rounds"] == 2 and goal["verdict"] in ("met", "NOT met", "undecided")
    assert goal["ci_low"] <= goal["ratio"] <= goal["ci_high"]
    assert "alternating rounds" in out and "goal           order->ack p50" in out
    assert run["audit"]["match"] is True, run["audit"]


def _store_run(store: Path, run_id: str, p50_ns: int, gateway_version: str = "3.0.0") -> None:
    directory = store / run_id
    directory.mkdir(parents=True)
    floor = {"label": "floor", "valid": True, "percentiles_ns": {"corrected_ack": {"p50": 50_000}}}
    gateway = {"label": f"gateway-{gateway_version}", "valid": True,
               "percentiles_ns": {"corrected_ack": {"p50": p50_ns}}}
    selftest = {"label": f"gateway-{gateway_version}-selftest", "valid": True,
                "percentiles_ns": {"corrected_ack": {"p50": 10 * p50_ns}}}
    run = {"schema": "compat-bench/1", "run_id": run_id, "floor": floor, "sweep": [], "gateway": [gateway, selftest]}
    (directory / "bench.json").write_text(json.dumps(run))


def test_history_flags_a_confirmed_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = [100_000, 101_000, 99_000, 100_500, 99_500, 100_000, 130_000, 131_000, 129_000, 130_500]
    for number, value in enumerate(values):  # the gateway's version changes with the step
        _store_run(tmp_path, f"run{number:02d}", value, "3.0.0" if number < 6 else "3.1.0")
    assert main(["bench", "history", "--store", str(tmp_path), "--min-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "10 runs of p50" in out  # the headline point of every version, never the self-test
    assert "CONFIRMED shift at run run06" in out
    assert main(["bench", "history", "--store", str(tmp_path), "--label", "floor", "--min-size", "3"]) == 0
    assert "no shift" in capsys.readouterr().out


def test_history_without_a_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "history", "--store", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
