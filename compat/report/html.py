"""The HTML report: one self-contained file (inline CSS and JS, no network), from a jinja2
template shipped as package data. The grid is rendered server-side; each cell's drill-down
is a pre-rendered ``<template>`` that a few lines of JS copy into ``#detail`` on click, so
everything user-supplied goes through jinja2's autoescaping and never through innerHTML
string building.

Stable DOM for tests: ``table.grid[data-venue]``, ``td.cell[data-cell-id][data-verdict][data-grade]``
(plus ``data-venue``, ``data-client``, ``data-gateway``; ``data-verdict`` is the worst verdict,
``data-grade`` the slot's grade and its colour, ``#legend .grade[data-grade]`` one per grade), ``#detail``, inside it
``.scenario[data-scenario][data-verdict]``, ``pre.message``, ``pre.log[data-role]``,
``.wire-summary``, ``table.wire``, ``table.resources`` with ``tr[data-role][data-leak]``; a grid
cell whose sampled RSS grew steadily carries ``span.leak`` and ``#leaks`` lists every such role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from compat.config.known_issues import META_KEY as KNOWN_ISSUES_KEY
from compat.report import findings
from compat.report.benchgate import gate_of, measure_rows
from compat.report.front import WHY_AT_MOST, FrontPage, blocker_line, explained_failures, front_page
from compat.report.resources import ResourceRow, known_findings, leak_groups, leaks
from compat.report.resources import rows as resource_rows
from compat.report.wirediff import WireDiff, frame_text, wire_diff
from compat.results import schema_notes
from compat.results.evidence import prune_evidence
from compat.results.grid import (
    GRADE_LEGEND,
    LEGEND,
    NOT_RUN,
    FailureGroup,
    Slot,
    counts_text,
    expectation_text,
    failing_pairs,
    scenario_reason,
    venue_grids,
    verdict_counts,
)
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict
from compat.results.since import META_KEY as SINCE_KEY

# Verdicts whose drill-down opens with message, log tails and wire diff.
_DETAILED = (Verdict.FAIL, Verdict.ERROR, Verdict.STALE, Verdict.FLAKY, Verdict.EXPECTED_FAIL)
_WIRE_CONTEXT = 3  # frames shown after the divergence
_SHOWN_ELSEWHERE = frozenset({schema_notes.META_KEY, KNOWN_ISSUES_KEY, SINCE_KEY})
@dataclass
class ScenarioView:
    name: str
    verdict: str
    symbol: str
    duration: str
    reason: str
    attempts: int
    nodeid: str
    expectation: str
    message: str | None
    logs: list[tuple[str, str]]
    detailed: bool
    declared: bool = False  # failed as declared: its message is the cause only (compat.results.evidence)
    wire: WireView | None = None
    metrics: str = ""


@dataclass
class WireView:
    summary: str
    baseline: str
    index: int
    rows: list[tuple[int, str, str, bool]]  # index, failing frame, baseline frame, diverges


@dataclass
class SlotView:
    key: str
    venue: str
    client: str
    gateway: str
    cell_ids: list[str]
    verdict: str
    grade: str
    symbol: str
    counts: str
    latency: str
    scenarios: list[ScenarioView]
    hosts: list[tuple[str, str]]
    bench: list[tuple[str, str]]
    schema: list[str]
    duration: str
    stats: dict[str, int] = field(default_factory=dict)
    resources: list[ResourceRow] = field(default_factory=list)  # CPU/RSS per role of each cell

    @property
    def leak(self) -> bool:
        return any(row.leak for row in self.resources)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``{"a": {"p99_us": 3}}`` → ``[("a.p99_us", "3")]``; lists shown as JSON-ish text."""
    items: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(flatten(value, name + "."))
        elif isinstance(value, float):
            items.append((name, f"{value:g}"))
        else:
            items.append((name, str(value)))
    return items


_UNITS = {"_ns": " ns", "_us": " µs", "_ms": " ms", "_s": " s"}


def latency_summary(bench: Mapping[str, Any] | None) -> str:
    """A short figure for the grid cell: the first p99 (else p50) found in the bench dict."""
    if not bench:
        return ""
    items = flatten(bench)
    for wanted in ("p99", "p50"):
        for name, value in items:
            leaf = name.rsplit(".", 1)[-1]
            if leaf.startswith(wanted):
                unit = next((u for suffix, u in _UNITS.items() if leaf.endswith(suffix)), "")
                return f"{wanted} {value}{unit}"
    return ""


