"""The first screen of every report: may we release (the gate decision and why), what changed
since the last release run, and the candidate's place in the grid. Pure functions over
``RunResults``; the terminal, Markdown and HTML renderers all draw from here, so they agree.

- **The gate** is ``compat.results.gate.evaluate`` over the run, with the support window of
  its matrix (``meta.support_window``, stamped by the plugin) and its stale rule
  (``meta.allow_stale``): the same decision ``compat gate`` prints. Its blockers are grouped
  like failures (one entry per verdict, cause and wheel, with the cells it covers).
- **The flips** are ``meta.since_release`` (``compat.results.since``), computed against the
  results store when the run was recorded; without it the reports say why nothing was compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from compat.report.wirediff import wire_diff
from compat.results import schema_notes
from compat.results.gate import ALLOW_STALE_META_KEY, GateDecision, SupportWindow, evaluate
from compat.results.grid import (
    FailureGroup,
    candidate_versions,
    failing_pairs,
    failure_cause,
    group_failures,
)
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict
from compat.results.since import CellFlips, SinceRelease, from_meta

WHY_AT_MOST = 3  # grouped blockers and flipped cells the first screen shows; the rest one click away


def decide(results: RunResults) -> GateDecision:
    """The release gate over the run, as ``compat gate`` decides it for the run's matrix."""
    return evaluate(results, SupportWindow.from_meta(results.meta),
                    allow_stale=bool(results.meta.get(ALLOW_STALE_META_KEY)))


def blocker_groups(decision: GateDecision) -> list[FailureGroup]:
    """The gate's blockers grouped: one entry per verdict, cause and wheel; breaks first, then
    errors, stale and expired expectations. A break or error groups by its cause (the context,
    with its paths and ports, does not split it); the others by what the gate says of them."""
    why = {(f.cell.venue, f.cell.cell_id, f.scenario.scenario): f.why for f in decision.blockers}

    def cause(cell: CellResult, scenario: ScenarioResult) -> tuple[str, str]:
        if scenario.verdict in (Verdict.FAIL, Verdict.ERROR):
            return failure_cause(cell, scenario)
        return why[(cell.venue, cell.cell_id, scenario.scenario)], ""

    order = {Verdict.FAIL: 0, Verdict.ERROR: 1, Verdict.STALE: 2}
    pairs = sorted(((f.cell, f.scenario) for f in decision.blockers), key=lambda p: order.get(p[1].verdict, 3))
    return group_failures(pairs, cause)


def never_tested_lines(decision: GateDecision) -> list[str]:
    return [f"never tested: client {c} × gateway {g}" + (f" [{venue}]" if venue else "") + f" ({why})"
            for venue, c, g, why in decision.missing]


@dataclass(frozen=True)
class FrontPage:
    decision: GateDecision
    blockers: tuple[FailureGroup, ...]
    never_tested: tuple[str, ...]
    since: SinceRelease | None
    candidate_clients: tuple[str, ...]
    candidate_gateways: tuple[str, ...]

    @property
    def headline(self) -> str:
        return self.decision.headline()

    @property
    def flipped(self) -> Sequence[CellFlips]:
        return self.since.cells() if self.since is not None else ()

    def since_headline(self) -> str:
        return self.since.headline() if self.since is not None else f"since the last release run: {NOT_COMPARED}"

    def since_summary(self) -> str:
        """What changed since the last release run, without that lead (or why it is not known)."""
        if self.since is None:
            return NOT_COMPARED
        return self.since.summary()


NOT_COMPARED = ("not compared: the run was not checked against a results store "
                "(a shard, --compat-store none, or results from before compat 0.2)")


def front_page(results: RunResults) -> FrontPage:
    decision = decide(results)
    clients, gateways = candidate_versions(results)
    return FrontPage(
        decision=decision,
        blockers=tuple(blocker_groups(decision)),
        never_tested=tuple(never_tested_lines(decision)),
        since=from_meta(results.meta),
        candidate_clients=clients,
        candidate_gateways=gateways,
    )


BLOCKER_NOUNS = {Verdict.FAIL: "break", Verdict.ERROR: "error", Verdict.STALE: "stale",
                 Verdict.EXPECTED_FAIL: "expired"}


def blocker_line(group: FailureGroup, limit: int = 160, most_scenarios: int | None = 3, where: bool = True) -> str:
    """``✗ break: gateway 3.1.0+candidate: AssertionError: … (4 cells, 1 scenario: S13) with clients …``."""
    noun = BLOCKER_NOUNS.get(group.verdict, str(group.verdict))
    cells = group.where() if where else ""
    return f"{group.verdict.symbol} {noun}: {group.line(limit, most_scenarios)}" + (f" {cells}" if cells else "")


# --- failures, explained --------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainedGroup:
    """A group of identical failures with what explains its first cell: the wire diff against
    the nearest passing cell, and the pair's breaking schema changes (left off an error: an
    infrastructure error is not explained by the protocol)."""

    group: FailureGroup
    wire: str | None
    schema: str | None


SchemaNotes = dict[tuple[str, str], str]  # (client version, gateway version) -> breaking-change summary


def schema_note_table(results: RunResults) -> SchemaNotes:
    """Each pair's schema summary, read once per render (not once per failing cell)."""
    changes_by_pair = schema_notes.pair_changes(results)
    return {pair: schema_notes.breaking_summary(changes) for pair, changes in changes_by_pair.items()}


def split_by_schema_note(notes: SchemaNotes, group: FailureGroup) -> list[FailureGroup]:
    """A group split where its pairs' schema notes differ: one cause explained by different
    schema changes (or by none) is not one failure."""
    parts: dict[str | None, list[tuple[CellResult, ScenarioResult]]] = {}
    for cell, scenario in group.pairs:
        parts.setdefault(notes.get((cell.client_version, cell.gateway_version)), []).append((cell, scenario))
    if len(parts) == 1:
        return [group]
    split = []
    for pairs in parts.values():
        versions = {(c.client_version, c.gateway_version) for c, _ in pairs}
        wheel = f"client {pairs[0][0].client_version} × gateway {pairs[0][0].gateway_version}" \
            if len(versions) == 1 else group.wheel
        split.append(replace(group, wheel=wheel, pairs=tuple(pairs)))
    return split


def explained_failures(
    results: RunResults, failing: Sequence[tuple[CellResult, ScenarioResult]] | None = None
) -> list[ExplainedGroup]:
    """The run's fails and errors (``failing``: those of ``failing_pairs``), one entry per
    verdict, cause, wheel and schema note, each with its explanation; breaks before errors."""
    pairs = failing_pairs(results) if failing is None else failing
    notes = schema_note_table(results)
    explained = []
    for group in group_failures(pairs):
        for part in split_by_schema_note(notes, group):
            cell, scenario = part.pairs[0]
            diff = wire_diff(results, cell, scenario)
            note = notes.get((cell.client_version, cell.gateway_version))
            explained.append(ExplainedGroup(part, diff.summary if diff is not None else None,
                                            note if part.verdict is not Verdict.ERROR else None))
    return sorted(explained, key=lambda e: e.group.verdict is not Verdict.FAIL)
