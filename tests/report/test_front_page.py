"""The first screen of every report (issue 16): may we release (the gate of the run's matrix and
why, blockers grouped), what changed since the last release run (both ways), the candidate's
row and column, the grid; everything else grouped below. A finding matrix.yaml declares as a
known issue of a released version is shown once with its declaration, never as a warning."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet

from compat.config.known_issues import KnownIssue
from compat.plugin.console import section_lines
from compat.report.front import front_page
from compat.report.html import render_html
from compat.report.markdown import render_markdown
from compat.report.resources import known_findings, leak_lines, leaks
from compat.report.terminal import render_terminal_grid
from compat.results.gate import SupportWindow
from compat.results.grid import GRADE_LEGEND, Grade
from compat.results.history import Flip
from compat.results.model import CellResult, RunResults, Verdict
from compat.results.since import SinceRelease, stamp

if TYPE_CHECKING:
    from sample_results import Literals

MIB = 1024 * 1024
CANDIDATE = "3.1.0.dev0+candidate"


def _growth(leak: bool) -> dict[str, Any]:
    return {"interval_s": 0.25, "duration_s": 30.0, "roles": {"client:c1": {
        "samples": 120, "cpu_pct_mean": 3.0, "cpu_pct_max": 9.0, "rss_start_bytes": 30 * MIB,
        "rss_max_bytes": 44 * MIB, "rss_end_bytes": 44 * MIB, "rss_slope_bytes_per_s": 480 * 1024.0,
        "leak_suspected": leak, "leak_reason": "pid 9: RSS grew steadily over 30.0s" if leak else None,
        "leak_judged": True, "duration_s": 30.0, "pids": [9], "skipped": None}}}


def release_candidate(lit: Literals) -> RunResults:
    """Clients 2.0.0 and the candidate by gateways 2.0.0, 3.0.0 and the candidate, on obx: the
    candidate gateway breaks with client 2.0.0 (inside the window: the newest gateway supports
    the last 2 client minors), gateway 2.0.0 errors with client 2.0.0 (outside it); every client's
    driver grows, client 2.0.0's as a declared known issue."""
    def c(client: str, gateway: str, *scenarios: Any) -> CellResult:
        return lit.cell(client, gateway, "obx", *scenarios, resources=_growth(client != "1.0.0"))

    ok = (lit.sr("S01", Verdict.PASS), lit.sr("S02", Verdict.PASS))
    cells = (
        c("2.0.0", "2.0.0", lit.sr("S01", Verdict.ERROR, message="StartError: gateway 2.0.0 did not report ready"),
          lit.sr("S02", Verdict.PASS)),
        c("2.0.0", "3.0.0", *ok),
        c("2.0.0", CANDIDATE, lit.sr("S01", Verdict.FAIL, message="AssertionError: fill price '' != '10.00'"),
          lit.sr("S02", Verdict.FAIL, message="AssertionError: fill price '' != '10.00'")),
        c(CANDIDATE, "2.0.0", *ok),
        c(CANDIDATE, "3.0.0", *ok),
        c(CANDIDATE, CANDIDATE, lit.sr("S01", Verdict.PASS), lit.sr("S02", Verdict.EXPECTED_FAIL, reason="declared")),
    )
    issue = KnownIssue("client", SpecifierSet(">=2.0,<3.1.dev0"), "memory-growth", "keeps every order", "CLI-88", 44)
    since = SinceRelease(baseline="run 7 (release, 0123abc, 2026-12-01T10:00:00Z)", flips=(
        Flip("obx", cells[2].cell_id, "S01", "pass", "fail"),
        Flip("obx", cells[2].cell_id, "S02", "pass", "fail"),
        Flip("obx", cells[4].cell_id, "S01", "fail", "pass"),
    ), new_cells=1)
    meta = {"support_window": SupportWindow(client_minors=2, gateway_minors=1).to_dict(),
            "known_issues": [issue.to_dict()]}
    return stamp(RunResults(cells=cells, meta=meta), since)


def test_the_gate_is_that_of_the_matrix_window_and_its_blockers_are_grouped(lit: Literals) -> None:
    page = front_page(release_candidate(lit))
    assert page.headline == "release gate: BLOCKED by 2 inside the support window: 2 breaks"
    (group,) = page.blockers  # two breaks of one cause on one pair: one entry
    assert group.verdict is Verdict.FAIL and len(group.pairs) == 2
    assert page.decision.outside and page.decision.outside[0].scenario.verdict is Verdict.ERROR
    assert (page.candidate_clients, page.candidate_gateways) == ((CANDIDATE,), (CANDIDATE,))
    clear = front_page(replace(release_candidate(lit), cells=release_candidate(lit).cells[3:]))
    assert clear.headline.startswith("release gate: clear: no break, error or stale expectation inside the window"
                                     .replace("inside the window", "inside the support window"))


