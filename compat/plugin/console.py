"""What a matrix run prints while it runs and when it ends, besides pytest's own lines.

**The progress line** (``Progress``, on the controller: under xdist it sees every worker's
reports through ``pytest_runtest_logreport``)::

    compat: 5/16 cells · 0:42 · 120 pass, 40 expected-fail, 3 n/a, 2 fail · first break:
    client-1.0.0--gateway-2.0.0--venue-tlx breaks: AssertionError: … (one line, cut to the width)

cells done of the cells collected, the time since the session started, the scenarios'
verdicts so far and the first break (a ``fail``) as soon as one is seen. When it is printed:

- never under ``-q`` (or ``-qq``), nor when the run collected no compat scenario;
- on a terminal: one line, rewritten in place when a cell finishes (at most once a second,
  and for the last cell); the first break is written once as a line of its own above it;
- otherwise (CI logs, a pipe, ``--color=yes`` into a file): whole lines, once per fifth of the
  cells (every ``ceil(cells / LOG_UPDATES)`` cells, so at most five lines and the last), and at
  once for the first break; never rewritten in place, so a CI log stays one line per update and
  a clean run's log stays one screen (tests/report/test_terminal_budget.py).

On a terminal the line is rewritten only because nothing else writes while it is open (no
dots, below); anything pytest writes next starts on a new line (``currentfspath``, pytest's
own convention for an open line).

**The summary** (``summary_lines``): counts per verdict; breaks and errors listed, identical
ones grouped (one entry per wheel and cause); stale expectations one by one; declared
incompatibilities (expected-fail) and n/a as counts only; then the flips since the last release
run and the gate decision, which ends with the stale rule the run applied.

This module imports only the stdlib and pytest at its top (the plugin stays cheap to import);
the results model is imported once a compat scenario reported.

**No dots.** Where the progress line is printed (verbosity 0), pytest's one dot per scenario is
left out (``pytest_report_teststatus``): thousands of dots would push everything else off the
screen. ``-v`` keeps pytest's line per scenario, ``-q`` its dots.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pytest  # loaded already: this module is a part of the plugin pytest is running

from compat import timing

if TYPE_CHECKING:
    from compat.results.model import RunResults

# A cell id inside a node id: `test_x[client-1.0.0--gateway-2.0.0--venue-obx-FLT-0.3]@client-...`
CELL_IN_NODEID = re.compile(r"client-[^\[\]@\s-]+--gateway-[^\[\]@\s-]+(?:--venue-[^\[\]@\s-]+)?")

# verdicts in the order the line shows them: the good news first, what needs a look last
ORDER = ("pass", "expected-fail", "n/a", "flaky", "stale", "error", "fail")
_SEVERITY = ("error", "fail", "stale", "flaky", "expected-fail", "n/a", "pass")  # worst first
LIST_AT_MOST = 20  # entries per listing in the summary; the rest are counted, the reports hold them
LOG_UPDATES = 5  # progress lines in a log (not a terminal), the last and the first break aside


def cell_of(nodeid: str) -> str | None:
    match = CELL_IN_NODEID.search(nodeid)
    return match.group(0) if match else None


def elapsed_text(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:05``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_progress(done: int, total: int, counts: Mapping[str, int], elapsed_s: float,
                    first_break: str | None = None, width: int | None = None) -> str:
    """The progress line (pure). ``width`` cuts the first break's text so the line fits."""
    shown = [f"{counts[v]} {v}" for v in ORDER if counts.get(v)]
    shown += [f"{n} {v}" for v, n in sorted(counts.items()) if v not in ORDER and n]
    parts = [f"compat: {done}/{total} cells", elapsed_text(elapsed_s), ", ".join(shown) or "no scenario finished"]
    line = " · ".join(parts)
    if first_break:
        line += f" · first break: {first_break}"
    if width is not None and len(line) > width > 20:
        line = line[: width - 1] + "…"
    return line


