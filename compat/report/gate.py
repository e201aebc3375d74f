"""The release gate and can-i-deploy, as pure functions returning (exit code, lines)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from compat import timing
from compat.outcome import CellResult, RunResults, ScenarioResult, Verdict
from compat.report.grid import counts_text, scenario_reason, verdict_counts
from compat.report.history import latest_for_pair, list_runs
from compat.report.junit import expectation_text

EXIT_OK, EXIT_BLOCKED, EXIT_UNKNOWN = 0, 1, 2


@dataclass(frozen=True)
class Blocker:
    cell: CellResult
    scenario: ScenarioResult
    why: str

    def line(self) -> str:
        return (
            f"BLOCKED {self.scenario.verdict}: {self.cell.cell_id} [{self.cell.venue}] "
            f"{self.scenario.scenario}: {self.why}"
        )


def _expired(scenario: ScenarioResult, today: dt.date) -> str | None:
    """The expiry date of a declared expectation that has run out, else None."""
    expires = (scenario.expectation or {}).get("expires")
    if not expires:
        return None
    try:
        day = dt.date.fromisoformat(str(expires)[:10])
    except ValueError:
        return f"{expires} (unreadable date)"
    return str(expires) if day < today else None


def _today() -> dt.date:
    return dt.datetime.fromtimestamp(timing.wall_ns() / 1e9, tz=dt.UTC).date()


def blockers(results: RunResults, allow_stale: bool = False) -> list[Blocker]:
    """Every (cell, scenario) that blocks the release: fail, error, stale (unless allowed),
    and expected-fail whose matrix.yaml expectation has expired."""
    today = _today()
    found = []
    for cell in results.cells:
        for scenario in cell.scenarios:
            verdict = scenario.verdict
            if verdict is Verdict.STALE and allow_stale:
                continue
            if verdict.blocks_release:
                why = scenario_reason(scenario)
                if verdict is Verdict.STALE:
                    why = (
                        f"passed, but matrix.yaml declares {expectation_text(scenario)}; "
                        "update the expectation"
                    )
                found.append(Blocker(cell, scenario, why))
            elif verdict is Verdict.EXPECTED_FAIL and (expired := _expired(scenario, today)):
                found.append(
                    Blocker(cell, scenario, f"expectation expired on {expired}: {expectation_text(scenario)}")
                )
    return found


def gate(results: RunResults, allow_stale: bool = False) -> tuple[int, list[str]]:
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    if not scenarios:
        return EXIT_BLOCKED, [
            "BLOCKED: the results hold no scenarios, so nothing shows the release is compatible"
        ]
    found = blockers(results, allow_stale)
    summary = (
        f"{len(results.cells)} cells, {len(scenarios)} scenarios: {counts_text(verdict_counts(scenarios))}"
    )
    if found:
        return EXIT_BLOCKED, [b.line() for b in found] + [f"release gate: BLOCKED by {len(found)}; {summary}"]
    return EXIT_OK, [f"release gate: clear; {summary}"]


_DEPLOY_BLOCKS = (Verdict.FAIL, Verdict.ERROR, Verdict.STALE, Verdict.EXPECTED_FAIL)


def can_i_deploy(
    history: str | Path, client: str, gateway: str, venue: str | None = None
) -> tuple[int, list[str]]:
    """Answer from the newest stored run that tested the pair: 0 yes, 1 no, 2 unknown."""
    pair = f"client {client} with gateway {gateway}" + (f" on venue {venue}" if venue else "")
    found = latest_for_pair(history, client, gateway, venue)
    if found is None:
        runs = len(list_runs(history))
        return EXIT_UNKNOWN, [
            f"unknown: no stored run tested {pair} ({runs} runs in {history}); run the matrix"
        ]
    run, cells = found
    scenarios = [s for c in cells for s in c.scenarios]
    source = f"run {run.path.name}"
    problems = [
        f"  {s.verdict}: {c.cell_id} [{c.venue}] {s.scenario}: "
        + (
            f"declared incompatible: {expectation_text(s)}"
            if s.verdict is Verdict.EXPECTED_FAIL
            else scenario_reason(s)
        )
        for c in cells
        for s in c.scenarios
        if s.verdict in _DEPLOY_BLOCKS
    ]
    venues = ", ".join(sorted({c.venue for c in cells}))
    counts = counts_text(verdict_counts(scenarios))
    if not scenarios:
        return EXIT_UNKNOWN, [f"unknown: {source} holds cells for {pair} but no scenarios"]
    if problems:
        return EXIT_BLOCKED, [f"no: {pair} ({venues}; {counts}; {source})", *problems]
    notes = [
        f"  {s.verdict}: {c.cell_id} [{c.venue}] {s.scenario}: {scenario_reason(s)}"
        for c in cells
        for s in c.scenarios
        if s.verdict in (Verdict.NA, Verdict.FLAKY)
    ]
    return EXIT_OK, [f"yes: {pair} ({venues}; {counts}; {source})", *notes]