def test_markdown_leads_with_gate_flips_and_the_candidate_then_the_grid_collapsed(lit: Literals) -> None:
    md = render_markdown(release_candidate(lit))
    gate = md.index("🟥 **Release gate: BLOCKED** by 2 inside the support window: 2 breaks")
    since = md.index("**Since the last release run:** run 7 (release, 0123abc, 2026-12-01T10:00:00Z): 3 scenarios "
                     "flipped in 2 cells (2 worse, 1 better); 1 new cell not compared")
    worse = md.index(f"- 🔻 `client-2.0.0--gateway-{CANDIDATE}` [obx]: **S01** pass → fail, **S02** pass → fail")
    better = md.index(f"- 🔺 `client-{CANDIDATE}--gateway-3.0.0` [obx]: **S01** fail → pass")
    row = md.index(f"| candidate client `{CANDIDATE}` × gateway | 2.0.0 | 3.0.0 | {CANDIDATE} |")
    column = md.index(f"| candidate gateway `{CANDIDATE}` × client | 2.0.0 | {CANDIDATE} |")
    grid = md.index("<details><summary>The full grid: 6 cells, with its legend</summary>")
    failing = md.index("### Failing")
    assert gate < since < worse < better < row < column < grid < failing
    assert "| obx | 🟥 ✗ 2✗ | 🟨 ≈ 1x 1✓ |" in md  # the candidate gateway's column: client 2.0.0 breaks
    assert md.index("### Venue `obx`") > grid and md.index("</details>", grid) < failing
    assert "- ✗ break: client 2.0.0 × gateway 3.1.0.dev0+candidate: AssertionError: fill price '' != '10.00' " \
           "(1 cell, 2 scenarios: S01, S02) on obx" in md


def test_html_first_screen_then_everything_else_grouped(lit: Literals) -> None:
    page = render_html(release_candidate(lit))
    order = [page.index(marker) for marker in ('id="gate"', 'id="changes"', 'id="grids"', 'id="failures"',
                                               'id="known-issues"', 'id="leaks"', 'id="run"')]
    assert order == sorted(order), order
    assert 'data-decision="blocked"' in page
    assert re.search(r"<b>Release gate: BLOCKED</b> by 2 inside the support window: 2 breaks", page)
    key = f"obx/2.0.0/{CANDIDATE}"
    assert f'<a class="cell-link" href="#{key}" data-key="{key}">obx</a>' in page  # a blocker opens its cell
    assert 'data-compared="yes" data-flips="2"' in page
    assert page.count('data-direction="worse"') == 1 and page.count('data-direction="better"') == 1
    assert f'data-key="{key}">client-2.0.0--gateway-{CANDIDATE}</a>: S01 pass → fail, S02 pass → fail' in page
    # the candidate's row and column are marked in the grid
    assert page.count('class="cand"><span class="cand-mark">◆</span>') == 2


def test_html_lists_failures_once_per_cause_with_the_cells_and_what_explains_them(lit: Literals) -> None:
    run = release_candidate(lit)
    notes = {"pairs": [{"client_version": "2.0.0", "gateway_version": v, "a": "c.whl", "b": "g.whl", "changes": [
        {"kind": "field-removed", "breaking": True, "where": "refgw.ExecutionReport.last_price_ticks (21)",
         "detail": "removed, not reserved"}]} for v in ("2.0.0", CANDIDATE)]}
    page = render_html(replace(run, meta={**run.meta, "schema": notes}))
    failures = page[page.index('id="failures"'):page.index('id="known-issues"')]
    assert failures.count('<li class="group"') == 2  # the two breaks of one cause, and the error
    fail = failures[failures.index('data-verdict="fail"'):failures.index('data-verdict="error"')]
    assert "AssertionError: fill price &#39;&#39; != &#39;10.00&#39; (1 cell, 2 scenarios: S01, S02)" in fail
    assert f'data-key="obx/2.0.0/{CANDIDATE}">client-2.0.0--gateway-{CANDIDATE}</a>' in fail
    assert 'class="schema-note">schema: refgw.ExecutionReport.last_price_ticks (21): removed' in fail
    error = failures[failures.index('data-verdict="error"'):]
    assert "StartError: gateway 2.0.0 did not report ready" in error and "schema-note" not in error