class Progress:
    """Counts cells and verdicts from the reports the controller sees; prints the progress line."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.started = timing.monotonic()
        self.tests_per_cell: dict[str, int] = {}
        self.finished: dict[str, set[str]] = {}  # cell → node ids finished
        self.verdicts: dict[str, str] = {}  # node id → its worst verdict so far
        self.first_break: str | None = None
        self.cells_done = 0
        self.printed_at: float | None = None
        self.printed_done = 0
        self.active = False  # a compat scenario reported
        self.live_open = False  # on a terminal: the progress line is the open line

    # -- totals ---------------------------------------------------------------------------

    def set_collected(self, nodeids: Iterable[str]) -> None:
        if self.tests_per_cell:
            return  # every xdist worker collects the same tests
        for nodeid in nodeids:
            cell = cell_of(nodeid)
            if cell is not None:
                self.tests_per_cell[cell] = self.tests_per_cell.get(cell, 0) + 1

    def pytest_collection_finish(self, session: Any) -> None:
        self.set_collected(item.nodeid for item in session.items)
        reporter = self._reporter()
        if self.tests_per_cell and reporter is not None and self.config.get_verbosity() == 0:
            # no dots, so no file name before them either (as pytest-xdist does for its runs)
            reporter.showfspath = False

    # -- pytest's own progress ---------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: Any, config: Any) -> Generator[None, Any, Any]:
        """No dot per compat scenario where the progress line is printed (verbosity 0): a matrix
        runs thousands, and the line says more (cells, verdicts, the first break). The counts of
        pytest's last line and its -r lines are unchanged; -v keeps a line per scenario, -q the dots."""
        status = yield
        if status and self.config.get_verbosity() == 0 and _is_compat(report):
            category, _letter, word = status
            return category, "", word
        return status

    # -- reports --------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.outcome == "rerun":
            return  # pytest-rerunfailures: the attempt that follows decides
        payload = _payload(report)
        if payload is not None:
            self.active = True
            self._note_verdict(report.nodeid, payload)
        if report.when != "teardown" or not self.active:
            return
        cell = cell_of(report.nodeid)
        if cell is None:
            return
        finished = self.finished.setdefault(cell, set())
        finished.add(report.nodeid)
        if len(finished) == self.tests_per_cell.get(cell, 0):
            self.cells_done += 1
            self._maybe_print(last=self.cells_done >= len(self.tests_per_cell))

    def _note_verdict(self, nodeid: str, payload: Mapping[str, Any]) -> None:
        verdict = str(payload.get("verdict"))
        previous = self.verdicts.get(nodeid)
        if previous is None or _rank(verdict) < _rank(previous):
            self.verdicts[nodeid] = verdict
        if verdict == "fail" and self.first_break is None:
            self.first_break = f"{payload.get('cell_id')} {payload.get('scenario')}: {payload.get('reason') or ''}"
            self._maybe_print(first_break=True)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for verdict in self.verdicts.values():
            counts[verdict] = counts.get(verdict, 0) + 1
        return counts

    def line(self, width: int | None = None) -> str:
        return format_progress(self.cells_done, len(self.tests_per_cell), self.counts(),
                               timing.monotonic() - self.started, self.first_break, width)

    # -- printing -------------------------------------------------------------------------

    def _reporter(self) -> Any:
        if self.config.get_verbosity() < 0:
            return None  # -q: quiet
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def _maybe_print(self, *, first_break: bool = False, last: bool = False) -> None:
        reporter = self._reporter()
        if reporter is None:
            return
        now = timing.monotonic()
        writer = reporter._tw
        live = bool(getattr(reporter, "isatty", False))  # a terminal: one line, rewritten in place
        if live:
            due = self.printed_at is None or now - self.printed_at >= 1.0
        else:
            step = max(1, math.ceil(len(self.tests_per_cell) / LOG_UPDATES))
            due = self.cells_done - self.printed_done >= step
        if not (due or first_break or last):
            return
        self.printed_at, self.printed_done = now, self.cells_done
        text = self.line(width=writer.fullwidth - 1)
        if not live:
            reporter.ensure_newline()  # pytest's dots of the current file end here; they resume below
            if writer.width_of_current_line:  # xdist's dots keep no current file
                writer.line()
            reporter.write_line(text, yellow=self.first_break is not None, bold=first_break)
            return
        if first_break:  # the first break stays on the screen, above the live line
            self._end_live_line(reporter)
            reporter.write_line(f"compat: first break: {self.first_break}", yellow=True, bold=True)
        elif not self.live_open:
            reporter.ensure_newline()
        reporter.rewrite(text, erase=True, yellow=self.first_break is not None)
        # pytest's own convention for "a line is open": whatever it writes next starts a new line
        reporter.currentfspath = -2
        self.live_open = True
        if last:
            self._end_live_line(reporter)

    def _end_live_line(self, reporter: Any) -> None:
        if self.live_open:
            reporter._tw.line()
            reporter.currentfspath = None
            self.live_open = False


