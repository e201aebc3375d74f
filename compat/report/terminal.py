"""The grid as plain text lines, for pytest's terminal summary: one block, every venue in each slot."""

from __future__ import annotations

from compat.results.grid import GRADE_LEGEND, NOT_RUN, Grade, sorted_versions, venue_grids
from compat.results.model import RunResults

# SGR colours per grade when the terminal takes them (``color=True``): green, cyan, dim,
# bold red, bold magenta, bold yellow, yellow, blue.
_ANSI: dict[Grade, str] = {
    Grade.PASS: "32",
    Grade.DEGRADED: "36",
    Grade.DECLARED: "2",
    Grade.BREAK: "1;31",
    Grade.ERROR: "1;35",
    Grade.STALE: "1;33",
    Grade.FLAKY: "33",
    Grade.CACHED: "34",
}


def _paint(text: str, grade: Grade | None, color: bool) -> str:
    if not color or grade is None or grade not in _ANSI:
        return text
    return f"\x1b[{_ANSI[grade]}m{text}\x1b[0m"


def grade_legend_line() -> str:
    """``grades: ✓ pass  ≈ degraded  ...``: the grid symbols, one word each."""
    return "grades: " + "  ".join(f"{g.symbol} {g}" for g, _ in GRADE_LEGEND) + f"  {NOT_RUN} not run"


def render_terminal_grid(results: RunResults, color: bool = False) -> list[str]:
    """The grid in one block whatever the venues: a header row of gateway versions, a row per
    client version, each slot the symbols of its grade (``compat.results.grid.grade``) on each
    venue in name order (``✓ x``: ✓ on the first venue, x on the second), coloured when
    ``color``; then the grades' legend (the counts per verdict, in words, follow in the compat
    summary). One block, not one per venue, so a clean matrix's terminal stays one screen; the
    Markdown and HTML reports draw a grid per venue."""
    grids = venue_grids(results)
    if not grids:
        return ["compat matrix: no cells ran"]
    clients = sorted_versions(c for grid in grids for c in grid.clients)
    gateways = sorted_versions(g for grid in grids for g in grid.gateways)
    venues = [grid.venue for grid in grids]
    if len(grids) == 1:
        where = f", venue {venues[0]}" if venues[0] else ""  # no venue part without venues
        lines = [f"compat matrix{where} (rows: client, columns: gateway)"]
    else:
        lines = [f"compat matrix (rows: client, columns: gateway; each slot: venues {' '.join(venues)})"]
    corner = "client \\ gateway"
    row_head = max(len(corner), *(len(c) for c in clients))
    widths = [max(len(g), 2 * len(grids) - 1) for g in gateways]
    lines.append((corner.ljust(row_head) + "  " + "  ".join(g.ljust(w) for g, w in zip(gateways, widths,
                                                                                        strict=True))).rstrip())
    for client in clients:
        slots = []
        for gateway, width in zip(gateways, widths, strict=True):
            symbols = []
            for grid in grids:
                slot = grid.slot(client, gateway)
                symbols.append(_paint(slot.symbol, slot.grade, color) if slot is not None else NOT_RUN)
            shown = " ".join(symbols)
            slots.append(shown + " " * (width - (2 * len(grids) - 1)))
        lines.append((client.ljust(row_head) + "  " + "  ".join(slots)).rstrip())
    lines.append(grade_legend_line())
    return lines
