"""Resources (CPU/RSS per role, suspected leaks) through the results model and every report."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from compat.errors import MergeConflict
from compat.report import render_html, render_markdown
from compat.report.resources import leak_lines, leaks, rows
from compat.results.collect import ResultsCollector
from compat.results.jsonfile import merge, parse_report, render_json
from compat.results.model import CellResult, RunResults
from compat.results.verdicts import DETAILS, PROPERTY

MIB = 1024 * 1024
LEAK_REASON = "RSS grew steadily over 30.0s (120 samples): 30.0 MiB → 45.0 MiB, Theil–Sen slope 512 KiB/s"


def role(cpu: float = 4.0, rss_max: int = 33 * MIB, slope: float = 1200.0, leak: bool = False,
         **extra: Any) -> dict[str, Any]:
    return {"samples": 120, "cpu_pct_mean": cpu, "cpu_pct_max": cpu * 3, "rss_start_bytes": 30 * MIB,
            "rss_max_bytes": rss_max, "rss_end_bytes": rss_max, "rss_slope_bytes_per_s": slope,
            "leak_suspected": leak, "leak_reason": LEAK_REASON if leak else None, "duration_s": 30.0,
            "pids": [101], "skipped": None, **extra}


def record(duration_s: float = 30.0, **roles: dict[str, Any]) -> dict[str, Any]:
    return {"interval_s": 0.25, "duration_s": duration_s, "roles": dict(roles)}


def with_resources(results: RunResults) -> RunResults:
    """The sample run with figures on two cells: a clean one and one whose gateway leaks."""
    cells = list(results.cells)
    cells[0] = replace(cells[0], resources=record(gateway=role(), exchange=role(cpu=2.0)))
    cells[1] = replace(cells[1], resources=record(
        gateway=role(cpu=9.5, rss_max=45 * MIB, slope=512 * 1024, leak=True, pids=[201, 202]),
        exchange=role(cpu=2.0), client=role()))
    return replace(results, cells=tuple(cells))


def test_json_round_trips_and_documents_resources(results: RunResults) -> None:
    run = with_resources(results)
    document = json.loads(render_json(run))
    assert document["cells"][1]["resources"]["roles"]["gateway"]["leak_suspected"] is True
    assert document["cells"][2]["resources"] is None  # not sampled
    assert parse_report(document) == run


def test_merge_keeps_resources_and_refuses_two_different_figures(results: RunResults) -> None:
    run = with_resources(results)
    assert merge([run, run]) == merge([run])
    other = replace(run, cells=(replace(run.cells[1], resources=record(gateway=role(cpu=50.0))), *run.cells[2:]))
    with pytest.raises(MergeConflict, match="resources"):
        merge([run, other])


def test_leaks_and_terminal_lines(results: RunResults) -> None:
    run = with_resources(results)
    found = leaks(run)
    assert [(leak.cell.cell_id, leak.role) for leak in found] == [(run.cells[1].cell_id, "gateway")]
    assert leak_lines(run) == [f"compat: memory leak suspected: {run.cells[1].cell_id} gateway: {LEAK_REASON}"]
    assert leaks(results) == []


def test_rows_format_each_role_and_say_why_one_was_skipped(lit: Any) -> None:
    cell: CellResult = lit.cell("1.0.0", "2.1.0", "obx", resources=record(
        gateway=role(slope=512 * 1024, leak=True, pids=[7, 8]),
        exchange={**role(), "samples": 0, "skipped": "exchange-obx runs on host ssh:h: pid 9 is remote"}))
    exchange, gateway = rows(cell)
    assert (gateway.role, gateway.cpu_mean, gateway.rss_max, gateway.slope, gateway.pids, gateway.leak) == (
        "gateway", "4.0 %", "33.0 MiB", "+512 KiB/s", "7 → 8", True)
    assert gateway.note == LEAK_REASON
    short: CellResult = lit.cell("1.0.0", "2.1.0", "obx", resources=record(gateway=role(leak_judged=False)))
    assert rows(short)[0].slope == "+1 KiB/s (window too short to judge)"
    assert exchange.cpu_mean == "" and exchange.note.startswith("not sampled: exchange-obx runs on host ssh:h")


def test_markdown_lists_each_leak_and_a_compact_summary(results: RunResults) -> None:
    run = with_resources(results)
    text = render_markdown(run)
    assert "### Resources (2 cells sampled, 1 leak(s) suspected)" in text
    assert f"- ⚠ `{run.cells[1].cell_id}` **gateway**: {LEAK_REASON}" in text
    gateway_row = next(line for line in text.splitlines() if line.startswith("| gateway |"))
    assert "| 2 |" in gateway_row and "9.5 %" in gateway_row and "45.0 MiB" in gateway_row
    assert "| client |" in text  # client:c1 folds into the client role
    assert "### Resources" not in render_markdown(results)  # nothing sampled: no section


def test_html_shows_the_table_the_badge_and_the_leak_list(results: RunResults) -> None:
    run = with_resources(results)
    page = render_html(run)
    assert '<table class="resources">' in page
    assert 'data-role="gateway" data-leak="yes" class="leak"' in page
    assert 'data-role="exchange" data-leak="no"' in page
    assert page.count('<span class="leak"') == 1  # only the leaking cell's grid slot
    assert 'id="leaks"' in page and LEAK_REASON in page
    assert '<table class="resources">' not in render_html(results)


def _props(cell_id: str, scenario: str, resources: dict[str, Any]) -> list[tuple[str, object]]:
    payload = {"cell_id": cell_id, "client_version": "3.0.0", "gateway_version": "3.0.0", "venue": "obx",
               "scenario": scenario, "verdict": "pass", "phase": "call"}
    return [(PROPERTY, json.dumps(payload)), (DETAILS, json.dumps({"resources": resources}))]


def test_the_collector_keeps_the_longest_window_of_a_cell() -> None:
    collector = ResultsCollector(started_at="2026-11-25T19:00:00Z")
    # Scenarios finish in any order across nodeids; each carries the sampler's figures so far.
    collector.add("t::b[c]", "call", 0.1, _props("c", "b", record(duration_s=9.0, gateway=role(cpu=9.0))))
    collector.add("t::a[c]", "call", 0.1, _props("c", "a", record(duration_s=3.0, gateway=role(cpu=3.0))))
    cell = collector.results("2026-11-25T19:01:00Z", "matrix.yaml").cells[0]
    assert cell.resources is not None and cell.resources["duration_s"] == 9.0


def test_the_same_growth_of_one_version_is_one_finding(results: RunResults) -> None:
    """A client version whose driver grows in many cells is one line, not one per cell."""
    from compat.report.resources import leak_groups

    growth: dict[str, dict[str, Any]] = {"client:c1": role(rss_max=40 * MIB, slope=900 * 1024, leak=True)}
    leaky = {"interval_s": 0.25, "duration_s": 30.0, "roles": growth}
    cells = tuple(replace(c, resources=leaky) for c in results.cells if c.client_version == "1.0.0")
    assert len(cells) >= 2
    run = replace(results, cells=cells)
    groups = leak_groups(run)
    assert [(g.product, len(g.leaks)) for g in groups] == [("client 1.0.0", len(cells))]
    lines = leak_lines(run)
    assert len(lines) == 1
    assert lines[0].startswith(f"compat: memory leak suspected: client 1.0.0 in {len(cells)} cells (listed in "
                               "the reports); steepest client-1.0.0--gateway-")
    assert lines[0].endswith("client:c1: RSS 30.0 MiB → 40.0 MiB over 30.0 s, +900 KiB/s"), lines[0]
    assert render_markdown(run).count("⚠") == 1
    page = render_html(run)
    assert page.count("<li><b>client 1.0.0</b> in") == 1 and '<details id="leaks"' in page
