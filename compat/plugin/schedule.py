"""Which cells an xdist run hands out first: the heaviest (longest expected work first).

xdist's ``loadgroup`` gives each worker a whole cell at a time, in the order the cells were
collected, and a run ends when its last cell does. When a heavy cell comes last (the candidate
gateway's column after a gateway change: its cells run every scenario while the rest replay
from the verdict cache) the other workers wait for it, idle. Handing the heaviest cells out
first (the "longest processing time first" rule) leaves only light cells for the end.

A cell's weight is the seconds its results are expected to take in this run (``Estimate``: 0
for a result replayed from the verdict cache or declared unsupported, else its last recorded
duration, else a default) plus a stack start when anything runs. Every xdist worker collects
and orders the same items, so the order must come out the same in each: the estimate reads
only what the run found when it started (the verdict cache leaves out this run's own records).
Cells keep their scenarios' order; serial runs keep the collected order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from compat.plugin.hooks import cell_of

if TYPE_CHECKING:
    from compat.config.cell import Cell

Estimate = Callable[[pytest.Item, "Cell"], float]
# What a cell costs before its first scenario when anything in it runs: the stack's start (the
# exchange, the gateway, the client drivers) and its stop, about a second on a 2-core machine.
STACK_START_S = 1.0


def heaviest_first(weights: dict[str, float]) -> list[str]:
    """The cells by descending weight; equal weights keep their order (``weights``' order)."""
    order = {cell: index for index, cell in enumerate(weights)}
    return sorted(weights, key=lambda cell: (-weights[cell], order[cell]))


class HeaviestCellsFirst:
    """Reorders an xdist worker's items, cell by cell, after every other plugin chose and ordered them."""

    def __init__(self, estimate: Estimate) -> None:
        self.estimate = estimate

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> object:
        result = yield
        weights: dict[str, float] = {}
        groups: dict[str, list[pytest.Item]] = {}
        rest: list[pytest.Item] = []
        for item in items:
            cell = cell_of(item)
            if cell is None:
                rest.append(item)
                continue
            groups.setdefault(cell.id, []).append(item)
            weights[cell.id] = weights.get(cell.id, 0.0) + self.estimate(item, cell)
        if groups:
            weights = {cell_id: seconds + STACK_START_S if seconds > 0 else 0.0 for cell_id, seconds in weights.items()}
            items[:] = rest + [item for cell_id in heaviest_first(weights) for item in groups[cell_id]]
        return result


__all__ = ["STACK_START_S", "Estimate", "HeaviestCellsFirst", "heaviest_first"]
