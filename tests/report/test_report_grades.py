"""Grades in the terminal grid, the Markdown and the HTML report: distinct symbols and
colours, a legend in each, per-cell counts kept."""

from __future__ import annotations

import re

from compat.report.html import render_html
from compat.report.markdown import render_markdown
from compat.report.terminal import render_terminal_grid
from compat.results.grid import Grade
from compat.results.model import RunResults, Verdict


def _graded(lit) -> RunResults:  # type: ignore[no-untyped-def]
    """Client 1.0.0 by gateways 1.0.0 (full pass), 2.0.0 (one declared degradation),
    3.0.0 (refused at logon: every scenario expected-fail)."""
    P, X = Verdict.PASS, Verdict.EXPECTED_FAIL
    names = [f"S{i:02}" for i in range(5)]
    return RunResults(
        cells=(
            lit.cell("1.0.0", "1.0.0", "obx", *(lit.sr(n, P) for n in names)),
            lit.cell("1.0.0", "2.0.0", "obx", *(lit.sr(n, P) for n in names[:4]), lit.sr(names[4], X)),
            lit.cell("1.0.0", "3.0.0", "obx", *(lit.sr(n, X) for n in names)),
        )
    )


def test_terminal_grid_shows_grades_in_colour_with_a_legend(lit) -> None:  # type: ignore[no-untyped-def]
    lines = render_terminal_grid(_graded(lit))
    assert lines[2] == "1.0.0             ✓      ≈      x"
    assert "grades: ✓ pass  ≈ degraded  x declared  ↺ cached  ~ flaky  ! stale  E error  ✗ break  · not run" in lines
    coloured = render_terminal_grid(_graded(lit), color=True)
    assert coloured[2] == "1.0.0             \x1b[32m✓\x1b[0m      \x1b[36m≈\x1b[0m      \x1b[2mx\x1b[0m"
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured[2]) == lines[2]


def test_markdown_grid_shows_grades_marks_counts_and_legend(lit) -> None:  # type: ignore[no-untyped-def]
    md = render_markdown(_graded(lit))
    assert "| **1.0.0** | 🟩 ✓ 5✓ | 🟨 ≈ 1x 4✓ | ⬜ x 5x |" in md
    assert "🟨 `≈` degraded (passes, with declared degradations" in md
    assert "⬜ `x` declared (declared incompatible: every scenario that ran was expected-fail or n/a)" in md


def test_html_cells_carry_grade_class_and_legend(lit) -> None:  # type: ignore[no-untyped-def]
    html = render_html(_graded(lit))
    cells = re.findall(r'<td class="cell g-([a-z]+)".*?data-grade="([a-z]+)".*?<span class="sym">(.)</span>'
                       r'<span class="counts">([^<]*)</span>', html, re.S)
    assert cells == [
        ("pass", "pass", "✓", "5✓"),
        ("degraded", "degraded", "≈", "1x 4✓"),
        ("declared", "declared", "x", "5x"),
    ]
    for g in Grade:
        assert f'<span class="grade" data-grade="{g}"><span class="sw g-{g}">{g.symbol}</span>' in html
        assert f".g-{g} {{" in html  # each grade has its colour


def test_a_cached_slot_is_marked_in_every_report(lit) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    origin = {"run_id": "r1", "date": "2026-01-01T00:00:00Z", "duration_s": 1.0}
    cells = _graded(lit).cells
    reused = replace(cells[0], scenarios=tuple(replace(s, cached_from=origin) for s in cells[0].scenarios))
    results = RunResults(cells=(reused, *cells[1:]))
    lines = render_terminal_grid(results, color=True)
    assert lines[2].startswith("1.0.0             \x1b[34m↺\x1b[0m")
    md = render_markdown(results)
    assert "| **1.0.0** | 🟦 ↺ 5✓ | 🟨 ≈ 1x 4✓ | ⬜ x 5x |" in md
    assert "5 of them reused from the verdict cache (not run now)." in md
    assert re.search(r'<td class="cell g-cached".*?data-grade="cached"', render_html(results), re.S)