def _is_compat(report: Any) -> bool:
    return any(key == "compat" for key, _ in getattr(report, "user_properties", ()))


def _payload(report: Any) -> Mapping[str, Any] | None:
    import json

    for key, value in getattr(report, "user_properties", ()):
        if key == "compat":
            loaded = json.loads(str(value))
            return loaded if isinstance(loaded, dict) else None
    return None


def _order(verdict: str) -> int:
    return ORDER.index(verdict) if verdict in ORDER else len(ORDER)


def _rank(verdict: str) -> int:
    return _SEVERITY.index(verdict) if verdict in _SEVERITY else len(_SEVERITY)


# --- the summary ---------------------------------------------------------------------------


def summary_lines(results: RunResults, *, limit: int = LIST_AT_MOST) -> list[str]:
    """The compat summary: counts, every break (grouped: one entry per wheel and cause, naming
    its scenarios and the cells it covers), errors (grouped, at most ``limit`` entries), stale
    expectations, declared incompatibilities as counts."""
    from compat.results.grid import expectation_text, failing_pairs, group_failures, one_line, verdict_counts
    from compat.results.model import Verdict

    scenarios = [s for cell in results.cells for s in cell.scenarios]
    counts = verdict_counts(scenarios)
    words = ", ".join(f"{counts[v]} {v}" for v in sorted(counts, key=lambda v: _order(v.value)))
    declared = " (expected-fail, n/a: declared in matrix.yaml, not listed)" \
        if counts.get(Verdict.EXPECTED_FAIL) or counts.get(Verdict.NA) else ""
    cached = sum(1 for s in scenarios if s.cached_from is not None)
    reused = f"; {cached} reused from the verdict cache (not run now)" if cached else ""
    lines = [f"compat summary: {len(results.cells)} cells, {len(scenarios)} scenarios: {words or 'none'}{declared}"
             f"{reused}"]
    # every break is named (its scenarios and cells); errors are infrastructure: the first ``limit``
    for verdict, title, most in ((Verdict.FAIL, "breaks", None), (Verdict.ERROR, "errors (infrastructure, not breaks)",
                                                                   limit)):
        pairs = failing_pairs(results, (verdict,))
        if not pairs:
            continue
        groups = group_failures(pairs)
        lines.append(f"{title}: {len(pairs)} in {len(groups)} group(s) of the same cause")
        for group in groups[:most]:
            where = group.where()
            lines.append(f"  {verdict.symbol} {group.line(most_scenarios=None if most is None else 3)}"
                         + (f" {where}" if where else ""))
        if most is not None and len(groups) > most:
            lines.append(f"  … {len(groups) - most} more groups in the reports")
    stale = failing_pairs(results, (Verdict.STALE,))
    if stale:
        lines.append(f"stale expectations: {len(stale)} (declared incompatible, but passed: remove or narrow them)")
        lines += [f"  {Verdict.STALE.symbol} {cell.cell_id} {scenario.scenario}: matrix.yaml declares "
                  f"{one_line(expectation_text(scenario), 100)}" for cell, scenario in stale[:limit]]
        if len(stale) > limit:
            lines.append(f"  … {len(stale) - limit} more in the reports")
    return lines


