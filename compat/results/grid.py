"""The matrix as grids: one per venue, clients as rows, gateways as columns.

Every renderer (markdown, terminal, html) draws from this one model, so they agree on
ordering (``packaging.Version``), on the grade of a slot (``grade``) and on counts.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from compat.config.cell import is_candidate_label
from compat.results.model import SEVERITY, CellResult, RunResults, ScenarioResult, Verdict, worst
from compat.results.verdicts import cause_line, split_cause

NOT_RUN = "·"  # a (client, gateway) slot with no cell in this venue


class Grade(enum.StrEnum):
    """What a grid slot says about a (client, gateway) pair, from its scenarios' verdicts.

    Listed in precedence order, the first that applies wins (``grade``): whatever blocks the
    release (break, error, stale) outranks a flaky rerun, which outranks the declared results.
    ``CACHED`` (some verdict reused from the verdict cache, none blocking or flaky) sits between
    ``FLAKY`` and ``DECLARED``: it is about how the result was obtained, not about what blocks,
    and it must never pass for a fresh run.
    """

    BREAK = "break"  # any scenario failed: a compatibility break
    ERROR = "error"  # any infrastructure error (and no break)
    STALE = "stale"  # a declared incompatibility passed: the expectation is stale
    FLAKY = "flaky"  # a scenario failed, then passed on a visible rerun
    CACHED = "cached"  # some verdicts reused from the verdict cache (not run now); nothing blocks
    DECLARED = "declared"  # every scenario that ran was expected-fail or n/a: declared not to work
    DEGRADED = "degraded"  # passes, with declared degradations (some expected-fail or n/a)
    PASS = "pass"  # every scenario passed

    @property
    def symbol(self) -> str:
        return _GRADE_SYMBOLS.get(self, "?")

    @property
    def meaning(self) -> str:
        return _GRADE_MEANINGS.get(self, self.value)


_GRADE_SYMBOLS = {
    Grade.BREAK: "✗",
    Grade.ERROR: "E",
    Grade.STALE: "!",
    Grade.FLAKY: "~",
    Grade.CACHED: "↺",
    Grade.DECLARED: "x",
    Grade.DEGRADED: "≈",
    Grade.PASS: "✓",
}

# The verdict that makes each blocking or flaky grade, in precedence order.
_DECISIVE: tuple[tuple[Verdict, Grade], ...] = (
    (Verdict.FAIL, Grade.BREAK),
    (Verdict.ERROR, Grade.ERROR),
    (Verdict.STALE, Grade.STALE),
    (Verdict.FLAKY, Grade.FLAKY),
)


def grade(verdicts: Iterable[Verdict], cached: bool = False) -> Grade | None:
    """The grade of a slot from its scenarios' verdicts; None when nothing ran. ``cached``:
    some of them were reused from the verdict cache.

    Precedence: break > error > stale > flaky > cached > declared > degraded > pass. Past the
    first five, only pass, expected-fail and n/a remain: no pass at all is "declared
    incompatible", passes next to expected-fail or n/a are "degraded", passes only are "pass".
    """
    present = set(verdicts)
    if not present:
        return None
    for verdict, decisive in _DECISIVE:
        if verdict in present:
            return decisive
    if cached:
        return Grade.CACHED
    if Verdict.PASS not in present:
        return Grade.DECLARED
    if present & {Verdict.EXPECTED_FAIL, Verdict.NA}:
        return Grade.DEGRADED
    return Grade.PASS


_GRADE_MEANINGS = {
    Grade.PASS: "every scenario passed",
    Grade.DEGRADED: "passes, with declared degradations (some scenarios n/a or expected-fail)",
    Grade.DECLARED: "declared incompatible: every scenario that ran was expected-fail or n/a",
    Grade.BREAK: "compatibility break: a scenario failed",
    Grade.ERROR: "infrastructure error, not a break",
    Grade.STALE: "a declared incompatibility passed: stale expectation",
    Grade.FLAKY: "a scenario failed, then passed on a visible rerun",
    Grade.CACHED: "verdicts reused from the verdict cache, not run now (none blocks); its counts are "
                  "those of the run they came from",
}

# Every grade, from the good news to what blocks (the reverse of precedence): legends iterate
# over the enum, so a grade added to it shows up in every legend without an edit there.
GRADE_LEGEND: tuple[tuple[Grade, str], ...] = tuple((g, g.meaning) for g in reversed(Grade))


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
    def cached(self) -> int:
        """How many of its scenarios' verdicts were reused from the verdict cache."""
        return sum(1 for s in self.scenarios if s.cached_from is not None)

    @property
    def grade(self) -> Grade | None:
        return grade((s.verdict for s in self.scenarios), cached=self.cached > 0)

    @property
    def symbol(self) -> str:
        found = self.grade
        return found.symbol if found is not None else NOT_RUN


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


_BROKEN = (Verdict.FAIL, Verdict.ERROR, Verdict.FLAKY)


def scenario_reason(scenario: ScenarioResult, limit: int = 160) -> str:
    """The one-line why of a verdict, cause first (``compat.results.verdicts.cause_line``).

    For a failure, built from its full message: the differing fields of an assertion, the last
    log line of a process that died at start (its argparse error), the last line of an
    exception, then as much context as fits; results of older runs, whose recorded reason was
    the message's first line cut before the cause, read the same. Otherwise the recorded reason
    (an expected-fail's declared one, an n/a's)."""
    if scenario.verdict in _BROKEN and scenario.message:
        cause = cause_line(scenario.message, limit)
        if cause:
            teardown = (scenario.reason or "").startswith("teardown: ") and not cause.startswith("teardown: ")
            return one_line(("teardown: " if teardown else "") + cause, limit)
    return one_line(scenario.reason, limit) or cause_line(scenario.message, limit) or "(no reason recorded)"


