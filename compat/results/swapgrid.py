"""The swap grid: live gateway swaps laid out by their two ends (rows ``from``, columns ``to``).

A swap scenario runs in the cell of its source gateway (``ScenarioResult.swap`` names both
ends), once per client; the swap grid gathers every client's result of one (from, to) pair
into one slot per venue, graded like a matrix slot (``compat.results.grid.grade``). A swap
whose target could not start at all is charged to that target (``swap["charged_to"]``) and
listed apart (:func:`target_failures`), naming the ``to`` version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compat.results.grid import Grade, counts_text, grade, sorted_versions, verdict_counts
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict, worst


@dataclass(frozen=True)
class SwapSlot:
    """Every client's result of one (from, to) swap on one venue."""

    source: str
    target: str
    results: tuple[tuple[CellResult, ScenarioResult], ...]

    @property
    def direction(self) -> str:
        return self.results[0][1].swap.get("direction", "") if self.results and self.results[0][1].swap else ""

    @property
    def grade(self) -> Grade | None:
        return grade(s.verdict for _, s in self.results)

    @property
    def verdict(self) -> Verdict | None:
        return worst([s.verdict for _, s in self.results])

    @property
    def symbol(self) -> str:
        found = self.grade
        return found.symbol if found is not None else ""

    @property
    def counts(self) -> str:
        return counts_text(verdict_counts(s for _, s in self.results))

    @property
    def clients(self) -> tuple[str, ...]:
        return sorted_versions(c.client_version for c, _ in self.results)


@dataclass(frozen=True)
class SwapGrid:
    venue: str
    sources: tuple[str, ...]  # rows: the gateways swapped from (every end, so the grid is square)
    targets: tuple[str, ...]  # columns: the gateways swapped to (the same versions)
    slots: dict[tuple[str, str], SwapSlot]

    def slot(self, source: str, target: str) -> SwapSlot | None:
        return self.slots.get((source, target))


def swap_results(results: RunResults) -> list[tuple[CellResult, ScenarioResult]]:
    return [(cell, s) for cell in results.cells for s in cell.scenarios if s.swap]


def swap_grids(results: RunResults) -> list[SwapGrid]:
    """One grid per venue that ran a swap scenario; empty when none did."""
    by_venue: dict[str, dict[tuple[str, str], list[tuple[CellResult, ScenarioResult]]]] = {}
    for cell, scenario in swap_results(results):
        assert scenario.swap is not None
        key = (scenario.swap.get("from", cell.gateway_version), scenario.swap.get("to", "?"))
        by_venue.setdefault(cell.venue, {}).setdefault(key, []).append((cell, scenario))
    grids = []
    for venue in sorted(by_venue):
        pairs = by_venue[venue]
        slots = {key: SwapSlot(key[0], key[1], tuple(sorted(found, key=lambda p: p[0].cell_id)))
                 for key, found in pairs.items()}
        # One axis for both ends, so the diagonal splits upgrades (above) from downgrades (below).
        versions = sorted_versions([end for key in pairs for end in key])
        grids.append(SwapGrid(venue, versions, versions, slots))
    return grids


@dataclass(frozen=True)
class TargetFailure:
    """A gateway that did not start as a swap's target (not even on a fresh journal)."""

    target: str
    results: tuple[tuple[CellResult, ScenarioResult], ...]

    @property
    def sources(self) -> tuple[str, ...]:
        return sorted_versions(s.swap["from"] for _, s in self.results if s.swap and "from" in s.swap)

    def line(self) -> str:
        first = self.results[0][1].reason or "did not start"
        return (f"gateway {self.target} did not start as the target of a live swap (from "
                f"{', '.join(self.sources)}; {len(self.results)} result(s)), not even on a fresh journal: "
                f"charged to {self.target}, not to the source: {first}")


def target_failures(results: RunResults) -> list[TargetFailure]:
    """The swaps whose target never started, grouped by target (the version they are charged to)."""
    grouped: dict[str, list[tuple[CellResult, ScenarioResult]]] = {}
    for cell, scenario in swap_results(results):
        assert scenario.swap is not None
        if scenario.swap.get("charged_to"):
            grouped.setdefault(scenario.swap["charged_to"], []).append((cell, scenario))
    return [TargetFailure(target, tuple(found)) for target, found in sorted(grouped.items())]


def grid_rows(grid: SwapGrid) -> Sequence[tuple[str, list[SwapSlot | None]]]:
    """(from, [slot per target column]) for a renderer."""
    return [(source, [grid.slot(source, target) for target in grid.targets]) for source in grid.sources]