def _wire_view(diff: WireDiff) -> WireView:
    last = min(max(len(diff.failing_frames), len(diff.passing_frames)), diff.index + 1 + _WIRE_CONTEXT)
    rows = []
    for i in range(last):
        bad = diff.failing_frames[i] if i < len(diff.failing_frames) else None
        good = diff.passing_frames[i] if i < len(diff.passing_frames) else None
        rows.append(
            (
                i,
                f"{_arrow(bad.direction)} {frame_text(bad, limit=200)}" if bad else "(nothing)",
                f"{_arrow(good.direction)} {frame_text(good, limit=200)}" if good else "(nothing)",
                i == diff.index,
            )
        )
    baseline = diff.baseline_cell
    return WireView(
        summary=diff.summary,
        baseline=f"{baseline.cell_id} (client {baseline.client_version}, gateway {baseline.gateway_version})",
        index=diff.index,
        rows=rows,
    )


def _arrow(direction: str) -> str:
    return "→" if direction == "out" else "←"


def _scenario_view(results: RunResults, cell: CellResult, scenario: ScenarioResult) -> ScenarioView:
    detailed = scenario.verdict in _DETAILED
    view = ScenarioView(
        name=scenario.scenario,
        verdict=str(scenario.verdict),
        symbol=scenario.verdict.symbol,
        duration=_duration(scenario.duration_s),
        reason=scenario_reason(scenario) if scenario.verdict is not Verdict.PASS else "",
        attempts=scenario.attempts,
        nodeid=scenario.nodeid,
        expectation=expectation_text(scenario) if scenario.expectation else "",
        message=scenario.message,
        logs=sorted(scenario.log_tails.items()),
        detailed=detailed,
        declared=scenario.verdict is Verdict.EXPECTED_FAIL,
        metrics=", ".join(f"{k} {v}" for k, v in sorted(scenario.metrics.items())),
    )
    if scenario.verdict in (Verdict.FAIL, Verdict.ERROR):
        diff = wire_diff(results, cell, scenario)
        if diff is not None:
            view.wire = _wire_view(diff)
    return view


