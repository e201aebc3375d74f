"""Evidence (wire captures, log tails) kept only where it explains something, and the JSON
schema 2 that stores each distinct log tail once (compat.results.evidence, jsonfile)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from compat.errors import ResultsError
from compat.report.markdown import render_markdown
from compat.results.evidence import prune_evidence
from compat.results.jsonfile import load_json, parse_report, render_json
from compat.results.model import SCHEMA_VERSION, RunResults, Verdict

TAILS = {"gateway": "gw: same tail on every failure", "client": "client tail"}


def _matrix(lit) -> RunResults:  # type: ignore[no-untyped-def]
    """Client 1.0.0 by gateways 1.0.0 … 4.0.0, every scenario with a wire capture and log tails:
    S1 passes on 1.0.0 and 2.0.0 and fails on 3.0.0 (its nearest passing cell is 2.0.0);
    S2 is expected-fail, n/a, stale, flaky, error across them."""
    wire = (lit.LOGON_OUT, lit.LOGON_IN_21, lit.ORDER_OUT, lit.ACK_21)
    bad = (lit.LOGON_OUT, lit.LOGON_IN_22, lit.ORDER_OUT, lit.ACK_22)

    def s(name: str, verdict: Verdict, frames=wire):  # type: ignore[no-untyped-def]
        return lit.sr(name, verdict, wire=frames, log_tails=dict(TAILS))

    return RunResults(cells=(
        lit.cell("1.0.0", "1.0.0", "obx", s("S1", Verdict.PASS), s("S2", Verdict.EXPECTED_FAIL)),
        lit.cell("1.0.0", "2.0.0", "obx", s("S1", Verdict.PASS), s("S2", Verdict.NA)),
        lit.cell("1.0.0", "3.0.0", "obx", s("S1", Verdict.FAIL, bad), s("S2", Verdict.STALE)),
        lit.cell("1.0.0", "4.0.0", "obx", s("S1", Verdict.ERROR), s("S2", Verdict.FLAKY)),
    ))


def _kept(results: RunResults) -> dict[tuple[str, str], tuple[bool, bool]]:
    return {(c.gateway_version, s.scenario): (bool(s.wire), bool(s.log_tails)) for c in results.cells
            for s in c.scenarios}


def test_evidence_stays_on_what_explains_and_on_the_nearest_passing_cell(lit) -> None:  # type: ignore[no-untyped-def]
    pruned = prune_evidence(_matrix(lit))
    assert _kept(pruned) == {
        ("1.0.0", "S1"): (False, False),  # a pass no failure is diffed against
        ("1.0.0", "S2"): (False, False),  # failed as declared
        ("2.0.0", "S1"): (True, False),  # the nearest passing cell of S1's fail (and error) on 3.0.0
        ("2.0.0", "S2"): (False, False),  # n/a
        ("3.0.0", "S1"): (True, True),
        ("3.0.0", "S2"): (True, True),  # stale
        ("4.0.0", "S1"): (True, True),  # error
        ("4.0.0", "S2"): (True, True),  # flaky
    }
    assert prune_evidence(pruned) == pruned  # idempotent


def test_the_wire_diff_reads_the_same_after_pruning(lit) -> None:  # type: ignore[no-untyped-def]
    full = _matrix(lit)
    assert "  - wire: gateway 3.0.0 answered NewOrder with ExecutionReport(price_ticks=20050)" in render_markdown(full)
    assert render_markdown(prune_evidence(full)) == render_markdown(full)
    sample = lit.sample()
    assert render_markdown(prune_evidence(sample)) == render_markdown(sample)


def test_json_stores_each_log_tail_once_and_reads_it_back(lit) -> None:  # type: ignore[no-untyped-def]
    results = _matrix(lit)
    text = render_json(results)
    doc = json.loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert sorted(doc["logs"].values()) == sorted(TAILS.values())  # 4 failures' tails, stored once
    assert text.count(TAILS["gateway"]) == 1
    refs = doc["cells"][2]["scenarios"][0]["log_tails"]
    assert doc["logs"][refs["gateway"]] == TAILS["gateway"]
    assert parse_report(doc) == prune_evidence(results)


def test_a_shards_json_keeps_every_capture_for_the_merge(lit) -> None:  # type: ignore[no-untyped-def]
    shard = replace(_matrix(lit), meta={"shard": {"index": 1, "count": 2}})
    assert parse_report(json.loads(render_json(shard))) == shard


def test_schema_1_documents_still_load(results: RunResults, tmp_path: Path) -> None:
    doc = json.loads(render_json(results))
    for cell in doc["cells"]:  # schema 1: log tails inline, no logs table
        for scenario in cell["scenarios"]:
            scenario["log_tails"] = {role: doc["logs"][key] for role, key in scenario["log_tails"].items()}
    del doc["logs"]
    doc["schema_version"] = 1
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    loaded = load_json(path)
    assert loaded == prune_evidence(results) and loaded.schema_version == SCHEMA_VERSION
    assert loaded.cells[1].scenarios[1].log_tails["gateway"].endswith("decoded as sint64")


def test_a_log_key_missing_from_the_table_is_named(results: RunResults) -> None:
    doc = json.loads(render_json(results))
    doc["logs"] = {}
    with pytest.raises(ResultsError, match=r"names log tail '[0-9a-f]{16}' for gateway, which the top-level 'logs'"):
        parse_report(doc, source="broken.json")


def test_the_collector_keeps_evidence_only_where_it_can_explain(lit) -> None:  # type: ignore[no-untyped-def]
    from compat.results.collect import ResultsCollector
    from compat.results.verdicts import DETAILS, PROPERTY

    frame = {"direction": "out", "msg_type": "LogonRequest", "fields": {}, "t_ns": 1}
    collector = ResultsCollector(started_at="2026-11-25T19:00:00Z")
    for name, verdict in (("a", "pass"), ("b", "expected-fail"), ("c", "n/a"), ("d", "flaky"), ("e", "fail")):
        payload = {"cell_id": "c", "client_version": "1.0.0", "gateway_version": "1.0.0", "venue": "obx",
                   "scenario": name, "verdict": verdict, "phase": "call"}
        details = {"log_tails": dict(TAILS), "wire": [frame]}
        collector.add(f"t::{name}[c]", "call", 0.1, [(PROPERTY, json.dumps(payload)), (DETAILS, json.dumps(details))])
    cell = collector.results("2026-11-25T19:01:00Z", "matrix.yaml").cells[0]
    assert {s.scenario: (bool(s.wire), bool(s.log_tails)) for s in cell.scenarios} == {
        "a": (True, False),  # a pass keeps its wire: it may be a failure's baseline, in any shard
        "b": (False, False),
        "c": (False, False),
        "d": (True, True),  # flaky: its tails explain the failed attempt
        "e": (True, True),
    }