def stale_rule_text(allow_stale: bool) -> str:
    """The stale rule the run applied, as the gate line ends with it (``compat gate`` says the same)."""
    return ("stale expectations warn: reported, the run does not fail (--compat-allow-stale)" if allow_stale else
            "stale expectations block: one fails the run, as `compat gate` blocks on it "
            "(--compat-allow-stale to only report it)")


# (text, pytest TerminalWriter markup) of one line of the compat section
Line = tuple[str, dict[str, bool]]
FLIPPED_AT_MOST = 10  # cells listed under "since the last release run"; the reports list them all


def known_issue_lines(results: RunResults) -> list[str]:
    """One line per known issue of matrix.yaml (``known_issues:``): declared, so not a warning."""
    from compat.report.resources import known_findings

    entries = [f"{f.issue.where}: {f.issue.subject()} {f.issue.finding}: {f.seen_text()}"
               for f in known_findings(results)]
    if len(entries) == 1:
        return [f"known issue declared in matrix.yaml (not a warning): {entries[0]}"]
    return [f"known issues declared in matrix.yaml (not warnings): {len(entries)}"] + [f"  {e}" for e in entries] \
        if entries else []


def front_lines(results: RunResults, *, allow_stale: bool = False, limit: int = FLIPPED_AT_MOST) -> list[Line]:
    """What changed since the last release run, then may we release (ending with the stale rule
    the run applied): the last lines of the section, where the eye lands when the run ends."""
    from compat.report.front import front_page

    page = front_page(results)
    lines: list[Line] = [(page.since_headline(), {"bold": True})]
    for flipped in page.flipped[:limit]:
        mark = {"worse": "▼", "better": "▲"}.get(flipped.direction, "•")
        lines.append((f"  {mark} {flipped.line()}", {"red": True} if flipped.direction == "worse" else {}))
    if len(page.flipped) > limit:
        lines.append((f"  … {len(page.flipped) - limit} more flipped cells in the reports", {}))
    if page.since is not None and page.since.edited:
        lines.append((f"  {page.since.edited}", {}))
    lines += [(f"  {line}", {}) for line in page.never_tested[:limit]]
    blocked = page.decision.blocked
    lines.append((f"{page.headline}; {stale_rule_text(allow_stale)}", {"red" if blocked else "green": True,
                                                                       "bold": True}))
    return lines


def section_lines(results: RunResults, *, allow_stale: bool, fail_on_leak: bool, color: bool = False,
                  written: Iterable[object] = (), recorded: str = "") -> list[Line]:
    """The compat section of pytest's terminal summary, top to bottom: the grid, the live swaps
    (one line when none breaks, errs or is stale) and findings, the summary (breaks, errors,
    stale), known issues, leak warnings, where the reports went, then what changed since the
    last release run and the gate decision, last, where the eye lands."""
    from compat.report.findings import terminal_lines as finding_lines
    from compat.report.resources import leak_lines
    from compat.report.terminal import render_terminal_grid

    plain: dict[str, bool] = {}
    lines: list[Line] = [(line, plain) for line in render_terminal_grid(results, color=color)]
    lines += [(line, plain) for line in finding_lines(results)]
    lines += [(line, plain) for line in summary_lines(results)]
    lines += [(line, plain) for line in known_issue_lines(results)]
    warnings = leak_lines(results)
    lines += [(line, {"yellow": True, "bold": True}) for line in warnings]
    if warnings:
        lines.append(("compat: the session fails because of --compat-fail-on-leak" if fail_on_leak else
                      "compat: a suspected leak is a warning only; --compat-fail-on-leak makes it fail the session",
                      {"yellow": True}))
    paths = [str(path) for path in written]
    lines += [(f"compat report{'s' * (len(paths) > 1)}: {', '.join(paths)}", plain)] if paths else []
    lines += [(recorded, plain)] if recorded else []
    return lines + front_lines(results, allow_stale=allow_stale)
