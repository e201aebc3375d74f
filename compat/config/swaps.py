"""Live gateway swaps: which (from, to) pairs a run swaps live, declared in matrix.yaml ``swaps:``.

A swap stops a cell's gateway with clients connected and orders resting, and starts another
gateway release on the same journal (a live upgrade when ``to`` comes after ``from`` in the run's
order of gateway versions, a downgrade otherwise). A swap has two ends, so what is known about
it is declared by pair (an expectation's ``from`` and ``to``, ``compat.config.expectations``),
and which pairs run is declared as rules over the run's gateway versions (docs/matrix-yaml.md,
"swaps"):

- ``between: adjacent_releases``: every two neighbouring gateway versions of the run (the
  candidate last), the default when matrix.yaml has no ``swaps:``;
- ``between: adjacent_minors``: the newest release of each minor line with the newest release
  of the next line (patch releases of one line are not swapped among themselves);
- ``between: candidate`` (``minors: N`` optional): the candidate with the newest release of each
  minor line, or of the newest N lines;
- ``between: ["2.1.0", "3.0.0"]``: one explicit pair (``candidate`` names the candidate); a
  pair whose versions are not both in the run is not swapped.

Each rule runs both directions unless it says ``directions: [upgrade]`` or ``[downgrade]``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from compat.config.cell import Release

UPGRADE, DOWNGRADE = "upgrade", "downgrade"
DIRECTIONS: tuple[str, ...] = (UPGRADE, DOWNGRADE)
KINDS: tuple[str, ...] = ("adjacent_releases", "adjacent_minors", "candidate", "pair")
CANDIDATE = "candidate"  # how an explicit pair names the run's candidate


@dataclass(frozen=True)
class Swap:
    """One live swap of a cell's gateway: stop ``source`` (the cell's gateway), start ``target``."""

    source: Release
    target: Release
    direction: str  # "upgrade" | "downgrade"

    @property
    def id(self) -> str:
        """``to-3.0.0``: the scenario parameter that tells this swap from the cell's others."""
        return f"to-{self.target.label}"

    def describe(self) -> str:
        return f"{self.direction} {self.source.label} → {self.target.label}"

    def as_record(self) -> dict[str, str]:
        """How results carry it (``ScenarioResult.swap``): the two ends as labels."""
        return {"from": self.source.label, "to": self.target.label, "direction": self.direction}


@dataclass(frozen=True)
class SwapRule:
    """One entry of matrix.yaml ``swaps:``."""

    kind: str  # one of KINDS
    minors: int | None = None  # kind "candidate": only the newest N minor lines
    pair: tuple[str, str] = ("", "")  # kind "pair": two versions, or "candidate"
    directions: tuple[str, ...] = DIRECTIONS
    line: int = 0

    def describe(self) -> str:
        what = {
            "adjacent_releases": "every two adjacent gateway versions",
            "adjacent_minors": "the newest releases of adjacent minor lines",
            "candidate": "the candidate with the newest release of "
            + (f"each of the newest {self.minors} minor lines" if self.minors else "each minor line"),
            "pair": f"{self.pair[0]} with {self.pair[1]}",
        }[self.kind]
        ways = "both ways" if set(self.directions) == set(DIRECTIONS) else f"{self.directions[0]} only"
        return f"{what}, {ways}" + (f" [matrix.yaml line {self.line}]" if self.line else "")


DEFAULT_RULES: tuple[SwapRule, ...] = (SwapRule("adjacent_releases"),)


def _version(release: Release) -> Version | None:
    try:
        return Version(release.version)
    except InvalidVersion:
        return None


def _minor(release: Release) -> tuple[int, int] | None:
    version = _version(release)
    if version is None:
        return None
    parts = version.release
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def _newest_per_minor(releases: Sequence[Release]) -> list[Release]:
    """The newest release of each minor line, oldest line first (releases are oldest first)."""
    newest: dict[tuple[int, int], Release] = {}
    for release in releases:
        line = _minor(release)
        if line is not None:
            newest[line] = release  # later in the run's order is newer
    return [newest[line] for line in sorted(newest)]


def _named(releases: Sequence[Release], name: str) -> Release | None:
    if name == CANDIDATE:
        return next((r for r in releases if r.candidate), None)
    try:
        wanted = Version(name)
    except InvalidVersion:
        return None
    return next((r for r in releases if not r.candidate and _version(r) == wanted), None)


def _pairs(rule: SwapRule, gateways: Sequence[Release]) -> Iterable[tuple[Release, Release]]:
    """Unordered pairs (older, newer in the run's order) a rule declares."""
    released = [r for r in gateways if not r.candidate]
    if rule.kind == "adjacent_releases":
        yield from itertools.pairwise(gateways)
    elif rule.kind == "adjacent_minors":
        lines = _newest_per_minor(released)
        yield from itertools.pairwise(lines)
    elif rule.kind == "candidate":
        candidate = next((r for r in gateways if r.candidate), None)
        if candidate is not None:
            lines = _newest_per_minor(released)
            chosen = lines[-rule.minors:] if rule.minors else lines
            yield from ((line, candidate) for line in chosen)
    elif rule.kind == "pair":
        first, second = (_named(gateways, name) for name in rule.pair)
        if first is not None and second is not None and first != second:
            yield (first, second) if gateways.index(first) < gateways.index(second) else (second, first)


def plan_swaps(rules: Sequence[SwapRule], gateways: Sequence[Release]) -> tuple[Swap, ...]:
    """Every swap the rules declare over the run's gateway releases (oldest first, the candidate
    last), each once, ordered by source then target."""
    order = {release: index for index, release in enumerate(gateways)}
    found: dict[tuple[Release, Release], Swap] = {}
    for rule in rules or DEFAULT_RULES:
        for older, newer in _pairs(rule, gateways):
            if UPGRADE in rule.directions:
                found.setdefault((older, newer), Swap(older, newer, UPGRADE))
            if DOWNGRADE in rule.directions:
                found.setdefault((newer, older), Swap(newer, older, DOWNGRADE))
    return tuple(sorted(found.values(), key=lambda s: (order[s.source], order[s.target])))


def swaps_from(swaps: Sequence[Swap], source: Release, direction: str) -> list[Swap]:
    """The swaps of ``direction`` whose ``from`` is ``source`` (one cell's swap scenarios)."""
    return [s for s in swaps if s.source == source and s.direction == direction]
