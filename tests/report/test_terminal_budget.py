"""The compat section of a clean run of the reference matrix's shape fits what pytest's own lines
leave of one screen (issue 16), and a break, an error or a stale expectation still gets a line
of its own. The budget: tests/support/terminal_budget.py; what pytest prints around the section
is measured on a real run by tests/matrix/test_terminal.py."""

from __future__ import annotations

from dataclasses import replace

from terminal_budget import SCREEN_LINES, SECTION_LINES

from compat.plugin.console import section_lines
from compat.report.demo import REFERENCE_CLIENTS, reference_size_results
from compat.results.model import RunResults, Verdict

WRITTEN = ["report/matrix.json", "report/matrix.md", "report/matrix.html"]
RECORDED = "compat store: recorded run 9 in .compat/results.db"


def _section(results: RunResults) -> list[str]:
    return [line for line, _ in section_lines(results, allow_stale=False, fail_on_leak=False, written=WRITTEN,
                                              recorded=RECORDED)]


def _with(results: RunResults, verdict: Verdict, where: int, swap: bool = False) -> RunResults:
    """The results with one scenario of the cell at ``where`` turned to ``verdict`` (its first
    live swap when ``swap``)."""
    cells = list(results.cells)
    cell = cells[where]
    index = next(i for i, s in enumerate(cell.scenarios) if bool(s.swap) == swap)
    changed = replace(cell.scenarios[index], verdict=verdict, message=f"AssertionError: {verdict} on purpose")
    cells[where] = replace(cell, scenarios=(*cell.scenarios[:index], changed, *cell.scenarios[index + 1:]))
    return replace(results, cells=tuple(cells))


def test_a_clean_run_of_the_reference_matrix_shape_fits_the_section_budget() -> None:
    clean = reference_size_results(broken=False)
    assert len({c.cell_id for c in clean.cells}) == 72 and sum(len(c.scenarios) for c in clean.cells) == 3360
    lines = _section(clean)
    assert len(lines) <= SECTION_LINES < SCREEN_LINES, "\n".join(lines)
    # the grid (both venues in one block: a row per client), the swaps in one line, the gate last
    assert sum(1 for line in lines if line.startswith(REFERENCE_CLIENTS)) == len(REFERENCE_CLIENTS)
    assert [line for line in lines if line.startswith("live swaps")] == [
        "live swaps: 20 (from, to) pairs on obx, tlx, none broken: 10 ✓ pass, 10 x declared "
        "(the grids: Markdown and HTML reports)"]
    assert lines[-1].startswith("release gate: clear")
    assert not [line for line in lines if "XFAIL" in line or line.startswith("  ")]  # nothing listed one by one


def test_what_breaks_is_named_even_past_the_budget() -> None:
    """A break, an error and a stale expectation each get their line, and a broken swap brings
    the swap grids back: the budget holds only when nothing is broken."""
    clean = reference_size_results(broken=False)
    broken = _with(_with(_with(clean, Verdict.FAIL, 3), Verdict.ERROR, 40), Verdict.STALE, 50)
    lines = _section(broken)
    assert any(line.startswith("  ✗ ") and clean.cells[3].gateway_version in line for line in lines), lines
    assert any(line.startswith("  E ") for line in lines), lines
    assert any(line.startswith("  ! ") and clean.cells[50].cell_id in line for line in lines), lines
    swapped = _section(_with(clean, Verdict.FAIL, 14, swap=True))
    assert "live swaps, venue obx (rows: from, columns: to)" in swapped
    assert len(swapped) > SECTION_LINES
