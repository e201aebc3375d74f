"""The grid as plain text lines, for pytest's terminal summary."""

from __future__ import annotations

from compat.results.grid import LEGEND, NOT_RUN, counts_text, venue_grids, verdict_counts
from compat.results.model import RunResults


def render_terminal_grid(results: RunResults) -> list[str]:
    """One block per venue: a header row of gateway versions, a row per client version."""
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
                symbols.append((slot.symbol if slot is not None else NOT_RUN).ljust(width))
            lines.append((client.ljust(row_head) + "  " + "  ".join(symbols)).rstrip())
        lines.append("")
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    lines.append(
        f"{len(results.cells)} cells, {len(scenarios)} scenarios: {counts_text(verdict_counts(scenarios))}"
    )
    lines.append("legend: " + "  ".join(f"{v.symbol} {v}" for v, _ in LEGEND) + f"  {NOT_RUN} not run")
    return lines
