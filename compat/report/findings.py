"""The report sections about versions rather than cells: the swap grid and the findings.

- the **swap grid** (``compat.results.swapgrid``): live gateway swaps by their two ends, rows
  ``from``, columns ``to``, one slot per pair graded over every client that ran it;
- the **findings**: capabilities a version lost against its predecessor
  (``compat.results.capabilities``; blocking unless matrix.yaml declares the removal) and swap
  targets that did not start at all (charged to the target).

Each renderer (Markdown, terminal, HTML) takes its lines or its context from here, so the
renderers themselves only place the section.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from compat.results.capabilities import CapabilityLoss, capability_losses
from compat.results.grid import GRADE_LEGEND, NOT_RUN, Grade
from compat.results.model import RunResults
from compat.results.swapgrid import SwapGrid, SwapSlot, grid_rows, swap_grids, target_failures


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _slot_text(slot: SwapSlot | None) -> str:
    return f"{slot.symbol} {slot.counts}".strip() if slot is not None else NOT_RUN


def markdown_lines(results: RunResults) -> list[str]:
    """The swap grid and findings sections of the Markdown report (nothing when there are none)."""
    lines: list[str] = []
    for grid in swap_grids(results):
        title = f"### Live swaps, venue `{grid.venue}`" if grid.venue else "### Live swaps"
        lines += [title, "", "| from \\ to | " + " | ".join(grid.targets) + " |", "|---|" + "---|" * len(grid.targets)]
        lines += [f"| **{source}** | " + " | ".join(_slot_text(slot) for slot in row) + " |"
                  for source, row in grid_rows(grid)]
        lines += ["", "Each slot: the swap from its row's gateway to its column's, over every client that ran it "
                  "(grade, then the count per verdict).", ""]
    findings = finding_lines(results)
    if findings:
        lines += [f"### Findings ({len(findings)})", "", *(f"- {_md(line)}" for line in findings), ""]
    return lines


def blocking_findings(results: RunResults) -> int:
    """How many findings block the release gate (capabilities lost and not declared removed): the
    reports' gate line counts them with the blocking verdicts."""
    return sum(1 for loss in capability_losses(results) if loss.declared is None)


def finding_lines(results: RunResults) -> list[str]:
    """One line per finding: lost capabilities first (they block the gate), then declared removals
    and swap targets that never started."""
    losses = capability_losses(results)
    lost = [f"BLOCKS the gate: {loss.line()}" for loss in losses if loss.declared is None]
    declared = [loss.line() for loss in losses if loss.declared is not None]
    targets = [failure.line() for failure in target_failures(results)]
    return [*lost, *declared, *targets]


# Swap grades that show the swap grids in the terminal: the rest behave as matrix.yaml declares
# (passes, declared degradations, declared incompatible) or did not settle (flaky: the compat
# summary counts it), and fold into one line.
SHOWN_GRADES: frozenset[Grade] = frozenset({Grade.BREAK, Grade.ERROR, Grade.STALE})


def swap_summary_line(grids: Sequence[SwapGrid]) -> str:
    """``live swaps: 36 (from, to) pairs on obx, tlx, none broken: 20 ✓ pass, 10 ≈ degraded, ...``:
    the swap grids in one line, when none of their slots breaks, errs or is stale."""
    slots = [slot for grid in grids for slot in grid.slots.values()]
    grades = Counter(slot.grade for slot in slots if slot.grade is not None)
    counts = ", ".join(f"{grades[g]} {g.symbol} {g}" for g, _ in GRADE_LEGEND if grades.get(g))
    venues = [grid.venue for grid in grids if grid.venue]
    on = f" on {', '.join(venues)}" if venues else ""
    return (f"live swaps: {len(slots)} (from, to) pair{'s' * (len(slots) != 1)}{on}, none broken: {counts} "
            "(the grids: Markdown and HTML reports)")


def terminal_lines(results: RunResults) -> list[str]:
    """The swap grids (per venue) and the findings, for pytest's terminal summary. When no swap
    breaks, errs or is stale (``SHOWN_GRADES``), the grids fold into one line of counts per grade:
    the terminal of a clean matrix stays one screen; the reports keep the grids."""
    lines: list[str] = []
    grids = swap_grids(results)
    if grids and not any(slot.grade in SHOWN_GRADES for grid in grids for slot in grid.slots.values()):
        lines.append(swap_summary_line(grids))
        grids = []
    for grid in grids:
        venue = f", venue {grid.venue}" if grid.venue else ""
        lines.append(f"live swaps{venue} (rows: from, columns: to)")
        width = max([len("from \\ to"), *(len(s) for s in grid.sources)])
        widths = [max(len(target), 1) for target in grid.targets]
        lines.append("  ".join(["from \\ to".ljust(width), *(t.ljust(w) for t, w in zip(grid.targets, widths,
                                                                                          strict=True))]))
        for source, row in grid_rows(grid):
            symbols = [(slot.symbol if slot is not None else NOT_RUN).ljust(w) for slot, w in zip(row, widths,
                                                                                                  strict=True)]
            lines.append("  ".join([source.ljust(width), *symbols]).rstrip())
    lines += [f"compat finding: {line}" for line in finding_lines(results)]
    return lines


def html_context(results: RunResults) -> dict[str, Any]:
    """What ``findings.html.j2`` shows."""
    grids = [{"venue": grid.venue, "targets": grid.targets,
              "rows": [(source, [_slot_view(slot) for slot in row]) for source, row in grid_rows(grid)]}
             for grid in swap_grids(results)]
    losses: list[CapabilityLoss] = capability_losses(results)
    return {
        "swap_grids": grids,
        "lost": [loss.line() for loss in losses if loss.declared is None],
        "removed": [loss.line() for loss in losses if loss.declared is not None],
        "target_failures": [failure.line() for failure in target_failures(results)],
        "not_run": NOT_RUN,
    }


def _slot_view(slot: SwapSlot | None) -> dict[str, str] | None:
    if slot is None:
        return None
    return {"grade": str(slot.grade or ""), "symbol": slot.symbol, "counts": slot.counts,
            "title": f"{slot.direction} {slot.source} → {slot.target}: clients {', '.join(slot.clients)}"}
