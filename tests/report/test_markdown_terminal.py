from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from compat.report.html import render_html
from compat.report.junit import junit_properties
from compat.report.markdown import render_markdown, write_step_summary
from compat.report.terminal import render_terminal_grid
from compat.results.model import RunResults, Verdict


def test_markdown_grid_rows_are_clients_columns_gateways_in_version_order(results: RunResults) -> None:
    md = render_markdown(results)
    assert "### Venue `obx`\n\n| client \\ gateway | 2.1.0 | 2.2.0 | 10.0.0 |\n|---|---|---|---|\n" in md
    assert "| **1.0.0** | 🟩 ✓ 2✓ | 🟥 ✗ 1✗ 1✓ | ⬜ x 1x 1- |" in md
    assert "| **2.0.0** | 🟧 ! 1! 1~ | ⬛ E 1E | · |" in md
    assert "### Venue `tlx`\n\n| client \\ gateway | 2.1.0 |" in md
    assert md.startswith(
        "## compat matrix\n\n🟥 **Release gate: BLOCKED** by 3 (no support window declared, so every pair gates): "
        "1 break, 1 infrastructure error, 1 stale expectation\n"
    )
    assert "6 cells, 10 scenarios: 1E 1✗ 1! 1~ 1x 4✓ 1-." in md


def test_markdown_legend_failures_with_wire_diff_and_stale(results: RunResults) -> None:
    md = render_markdown(results)
    assert "`x` expected-fail (declared incompatible in matrix.yaml, and it failed)" in md
    assert (
        "### Failing (2)\n\n- ✗ (fail) client 1.0.0 × gateway 2.2.0: AssertionError: fill price 200.50 != 100.25 "
        "(1 cell, 1 scenario: S13_md)\n  - in: `client-1.0.0--gateway-2.2.0` [obx] **S13_md**\n" in md
    )
    assert (
        "  - wire: gateway 2.2.0 answered NewOrder with ExecutionReport(price_ticks=20050) "
        "where gateway 2.1.0 sent ExecutionReport(price_ticks=10025)\n"
    ) in md
    assert "- E (error) client 2.0.0 × gateway 2.2.0: StartError: gateway 2.2.0 did not" in md
    assert (
        "### Stale expectations (1)\n\n- ! `client-2.0.0--gateway-2.1.0` [obx] **S01_logon** passed but "
        "matrix.yaml declares incompatible: old bug (GW-7): update or remove the expectation"
    ) in md
    assert "### Flaky (1)" in md and "passed on attempt 2" in md


def test_markdown_escapes_pipes_and_shows_clear_gate(results: RunResults) -> None:
    cell = results.cells[1]
    piped = replace(cell, scenarios=(replace(cell.scenarios[1], message="a | b\nsecond line", wire=()),))
    md = render_markdown(replace(results, cells=(piped,)))
    assert ": a \\| b (1 cell" in md and "second line" not in md
    passing = render_markdown(replace(results, cells=(results.cells[0],)))
    assert "🟩 **Release gate: clear**: no break, error or stale expectation" in passing
    assert "### Failing (0)\n\nNone." in passing


def test_markdown_warns_when_a_version_was_tested_with_two_wheels(results: RunResults) -> None:
    env = replace(results.envs[0], wheel_sha256="c" * 64)
    md = render_markdown(replace(results, envs=(*results.envs, env)))
    assert "- refgw 2.1.0 was tested with 2 different wheels: aaaaaaaaaaaa, cccccccccccc" in md


def test_markdown_of_empty_run() -> None:
    assert render_markdown(RunResults(cells=())) == "## compat matrix\n\nNo cells ran.\n"


def test_step_summary_appends_only_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_step_summary("# x") is None
    target = tmp_path / "summary.md"
    target.write_text("before\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert write_step_summary("# one") == target
    write_step_summary("# two\n")
    assert target.read_text() == "before\n# one\n# two\n"


def test_terminal_grid_lines(results: RunResults) -> None:
    # one block for both venues: each slot obx's grade, then tlx's
    assert render_terminal_grid(results) == [
        "compat matrix (rows: client, columns: gateway; each slot: venues obx tlx)",
        "client \\ gateway  2.1.0  2.2.0  10.0.0",
        "1.0.0             ✓ ✓    ✗ ·    x ·",
        "2.0.0             ! ·    E ·    · ·",
        "grades: ✓ pass  ≈ degraded  x declared  ↺ cached  ~ flaky  ! stale  E error  ✗ break  · not run",
    ]
    obx = replace(results, cells=tuple(c for c in results.cells if c.venue == "obx"))
    assert render_terminal_grid(obx)[:3] == [
        "compat matrix, venue obx (rows: client, columns: gateway)",
        "client \\ gateway  2.1.0  2.2.0  10.0.0",
        "1.0.0             ✓      ✗      x",
    ]
    assert render_terminal_grid(RunResults(cells=())) == ["compat matrix: no cells ran"]


def test_junit_properties(results: RunResults) -> None:
    cell = results.cells[2]
    assert junit_properties(cell, cell.scenarios[0]) == [
        ("client_version", "1.0.0"),
        ("gateway_version", "10.0.0"),
        ("venue", "obx"),
        ("verdict", "expected-fail"),
        ("expectation", "incompatible: min protocol 3 (GW-10)"),
    ]
    assert junit_properties(cell, cell.scenarios[1])[-2:] == [
        ("verdict", "n/a"),
        ("expectation", "compatible"),
    ]


def test_recorded_figures_reach_json_markdown_and_html(results: RunResults) -> None:
    gaps = [0.4, 1.2, 0.7]
    cells = [replace(c, scenarios=(replace(c.scenarios[0], scenario="live_upgrade",
                                           metrics={"reconnect_gap_s": gap, "note": "text is not a figure"}),))
             for c, gap in zip(results.cells, gaps, strict=False)]
    with_metrics = replace(results, cells=tuple(cells))
    again = RunResults.from_dict(json.loads(json.dumps(with_metrics.to_dict())))
    assert again.cells[0].scenarios[0].metrics["reconnect_gap_s"] == 0.4
    md = render_markdown(with_metrics)
    assert "### Recorded figures" in md
    assert f"| live_upgrade | reconnect_gap_s | {len(cells)} | 0.4 |" in md and "note" not in md.split("Recorded")[1]
    assert "reconnect_gap_s 0.4" in render_html(with_metrics)


def test_identical_failures_are_one_entry_with_the_cells_they_cover(results: RunResults) -> None:
    """The same cause on every cell of one gateway version is that gateway's one entry."""
    broken = results.cells[1]
    fail = next(s for s in broken.scenarios if s.verdict is Verdict.FAIL)
    copies = tuple(
        replace(broken, cell_id=f"client-{v}--gateway-{broken.gateway_version}", client_version=v,
                scenarios=(replace(fail, wire=()),))
        for v in ("1.0.0", "1.1.0", "1.2.0")
    )
    md = render_markdown(replace(results, cells=copies))
    assert "### Failing (3 in 1 group of the same cause)" in md
    failing = md.split("### Failing", 1)[1]
    assert failing.count("AssertionError: fill price 200.50 != 100.25") == 1
    assert md.split("### Failing", 1)[0].count("AssertionError: fill price") == 1  # the gate's why, grouped too
    assert f"gateway {broken.gateway_version}: AssertionError" in md and "(3 cells, 1 scenario: S13_md)" in md
