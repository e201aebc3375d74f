"""Which results keep their evidence (wire captures, log tails, the full failure text), so
reports stay small as matrices grow.

Evidence is kept only where it explains something: a ``fail``, ``error``, ``stale`` or
``flaky`` result, and the passing run of the same scenario in the *nearest passing cell* of a
``fail`` or ``error`` (the baseline of the wire diff, ``compat.report.wirediff``). A pass, an
``n/a`` or an ``expected-fail`` (failed as declared) keeps neither. An ``expected-fail`` keeps
of its message only the cause, one line (``declared_cause``): matrix.yaml's reason says why it
fails, and pytest's whole failure text (about 2.5 KB each, hundreds in a matrix) explains
nothing more. ``prune_evidence`` is pure and idempotent: the nearest passing cell depends on
verdicts only, and a one-line cause is its own cause, so pruning twice keeps the same evidence
and every wire diff reads the same before and after.

The nearest passing cell is chosen here (``nearest_passing_in``), the one rule the wire diff
and the pruning share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from compat.results.grid import version_key
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict
from compat.results.verdicts import cause_line

# Results whose own wire capture and log tails are kept.
EXPLAINING: frozenset[Verdict] = frozenset({Verdict.FAIL, Verdict.ERROR, Verdict.STALE, Verdict.FLAKY})
# Results whose wire diff against the nearest passing cell is shown.
DIFFED: frozenset[Verdict] = frozenset({Verdict.FAIL, Verdict.ERROR})
# Results whose message is cut to its cause: failed exactly as matrix.yaml declares.
CAUSE_ONLY: frozenset[Verdict] = frozenset({Verdict.EXPECTED_FAIL})
CAUSE_LIMIT = 300  # characters of the cause kept (compat.results.verdicts' one-line reasons)


def declared_cause(message: str | None) -> str | None:
    """The message of a result that failed as declared, cut to its cause on one line
    (``compat.results.verdicts.cause_line``: the differing fields of an assertion, an exception's
    last line, a process's last log line); unchanged when it is one such line already."""
    if not message or ("\n" not in message and len(message) <= CAUSE_LIMIT):
        return message
    return cause_line(message, limit=CAUSE_LIMIT) or None  # blank lines only: nothing to keep


def _candidates(results: RunResults, cell: CellResult) -> Iterable[CellResult]:
    """Same client with earlier gateways (nearest first), then same gateway with earlier
    clients; later versions last, for cells at the bottom edge of the matrix."""
    same_venue = [c for c in results.cells if c.venue == cell.venue and c is not cell]
    gw_key, cl_key = version_key(cell.gateway_version), version_key(cell.client_version)
    same_client = [c for c in same_venue if c.client_version == cell.client_version]
    same_gateway = [c for c in same_venue if c.gateway_version == cell.gateway_version]
    yield from sorted(
        (c for c in same_client if version_key(c.gateway_version) < gw_key),
        key=lambda c: version_key(c.gateway_version),
        reverse=True,
    )
    yield from sorted(
        (c for c in same_gateway if version_key(c.client_version) < cl_key),
        key=lambda c: version_key(c.client_version),
        reverse=True,
    )
    yield from sorted(
        (c for c in same_client if version_key(c.gateway_version) > gw_key),
        key=lambda c: version_key(c.gateway_version),
    )
    yield from sorted(
        (c for c in same_gateway if version_key(c.client_version) > cl_key),
        key=lambda c: version_key(c.client_version),
    )


def nearest_passing_in(
    results: RunResults, cell: CellResult, scenario: str
) -> tuple[CellResult, ScenarioResult] | None:
    """The nearest cell to ``cell`` (see ``_candidates``) where ``scenario`` passed, with that result."""
    for candidate in _candidates(results, cell):
        found = next((s for s in candidate.scenarios if s.scenario == scenario), None)
        if found is not None and found.verdict is Verdict.PASS:
            return candidate, found
    return None


def _baselines(results: RunResults) -> set[tuple[int, str]]:
    """(id of the cell object, scenario) of every passing run some fail or error is diffed against."""
    keep: set[tuple[int, str]] = set()
    for cell in results.cells:
        for scenario in cell.scenarios:
            if scenario.verdict in DIFFED and scenario.wire:
                found = nearest_passing_in(results, cell, scenario.scenario)
                if found is not None:
                    keep.add((id(found[0]), scenario.scenario))
    return keep


def prune_evidence(results: RunResults) -> RunResults:
    """The results with wire captures, log tails and whole failure texts only where they explain
    something."""
    baselines = _baselines(results)
    cells = []
    for cell in results.cells:
        scenarios = []
        for s in cell.scenarios:
            explains = s.verdict in EXPLAINING
            wire = s.wire if explains or (id(cell), s.scenario) in baselines else ()
            log_tails = s.log_tails if explains else {}
            message = declared_cause(s.message) if s.verdict in CAUSE_ONLY else s.message
            same = (wire, log_tails, message) == (s.wire, s.log_tails, s.message)
            scenarios.append(s if same else replace(s, wire=wire, log_tails=log_tails, message=message))
        cells.append(replace(cell, scenarios=tuple(scenarios)))
    return replace(results, cells=tuple(cells))