def _slot_view(results: RunResults, venue: str, client: str, gateway: str, slot: Slot) -> SlotView:
    verdict = slot.verdict
    grade = slot.grade
    order = {v: i for i, v in enumerate(Verdict)}
    scenarios = sorted(
        (_scenario_view(results, cell, s) for cell in slot.cells for s in cell.scenarios),
        key=lambda v: (not v.detailed, order[Verdict(v.verdict)], v.name),
    )
    changes = schema_notes.pair_changes(results).get((client, gateway))
    bench: list[tuple[str, str]] = []
    hosts: list[tuple[str, str]] = []
    for cell in slot.cells:
        bench.extend(flatten(cell.bench or {}))
        hosts.extend(sorted(cell.hosts.items()))
    return SlotView(
        key=f"{venue}/{client}/{gateway}",
        venue=venue,
        client=client,
        gateway=gateway,
        cell_ids=[c.cell_id for c in slot.cells],
        verdict=str(verdict) if verdict is not None else "none",
        grade=str(grade) if grade is not None else "none",
        symbol=slot.symbol,
        counts=counts_text(slot.counts),
        latency=" ".join(filter(None, (latency_summary(c.bench) for c in slot.cells))),
        scenarios=scenarios,
        hosts=hosts,
        bench=bench,
        # the breaking changes first: they are the ones that explain a failure
        schema=[schema_notes.change_text(c) for c in sorted(changes, key=lambda c: not c.get("breaking"))]
        if changes is not None else [],
        duration=_duration(sum(s.duration_s for s in slot.scenarios)),
        resources=[row for cell in slot.cells for row in resource_rows(cell)],
    )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("compat.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class CellLink:
    """A link that opens one grid cell's drill-down (``a.cell-link[data-key]``)."""

    key: str  # the grid slot's key: venue/client/gateway
    text: str


def _link(cell: CellResult, text: str | None = None) -> CellLink:
    return CellLink(f"{cell.venue}/{cell.client_version}/{cell.gateway_version}", text or cell.cell_id)


@dataclass(frozen=True)
class GroupView:
    """One entry of a grouped listing: a line, the cells it covers (links), what explains it."""

    verdict: str
    symbol: str
    line: str
    where: str
    links: list[CellLink]
    more: int  # cells left out of ``links``
    wire: str | None = None
    schema: str | None = None


def _short(cell: CellResult, group: FailureGroup) -> str:
    """A cell named by what varies in its group: ``2.1.0 obx`` for a gateway's group (the client)."""
    venue = f" {cell.venue}" if cell.venue else ""
    if group.wheel.startswith("gateway "):
        return f"client {cell.client_version}{venue}"
    if group.wheel.startswith("client ") and " × " not in group.wheel:
        return f"gateway {cell.gateway_version}{venue}"
    return cell.venue or cell.cell_id


def _group_view(group: FailureGroup, line: str, most: int, wire: str | None = None,
                schema: str | None = None, short: bool = False) -> GroupView:
    cells = list(dict.fromkeys((c.venue, c.cell_id) for c, _ in group.pairs))
    first = {(c.venue, c.cell_id): c for c, _ in group.pairs}
    links = [_link(first[key], _short(first[key], group) if short else None) for key in cells[:most]]
    return GroupView(str(group.verdict), group.verdict.symbol, line, group.where(), links,
                     max(0, len(cells) - most), wire, schema)


@dataclass(frozen=True)
class FlipView:
    direction: str  # worse | better | changed
    link: CellLink
    moves: str  # "S13_md pass → fail, S01 fail → pass"


def _flip_views(page: FrontPage, cells: dict[tuple[str, str], CellResult]) -> list[FlipView]:
    views = []
    for flipped in page.flipped:
        cell = cells.get((flipped.venue, flipped.cell_id))
        link = _link(cell) if cell is not None else CellLink("", flipped.cell_id)
        moves = ", ".join(f"{f.scenario} {f.before} → {f.after}" for f in flipped.flips)
        views.append(FlipView(flipped.direction, link, moves))
    return views


def front_context(results: RunResults) -> dict[str, Any]:
    """The first screen: the gate decision and why, the flips since the last release run."""
    page = front_page(results)
    word, why = page.decision.headline_parts()
    cells = {(c.venue, c.cell_id): c for c in results.cells}
    return {
        "gate": {"word": word, "why": why, "blocked": page.decision.blocked,
                 "blockers": [_group_view(g, blocker_line(g, most_scenarios=3, where=False), 6, short=True)
                              for g in page.blockers],
                 "never_tested": list(page.never_tested)},
        "since": {"compared": page.since is not None and page.since.baseline is not None,
                  "summary": page.since_summary(), "flips": _flip_views(page, cells),
                  "edited": page.since.edited if page.since is not None else None},
        "candidates": {"clients": page.candidate_clients, "gateways": page.candidate_gateways},
        "why_at_most": WHY_AT_MOST,
    }


def html_context(results: RunResults) -> dict[str, Any]:
    """Everything the template shows, computed here so the template stays declarative."""
    venues = []
    for grid in venue_grids(results):
        rows = []
        for client in grid.clients:
            row: list[SlotView | None] = []
            for gateway in grid.gateways:
                slot = grid.slot(client, gateway)
                row.append(_slot_view(results, grid.venue, client, gateway, slot) if slot else None)
            rows.append((client, row))
        venues.append({"name": grid.venue, "gateways": grid.gateways, "rows": rows})
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    failing = failing_pairs(results)
    stale = failing_pairs(results, (Verdict.STALE,))
    return {
        **front_context(results),
        "failures": [_group_view(e.group, e.group.line(most_scenarios=None), 24, e.wire, e.schema)
                     for e in explained_failures(results, failing)],
        "failing_count": len(failing),
        "stale": [(_link(c, f"{c.cell_id} {s.scenario}"), expectation_text(s)) for c, s in stale],
        "flaky": [(_link(c, f"{c.cell_id} {s.scenario}"), s.attempts, scenario_reason(s))
                  for c, s in failing_pairs(results, (Verdict.FLAKY,))],
        "known": known_findings(results),
        "venues": venues,
        "summary": counts_text(verdict_counts(scenarios)),
        "cell_count": len(results.cells),
        "scenario_count": len(scenarios),
        "grades": [(str(g), g.symbol, meaning) for g, meaning in GRADE_LEGEND],
        "legend": [(str(v), v.symbol, meaning) for v, meaning in LEGEND],
        "not_run": NOT_RUN,
        "started_at": results.started_at,
        "finished_at": results.finished_at,
        "matrix_path": results.matrix_path,
        # shown elsewhere: the schema notes, the known issues, the flips and the window of the gate
        "meta": flatten({k: v for k, v in results.meta.items() if k not in _SHOWN_ELSEWHERE}),
        "envs": sorted(results.envs, key=lambda e: (e.product, e.version)),
        "disagreements": schema_notes.disagreements(results),
        "schema_off": schema_notes.check_off(results),
        "leaks": leaks(results),
        "leak_groups": leak_groups(results),
        "findings": findings.html_context(results),
        "bench_gate": gate_of(results),
        "bench_gate_rows": measure_rows(gate) if (gate := gate_of(results)) is not None else [],
    }


def render_html(results: RunResults) -> str:
    """The self-contained HTML report text, with evidence only where it explains something
    (``compat.results.evidence.prune_evidence``)."""
    return _environment().get_template("report.html.j2").render(**html_context(prune_evidence(results)))