def test_a_declared_known_issue_is_shown_once_and_is_not_a_warning(lit: Literals) -> None:
    run = release_candidate(lit)
    (known,) = known_findings(run)
    assert known.versions == ("2.0.0",) and known.seen_text() == "seen in 3 cells: client 2.0.0"
    # the candidate's growth is never covered by a declaration of released versions: it stays a warning
    assert {leak.cell.client_version for leak in leaks(run)} == {CANDIDATE}
    assert len(leak_lines(run)) == 1 and "client 3.1.0.dev0+candidate in 3 cells" in leak_lines(run)[0]
    md = render_markdown(run)
    assert md.count("keeps every order") == 1
    assert "- **client <3.1.dev0,>=2.0** memory-growth: keeps every order (CLI-88) [matrix.yaml line 44]: seen in " \
           "3 cells: client 2.0.0" in md
    assert md.count("⚠") == 1 and "⚠ **client 3.1.0.dev0+candidate**" in md
    page = render_html(run)
    assert page.count("keeps every order") == 1 and 'class="known-issue" data-finding="memory-growth"' in page
    text = "\n".join(line for line, _ in section_lines(run, allow_stale=False, fail_on_leak=False))
    assert "known issue declared in matrix.yaml (not a warning): matrix.yaml line 44: client <3.1.dev0,>=2.0 " \
           "memory-growth: seen in 3 cells: client 2.0.0" in text
    assert text.count("memory leak suspected") == 1 and "client 2.0.0 in" not in text
    # without the candidate, nothing is a warning and the leak option has nothing to fail on
    released = replace(run, cells=run.cells[:3])
    assert leaks(released) == [] and leak_lines(released) == []
    assert 'id="leaks"' not in render_html(released) and "⚠" not in render_markdown(released)


def test_the_terminal_ends_with_what_changed_and_the_decision(lit: Literals) -> None:
    lines = section_lines(release_candidate(lit), allow_stale=False, fail_on_leak=False,
                          written=["out/matrix.json", "out/matrix.html"], recorded="compat store: recorded run 8")
    text = [line for line, _ in lines]
    assert text[-1] == ("release gate: BLOCKED by 2 inside the support window: 2 breaks; stale expectations block: "
                        "one fails the run, as `compat gate` blocks on it (--compat-allow-stale to only report it)")
    relaxed = section_lines(release_candidate(lit), allow_stale=True, fail_on_leak=False)[-1][0]
    assert relaxed.endswith("2 breaks; stale expectations warn: reported, the run does not fail (--compat-allow-stale)")
    assert lines[-1][1] == {"red": True, "bold": True}
    assert text[-4:-1] == [
        "since the last release run, run 7 (release, 0123abc, 2026-12-01T10:00:00Z): 3 scenarios flipped in 2 "
        "cells (2 worse, 1 better); 1 new cell not compared",
        f"  ▼ client-2.0.0--gateway-{CANDIDATE}: S01 pass → fail, S02 pass → fail",
        f"  ▲ client-{CANDIDATE}--gateway-3.0.0: S01 fail → pass",
    ]
    assert text[-5] == "compat store: recorded run 8"
    assert "compat reports: out/matrix.json, out/matrix.html" in text
    # the grid comes first, then every break named: its scenarios and the cells it covers
    assert text[0] == "compat matrix, venue obx (rows: client, columns: gateway)"
    assert f"  ✗ client 2.0.0 × gateway {CANDIDATE}: AssertionError: fill price '' != '10.00' (1 cell, 2 scenarios: " \
           "S01, S02) on obx" in text


def test_without_a_release_run_the_reports_say_why_nothing_was_compared(lit: Literals) -> None:
    run = lit.sample()
    md = render_markdown(run)
    assert "**Since the last release run:** not compared: the run was not checked against a results store" in md
    assert 'data-compared="no" data-flips="0"' in render_html(run)
    note = "no run of matrix matrix.yaml in .compat/results.db is labelled 'release' yet"
    noted = stamp(run, SinceRelease(note=note))
    assert "**Since the last release run:** no run of matrix matrix.yaml in .compat/results.db is labelled" in \
        render_markdown(noted)


def test_every_grade_is_in_every_legend() -> None:
    """Legends iterate over the Grade enum: a grade added to it shows up without an edit here."""
    assert [g for g, _ in GRADE_LEGEND] == list(reversed(Grade))
    empty = RunResults(cells=())
    legend = render_terminal_grid(replace(empty, cells=(CellResult("c", "1", "2", "obx"),)))[-1]
    md = render_markdown(replace(empty, cells=(CellResult("c", "1", "2", "obx", ()),)))
    page = render_html(replace(empty, cells=(CellResult("c", "1", "2", "obx", ()),)))
    for grade in Grade:
        assert f"{grade.symbol} {grade}" in legend
        assert f"`{grade.symbol}` {grade} ({grade.meaning})" in md
        assert f'data-grade="{grade}"' in page
