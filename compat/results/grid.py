"""The matrix as grids: one per venue, clients as rows, gateways as columns.

Every renderer (markdown, terminal, html) draws from this one model, so they agree on
ordering (``packaging.Version``), on the summary verdict of a slot (the worst) and on counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from compat.results.model import SEVERITY, CellResult, RunResults, ScenarioResult, Verdict, worst

NOT_RUN = "·"  # a (client, gateway) slot with no cell in this venue


def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key: PEP 440 order for valid versions, text order after them for anything else."""
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def sorted_versions(versions: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(versions), key=version_key))


@dataclass(frozen=True)
class Slot:
    """What sits at one (client, gateway) position of a venue grid (usually one cell)."""

    cells: tuple[CellResult, ...]

    @property
    def scenarios(self) -> tuple[ScenarioResult, ...]:
        return tuple(s for cell in self.cells for s in cell.scenarios)

    @property
    def verdict(self) -> Verdict | None:
        return worst([s.verdict for s in self.scenarios])

    @property
    def counts(self) -> dict[Verdict, int]:
        return verdict_counts(self.scenarios)

    @property
    def symbol(self) -> str:
        verdict = self.verdict
        return verdict.symbol if verdict is not None else NOT_RUN


@dataclass(frozen=True)
class VenueGrid:
    venue: str
    clients: tuple[str, ...]
    gateways: tuple[str, ...]
    slots: dict[tuple[str, str], Slot]  # (client_version, gateway_version) → slot

    def slot(self, client: str, gateway: str) -> Slot | None:
        return self.slots.get((client, gateway))


def venue_grids(results: RunResults) -> list[VenueGrid]:
    """One grid per venue, venues in name order, versions in PEP 440 order."""
    by_venue: dict[str, list[CellResult]] = {}
    for cell in results.cells:
        by_venue.setdefault(cell.venue, []).append(cell)
    grids = []
    for venue in sorted(by_venue):
        cells = by_venue[venue]
        grouped: dict[tuple[str, str], list[CellResult]] = {}
        for cell in cells:
            grouped.setdefault((cell.client_version, cell.gateway_version), []).append(cell)
        grids.append(
            VenueGrid(
                venue=venue,
                clients=sorted_versions(c.client_version for c in cells),
                gateways=sorted_versions(c.gateway_version for c in cells),
                slots={key: Slot(tuple(group)) for key, group in grouped.items()},
            )
        )
    return grids


def verdict_counts(scenarios: Iterable[ScenarioResult]) -> dict[Verdict, int]:
    """Counts per verdict, in severity order (worst first), zero counts left out."""
    counter = Counter(s.verdict for s in scenarios)
    return {v: counter[v] for v in SEVERITY if counter[v]}


def counts_text(counts: dict[Verdict, int]) -> str:
    """``2✗ 29✓``: count then symbol, worst first."""
    return " ".join(f"{n}{v.symbol}" for v, n in counts.items())


def all_scenarios(results: RunResults) -> list[tuple[CellResult, ScenarioResult]]:
    return [(cell, s) for cell in results.cells for s in cell.scenarios]


def one_line(text: str | None, limit: int = 160) -> str:
    """The first non-empty line of a text, shortened to ``limit`` characters."""
    if not text:
        return ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            return stripped if len(stripped) <= limit else stripped[: limit - 1] + "…"
    return ""


def scenario_reason(scenario: ScenarioResult) -> str:
    """The one-line why of a verdict: the recorded reason, else the message's first line."""
    return one_line(scenario.reason) or one_line(scenario.message) or "(no reason recorded)"


LEGEND: tuple[tuple[Verdict, str], ...] = (
    (Verdict.PASS, "passed"),
    (Verdict.FAIL, "compatibility break"),
    (Verdict.EXPECTED_FAIL, "declared incompatible in matrix.yaml, and it failed"),
    (Verdict.STALE, "declared incompatible but passed: stale expectation"),
    (Verdict.NA, "the pair lacks a capability the scenario needs"),
    (Verdict.ERROR, "infrastructure error, not a break"),
    (Verdict.FLAKY, "failed, then passed on a visible rerun"),
)


def failing_pairs(
    results: RunResults, verdicts: Sequence[Verdict] = (Verdict.ERROR, Verdict.FAIL)
) -> list[tuple[CellResult, ScenarioResult]]:
    """The (cell, scenario) pairs with one of ``verdicts``, in grid order."""
    order = {v: i for i, v in enumerate(verdicts)}
    pairs = [(c, s) for c, s in all_scenarios(results) if s.verdict in order]
    return sorted(
        pairs,
        key=lambda p: (
            p[0].venue,
            version_key(p[0].client_version),
            version_key(p[0].gateway_version),
            order[p[1].verdict],
            p[1].scenario,
        ),
    )


def expectation_text(scenario: ScenarioResult) -> str:
    """``incompatible: reason (TICKET)``, or ``compatible`` when matrix.yaml declares nothing."""
    expectation = scenario.expectation
    if not expectation:
        return "compatible"
    text = str(expectation.get("kind") or "declared")
    if expectation.get("reason"):
        text += f": {expectation['reason']}"
    if expectation.get("ticket"):
        text += f" ({expectation['ticket']})"
    return text
