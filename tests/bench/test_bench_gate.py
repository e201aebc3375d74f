"""The gate's decision record: exit codes, the matrix report's bench section, history over verdicts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from compat.bench.abtest import compare_rounds, void_verdict
from compat.bench.budget import latency_budget
from compat.bench.gate import EXIT_REGRESSION, EXIT_VOID, gate_exit, gate_record, write_into_report
from compat.bench.history import describe_gates, load_gates
from compat.bench.loadpoint import CORRECTED, LoadPoint
from compat.report.html import render_html
from compat.report.markdown import render_markdown
from compat.results.jsonfile import load_json, merge, render_json
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict


def _point(label: str, p50_us: float, cpu: dict[str, float]) -> LoadPoint:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    histogram.record_value(int(p50_us * 1000), 10)
    return LoadPoint(label=label, target_rate=1000.0, achieved_rate=1000.0, ack_rate=1000.0,
                     counts={"sent": 10, "acked": 10}, histograms={CORRECTED: histogram},
                     exact_max={CORRECTED: int(p50_us * 1000)}, overhead_ns_mean=0.0, record_ns_per_sample=0.0,
                     invalid_reasons=[], drivers=1, extra={"cpu_us_per_order": cpu})


def _verdict(gateway_cpu_b: float, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    a = [_point("a", 500 * (1 + rng.gauss(0, 0.02)), {"gateway": 200 * (1 + rng.gauss(0, 0.01))}) for _ in range(8)]
    b = [_point("b", 500 * (1 + rng.gauss(0, 0.02)), {"gateway": gateway_cpu_b * (1 + rng.gauss(0, 0.01))})
         for _ in range(8)]
    return compare_rounds("A:gateway-3.0.0", "B:gateway-3.0.0+slow60", a, b, {"p50": 0.05, "cpu.gateway": 0.05})


def _record(verdict, run_id: str = "r1"):  # type: ignore[no-untyped-def]
    return gate_record(verdict, run_id=run_id, timestamp="2026-12-07T10:00:00Z",
                       thresholds={"p50": 0.05, "cpu.gateway": 0.05}, declared=True, client="3.0.0", venue="obx",
                       rounds=8, duration_s=8.0, rate=1000.0, reruns=[{"round": 3, "attempt": 1, "why": "A: short"}])


def test_exit_codes_follow_the_verdict() -> None:
    assert gate_exit(_verdict(200)) == 0
    assert gate_exit(_verdict(260)) == EXIT_REGRESSION
    assert gate_exit(void_verdict(_verdict(200), ["A: 3 lost"])) == EXIT_VOID


def test_the_record_is_self_contained_json() -> None:
    record = _record(_verdict(260))
    assert json.loads(json.dumps(record)) == record  # no inf, no NaN, nothing unserialisable
    assert (record["verdict"], record["passed"], record["exit"]) == ("regression", False, EXIT_REGRESSION)
    assert record["decided_by"] == ["cpu.gateway"] and record["thresholds_from"] == "matrix.yaml bench.gate"
    assert record["measures"]["cpu.gateway"]["ratio"] == pytest.approx(1.3, rel=0.03)


def _report(tmp_path: Path) -> Path:
    cell = CellResult(cell_id="client-3.0.0--gateway-3.0.0--venue-obx", client_version="3.0.0",
                      gateway_version="3.0.0", venue="obx",
                      scenarios=(ScenarioResult(cell_id="client-3.0.0--gateway-3.0.0--venue-obx", scenario="insert_ack",
                                                verdict=Verdict.PASS),))
    path = tmp_path / "report.json"
    path.write_text(render_json(RunResults(cells=(cell,))))
    return path


def test_the_verdict_lands_in_the_matrix_reports_bench_section_and_its_renderings(tmp_path: Path) -> None:
    path = _report(tmp_path)
    write_into_report(path, _record(_verdict(260)))
    results = load_json(path)
    assert results.bench["gate"]["verdict"] == "regression"
    assert results.cells[0].scenarios[0].verdict is Verdict.PASS  # the rest of the report is untouched
    markdown = render_markdown(results)
    assert "### Benchmark gate: **FAILED**" in markdown and "| cpu.gateway | 1.3" in markdown
    assert "Rounds rerun: 1 (round 3: A: short)" in markdown
    html = render_html(results)
    assert 'id="bench-gate"' in html and "Benchmark gate: FAILED" in html
    # Shards carrying the same verdict merge; the section survives the merge.
    assert merge([results, results]).bench == results.bench


def test_a_missing_report_is_a_clear_error(tmp_path: Path) -> None:
    from compat.errors import ResultsError

    with pytest.raises(ResultsError, match="cannot read results"):
        write_into_report(tmp_path / "nope.json", _record(_verdict(200)))


def test_history_lists_the_verdicts_and_finds_the_step_in_a_measure(tmp_path: Path) -> None:
    for number in range(8):
        verdict = _verdict(200 if number < 4 else 240, seed=number)
        directory = tmp_path / f"run{number}"
        directory.mkdir()
        (directory / "bench.json").write_text(json.dumps({"gate": _record(verdict, f"run{number}")}))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "bench.json").write_text(json.dumps({"gate": None}))  # a run without --gate
    gates = load_gates(tmp_path)
    assert [g["run_id"] for g in gates] == [f"run{n}" for n in range(8)]
    text = describe_gates(gates, "cpu.gateway", min_size=3)
    assert "8 gate verdict(s)" in text and "regression" in text
    assert "shift at run run4" in text


def test_the_budget_splits_what_the_gateway_adds_over_the_floor_by_extra_cpu() -> None:
    floor = _point("floor", 200, {"relay": 50, "echo": 30, "client": 100})
    gateway = _point("gateway", 400, {"gateway": 150, "exchange": 80, "client": 100})
    budget = latency_budget(gateway, floor)
    assert budget is not None
    assert budget.ratio == pytest.approx(2.0, rel=0.01)
    assert budget.beyond_cpu_us == {"gateway": 100, "exchange": 50, "client": 0}
    assert budget.shares["floor"] == pytest.approx(0.5, rel=0.01)
    assert budget.shares["gateway"] == pytest.approx(2 * budget.shares["exchange"])
    assert sum(budget.shares.values()) == pytest.approx(1.0, rel=0.01)
    assert "2.00 x floor" in budget.describe()
    assert latency_budget(_point("g", 400, {}), floor) is None
