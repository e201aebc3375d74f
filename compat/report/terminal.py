"""The grid as plain text lines, for pytest's terminal summary."""

from __future__ import annotations

from compat.results.grid import GRADE_LEGEND, NOT_RUN, Grade, venue_grids
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
    """One block per venue: a header row of gateway versions, a row per client version, each
    slot the symbol of its grade (``compat.results.grid.grade``), coloured when ``color``; then
    the grades' legend (the counts per verdict, in words, follow in the compat summary)."""
    grids = venue_grids(results)
    if not grids:
        return ["compat matrix: no cells ran"]
    lines: list[str] = []
    for grid in grids:
        corner = "client \\ gateway"
        row_head = max(len(corner), *(len(c) for c in grid.clients))
        widths = [max(len(g), 1) for g in grid.gateways]
        where = f", venue {grid.venue}" if grid.venue else ""  # no venue part without venues
        lines.append(f"compat matrix{where} (rows: client, columns: gateway)")
        lines.append(
            corner.ljust(row_head)
            + "  "
            + "  ".join(g.ljust(w) for g, w in zip(grid.gateways, widths, strict=True))
        )
        for client in grid.clients:
            symbols = []
            for gateway, width in zip(grid.gateways, widths, strict=True):
                slot = grid.slot(client, gateway)
                symbol = slot.symbol if slot is not None else NOT_RUN
                padding = " " * (width - len(symbol))
                symbols.append(_paint(symbol, slot.grade if slot is not None else None, color) + padding)
            lines.append((client.ljust(row_head) + "  " + "  ".join(symbols)).rstrip())
        lines.append("")
    lines[-1] = grade_legend_line()  # in place of the last venue's blank line
    return lines
