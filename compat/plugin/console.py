"""What a matrix run prints while it runs and when it ends, besides pytest's own lines.

**The progress line** (``Progress``, on the controller: under xdist it sees every worker's
reports through ``pytest_runtest_logreport``)::

    compat: 5/16 cells · 0:42 · 120 pass, 40 expected-fail, 3 n/a, 2 fail · first break:
    client-1.0.0--gateway-2.0.0--venue-tlx breaks: AssertionError: … (one line, cut to the width)

cells done of the cells collected, the time since the session started, the scenarios'
verdicts so far and the first break (a ``fail``) as soon as one is seen. When it is printed:

- never under ``-q`` (or ``-qq``), nor when the run collected no compat scenario;
- on a terminal (or ``--color=yes``): when a cell finishes, at most once a second, and at once
  when the first break is seen, and for the last cell;
- otherwise (CI logs, a pipe): once per tenth of the cells (every ``ceil(cells / 10)`` cells,
  so at most ten lines and the last), and at once for the first break.

Each is one whole line (pytest's own progress dots resume on the next one): the line is never
rewritten in place, so it cannot garble pytest's output or a CI log.

**The summary** (``summary_lines``): counts per verdict; breaks and errors listed, identical
ones grouped (one entry per wheel and cause); stale expectations one by one; declared
incompatibilities (expected-fail) and n/a as counts only; the stale rule the run applied.

This module imports only the stdlib at its top (the plugin stays cheap to import); the
results model is imported once a compat scenario reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from compat import timing

if TYPE_CHECKING:
    from compat.results.model import RunResults

# A cell id inside a node id: `test_x[client-1.0.0--gateway-2.0.0--venue-obx-FLT-0.3]@client-...`
CELL_IN_NODEID = re.compile(r"client-[^\[\]@\s-]+--gateway-[^\[\]@\s-]+(?:--venue-[^\[\]@\s-]+)?")

# verdicts in the order the line shows them: the good news first, what needs a look last
ORDER = ("pass", "expected-fail", "n/a", "flaky", "stale", "error", "fail")
_SEVERITY = ("error", "fail", "stale", "flaky", "expected-fail", "n/a", "pass")  # worst first
LIST_AT_MOST = 20  # entries per listing in the summary; the rest are counted, the reports hold them


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
        if writer.hasmarkup or getattr(reporter, "isatty", False):  # a terminal, or --color=yes
            due = self.printed_at is None or now - self.printed_at >= 1.0
        else:
            step = max(1, math.ceil(len(self.tests_per_cell) / 10))
            due = self.cells_done - self.printed_done >= step
        if not (due or first_break or last):
            return
        self.printed_at, self.printed_done = now, self.cells_done
        reporter.ensure_newline()  # pytest's dots of the current file end here; they resume below
        if writer.width_of_current_line:  # xdist's dots keep no current file
            writer.line()
        reporter.write_line(self.line(width=writer.fullwidth - 1), yellow=self.first_break is not None,
                            bold=first_break)


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


# --- the summary --------------------------------------------------------------------------


def summary_lines(results: RunResults, *, allow_stale: bool = False, limit: int = LIST_AT_MOST) -> list[str]:
    """The compat summary: counts, breaks and errors (grouped), stale expectations, the stale rule."""
    from compat.results.grid import expectation_text, failing_pairs, group_failures, one_line, verdict_counts
    from compat.results.model import Verdict

    scenarios = [s for cell in results.cells for s in cell.scenarios]
    counts = verdict_counts(scenarios)
    words = ", ".join(f"{counts[v]} {v}" for v in sorted(counts, key=lambda v: _order(v.value)))
    cached = sum(1 for s in scenarios if s.cached_from is not None)
    reused = f"; {cached} reused from the verdict cache (not run now)" if cached else ""
    lines = [f"compat summary: {len(results.cells)} cells, {len(scenarios)} scenarios: {words or 'none'}{reused}"]
    for verdict, title in ((Verdict.FAIL, "breaks"), (Verdict.ERROR, "errors (infrastructure, not breaks)")):
        pairs = failing_pairs(results, (verdict,))
        if not pairs:
            continue
        groups = group_failures(pairs)
        lines.append(f"{title}: {len(pairs)} in {len(groups)} group(s) of the same cause")
        lines += [f"  {verdict.symbol} {group.line()}" for group in groups[:limit]]
        if len(groups) > limit:
            lines.append(f"  … {len(groups) - limit} more groups in the reports")
    stale = failing_pairs(results, (Verdict.STALE,))
    if stale:
        lines.append(f"stale expectations: {len(stale)} (declared incompatible, but passed: remove or narrow them)")
        lines += [f"  {Verdict.STALE.symbol} {cell.cell_id} {scenario.scenario}: matrix.yaml declares "
                  f"{one_line(expectation_text(scenario), 100)}" for cell, scenario in stale[:limit]]
        if len(stale) > limit:
            lines.append(f"  … {len(stale) - limit} more in the reports")
    declared = counts.get(Verdict.EXPECTED_FAIL, 0)
    not_applicable = counts.get(Verdict.NA, 0)
    if declared or not_applicable:
        lines.append(f"declared in matrix.yaml (counted, not listed): {declared} expected-fail (incompatible), "
                     f"{not_applicable} n/a")
    lines.append("stale rule: a stale expectation is reported, the run does not fail (--compat-allow-stale)"
                 if allow_stale else
                 "stale rule: a stale expectation fails the run, as `compat gate` blocks on it "
                 "(--compat-allow-stale to only report it)")
    return lines
