"""A matrix without venues (exchange: none): cell ids have no venue part, and no report shows an
empty venue (grid titles, pair lines); the results JSON keeps schema 1 (``venue: ""``)."""

from __future__ import annotations

from pathlib import Path

from compat.report.html import render_html
from compat.report.markdown import render_markdown
from compat.report.terminal import render_terminal_grid
from compat.results.jsonfile import load_json, render_json
from compat.results.model import SCHEMA_VERSION, CellResult, RunResults, ScenarioResult, Verdict

CELL_ID = "client-1.0.0--gateway-2.0.0"


def _results() -> RunResults:
    failed = ScenarioResult(CELL_ID, "logon", Verdict.FAIL, nodeid=f"tests/compat/test_s.py::test_logon[{CELL_ID}]",
                            message="AssertionError: refused")
    return RunResults(cells=(CellResult(CELL_ID, "1.0.0", "2.0.0", "", (failed,)),))


def test_the_grids_have_no_venue_title() -> None:
    lines = render_terminal_grid(_results())
    assert lines[0] == "compat matrix (rows: client, columns: gateway)"
    markdown = render_markdown(_results())
    assert "### Matrix" in markdown and "Venue ``" not in markdown
    assert f"`{CELL_ID}` **logon**" in markdown and "[]" not in markdown
    html = render_html(_results())
    assert "<h2>Matrix</h2>" in html and "Venue </h2>" not in html and "<small>venue </small>" not in html


def test_the_results_json_round_trips_without_a_venue(tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    path.write_text(render_json(_results()))
    loaded = load_json(path)
    assert SCHEMA_VERSION == 2
    assert [(c.cell_id, c.venue) for c in loaded.cells] == [(CELL_ID, "")]