@dataclass(frozen=True)
class FailureGroup:
    """Identical failures: one verdict and cause, on one wheel, with every (cell, scenario) it covers."""

    verdict: Verdict
    cause: str
    wheel: str  # "gateway 2.0.0", "client 1.0.0", or "client 1.0.0 × gateway 2.0.0"
    context: str  # the context of the first of them (an example: paths and ports differ)
    pairs: tuple[tuple[CellResult, ScenarioResult], ...]

    @property
    def cells(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.cell_id for c, _ in self.pairs))

    @property
    def scenarios(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.scenario for _, s in self.pairs))

    def line(self, limit: int = 160, most_scenarios: int | None = 3) -> str:
        """``gateway 2.0.0: differs: price: 1 != 2 (4 cells, 1 scenario: S13_md)``; every
        scenario named when ``most_scenarios`` is None."""
        cells, scenarios = len({(c.venue, c.cell_id) for c, _ in self.pairs}), len(self.scenarios)
        shown = self.scenarios if most_scenarios is None else self.scenarios[:most_scenarios]
        names = ", ".join(shown) + (", …" if scenarios > len(shown) else "")
        where = f"{cells} cell{'s' * (cells != 1)}, {scenarios} scenario{'s' * (scenarios != 1)}: {names}"
        return f"{self.wheel}: {one_line(self.cause, limit)} ({where})"

    def where(self) -> str:
        """The cells a group covers, by what varies beside its wheel: ``with clients 2.1.0,
        3.0.0 on tlx`` for a gateway's group, ``on obx, tlx`` for one pair's."""
        venues = sorted({c.venue for c, _ in self.pairs if c.venue})
        on = f" on {', '.join(venues)}" if venues else ""
        clients = sorted_versions(c.client_version for c, _ in self.pairs)
        gateways = sorted_versions(c.gateway_version for c, _ in self.pairs)
        if self.wheel.startswith("gateway "):
            return f"with client{'s' * (len(clients) != 1)} {', '.join(clients)}{on}"
        if self.wheel.startswith("client ") and " × " not in self.wheel:
            return f"with gateway{'s' * (len(gateways) != 1)} {', '.join(gateways)}{on}"
        return on.strip()


def failure_cause(cell: CellResult, scenario: ScenarioResult) -> tuple[str, str]:
    """(cause, context) of a failure as ``group_failures`` groups it by default."""
    if scenario.verdict in _BROKEN and scenario.message and (split := split_cause(scenario.message))[0]:
        return split
    return scenario_reason(scenario), ""


def group_failures(
    pairs: Iterable[tuple[CellResult, ScenarioResult]],
    cause_of: Callable[[CellResult, ScenarioResult], tuple[str, str]] = failure_cause,
) -> list[FailureGroup]:
    """One entry per (verdict, cause, wheel) for listings of failures (``failing_pairs``).

    The cause is the text ``split_cause`` finds (the context, with its paths and ports, does not
    split a group), or what ``cause_of`` says. A cause on every cell of one gateway version is
    that gateway's entry, else on one client version that client's; else one entry per gateway
    version (per pair when a gateway version holds one). Entries keep the order of their first pair."""
    buckets: dict[tuple[Verdict, str], list[tuple[CellResult, ScenarioResult]]] = {}
    contexts: dict[tuple[Verdict, str], str] = {}
    for cell, scenario in pairs:
        cause, context = cause_of(cell, scenario)
        key = (scenario.verdict, cause)
        buckets.setdefault(key, []).append((cell, scenario))
        contexts.setdefault(key, context)
    groups: list[FailureGroup] = []
    for (verdict, cause), members in buckets.items():
        for wheel, subset in _by_wheel(members):
            groups.append(FailureGroup(verdict, cause, wheel, contexts[(verdict, cause)], tuple(subset)))
    return groups


def _by_wheel(
    members: list[tuple[CellResult, ScenarioResult]],
) -> list[tuple[str, list[tuple[CellResult, ScenarioResult]]]]:
    gateways = {c.gateway_version for c, _ in members}
    clients = {c.client_version for c, _ in members}
    if len(gateways) == 1 and len(clients) == 1:
        return [(f"client {next(iter(clients))} × gateway {next(iter(gateways))}", members)]
    if len(gateways) == 1:
        return [(f"gateway {next(iter(gateways))}", members)]
    if len(clients) == 1:
        return [(f"client {next(iter(clients))}", members)]
    by_gateway: dict[str, list[tuple[CellResult, ScenarioResult]]] = {}
    for cell, scenario in members:
        by_gateway.setdefault(cell.gateway_version, []).append((cell, scenario))
    return [entry for subset in by_gateway.values() for entry in _by_wheel(subset)]


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


def candidate_versions(results: RunResults) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(client, gateway) version labels of the run's candidates (``+candidate`` builds)."""
    clients = sorted_versions(c.client_version for c in results.cells if is_candidate_label(c.client_version))
    gateways = sorted_versions(c.gateway_version for c in results.cells if is_candidate_label(c.gateway_version))
    return clients, gateways


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
