"""Markdown report for a PR comment or the GitHub step summary."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from compat.report import benchgate, resources
from compat.report.wirediff import wire_diff
from compat.results import schema_notes
from compat.results.grid import (
    GRADE_LEGEND,
    LEGEND,
    NOT_RUN,
    FailureGroup,
    Grade,
    counts_text,
    expectation_text,
    failing_pairs,
    group_failures,
    scenario_reason,
    venue_grids,
    verdict_counts,
)
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict


def _cell_md(text: str) -> str:
    """Make text safe inside a markdown table cell or list item."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _venue_md(venue: str) -> str:
    """`` [obx]`` after a cell id; nothing for a matrix without venues (exchange: none)."""
    return f" [{venue}]" if venue else ""


# Markdown has no colours of its own: a coloured square before each slot's grade symbol.
GRADE_MARKS: dict[Grade, str] = {
    Grade.PASS: "🟩",
    Grade.DEGRADED: "🟨",
    Grade.DECLARED: "⬜",
    Grade.BREAK: "🟥",
    Grade.ERROR: "⬛",
    Grade.STALE: "🟧",
    Grade.FLAKY: "🟪",
}


def _slot_md(grade: Grade | None, symbol: str, counts: str) -> str:
    mark = GRADE_MARKS[grade] + " " if grade is not None else ""
    return f"{mark}{symbol} {counts}".strip()


def _grid_md(results: RunResults) -> list[str]:
    lines: list[str] = []
    for grid in venue_grids(results):
        lines.append(f"### Venue `{grid.venue}`" if grid.venue else "### Matrix")
        lines.append("")
        lines.append("| client \\ gateway | " + " | ".join(grid.gateways) + " |")
        lines.append("|---|" + "---|" * len(grid.gateways))
        for client in grid.clients:
            row = []
            for gateway in grid.gateways:
                slot = grid.slot(client, gateway)
                row.append(_slot_md(slot.grade, slot.symbol, counts_text(slot.counts)) if slot else NOT_RUN)
            lines.append(f"| **{client}** | " + " | ".join(row) + " |")
        lines.append("")
    return lines


SchemaNotes = dict[tuple[str, str], str]  # (client version, gateway version) -> breaking-change summary


def _schema_notes(results: RunResults) -> SchemaNotes:
    """Each pair's schema summary, read once per render (not once per failing cell)."""
    changes_by_pair = schema_notes.pair_changes(results)
    return {pair: schema_notes.breaking_summary(changes) for pair, changes in changes_by_pair.items()}


def _by_schema_note(notes: SchemaNotes, group: FailureGroup) -> list[FailureGroup]:
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


def _group_lines(results: RunResults, notes: SchemaNotes, group: FailureGroup, most_cells: int = 8) -> str:
    """One entry per identical failure (verdict, cause, wheel), with the cells it covers; the
    wire diff and schema notes of its first cell explain it (no schema notes on an error)."""
    cell, scenario = group.pairs[0]
    line = f"- {group.verdict.symbol} ({group.verdict}) {_cell_md(group.line())}"
    where = [f"`{c.cell_id}`{_venue_md(c.venue)} **{s.scenario}**" for c, s in group.pairs[:most_cells]]
    more = f", … {len(group.pairs) - most_cells} more" if len(group.pairs) > most_cells else ""
    line += f"\n  - in: {', '.join(where)}{more}"
    diff = wire_diff(results, cell, scenario)
    if diff is not None:
        line += f"\n  - wire: {_cell_md(diff.summary)}"
    note = notes.get((cell.client_version, cell.gateway_version))
    if note is not None and group.verdict is not Verdict.ERROR:
        line += f"\n  - {_cell_md(note)}"
    return line


def render_markdown(results: RunResults) -> str:
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    lines = ["## compat matrix", ""]
    if not results.cells:
        return "\n".join([*lines, "No cells ran.", ""])
    blocking = sum(1 for s in scenarios if s.verdict.blocks_release)
    lines.append(
        f"{len(results.cells)} cells, {len(scenarios)} scenarios: "
        f"{counts_text(verdict_counts(scenarios))}. "
        + ("**Release gate: blocked** " + f"({blocking} blocking)." if blocking else "Release gate: clear.")
    )
    lines.append("")
    lines.extend(_grid_md(results))
    lines.append(
        "**Legend** (rows: client versions, columns: gateway versions; each slot shows its grade, "
        "then the count per verdict). Grades: "
        + "; ".join(f"{GRADE_MARKS[g]} `{g.symbol}` {g} ({meaning})" for g, meaning in GRADE_LEGEND)
        + f"; `{NOT_RUN}` not run. Verdicts: "
        + "; ".join(f"`{v.symbol}` {v} ({meaning})" for v, meaning in LEGEND)
        + "."
    )
    lines.append("")
    failing = failing_pairs(results)
    notes = _schema_notes(results)
    groups = [part for group in group_failures(failing) for part in _by_schema_note(notes, group)]
    shown = f" in {len(groups)} group{'s' * (len(groups) != 1)} of the same cause" if len(groups) < len(failing) else ""
    lines.append(f"### Failing ({len(failing)}{shown})")
    lines.append("")
    lines.extend(_group_lines(results, notes, group) for group in groups)
    if not failing:
        lines.append("None.")
    lines.append("")
    stale = failing_pairs(results, (Verdict.STALE,))
    lines.append(f"### Stale expectations ({len(stale)})")
    lines.append("")
    for cell, scenario in stale:
        lines.append(
            f"- {scenario.verdict.symbol} `{cell.cell_id}`{_venue_md(cell.venue)} **{scenario.scenario}** passed "
            f"but matrix.yaml declares {_cell_md(expectation_text(scenario))}: "
            "update or remove the expectation"
        )
    if not stale:
        lines.append("None.")
    lines.append("")
    flaky = failing_pairs(results, (Verdict.FLAKY,))
    if flaky:
        lines.append(f"### Flaky ({len(flaky)})")
        lines.append("")
        lines.extend(
            f"- `{c.cell_id}`{_venue_md(c.venue)} **{s.scenario}** passed on attempt {s.attempts}: "
            f"{_cell_md(scenario_reason(s))}"
            for c, s in flaky
        )
        lines.append("")
    disagreements = schema_notes.disagreements(results)
    if disagreements:
        lines.append(f"### Static schema check disagrees with the run ({len(disagreements)})")
        lines.append("")
        lines.extend(
            f"- client {d['client_version']} with gateway {d['gateway_version']}: {_cell_md(d['detail'])}"
            for d in disagreements
        )
        lines.append("")
    if (off := schema_notes.check_off(results)) is not None:
        lines.extend([f"_Static schema check: {_cell_md(off)}._", ""])
    lines.extend(_metrics_lines(results))
    lines.extend(benchgate.markdown_lines(results))
    lines.extend(resources.markdown_lines(results))
    lines.extend(_env_warnings(results))
    return "\n".join(lines).rstrip("\n") + "\n"


def _metrics_lines(results: RunResults) -> list[str]:
    """Numeric figures scenarios recorded (e.g. the live-upgrade reconnect gap), over the cells."""
    series: dict[tuple[str, str], list[float]] = {}
    for cell in results.cells:
        for scenario in cell.scenarios:
            for key, value in scenario.metrics.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    series.setdefault((scenario.scenario, key), []).append(float(value))
    if not series:
        return []
    lines = ["### Recorded figures", "", "| scenario | figure | cells | min | median | max |",
             "|---|---|---|---|---|---|"]
    for (name, key), values in sorted(series.items()):
        values.sort()
        lines.append(f"| {_cell_md(name)} | {key} | {len(values)} | {values[0]:g} | "
                     f"{values[len(values) // 2]:g} | {values[-1]:g} |")
    return [*lines, ""]


def _env_warnings(results: RunResults) -> list[str]:
    """Versions tested with more than one wheel (e.g. candidate rebuilt per CI shard)."""
    hashes: dict[tuple[str, str], set[str]] = {}
    for env in results.envs:
        hashes.setdefault((env.product, env.version), set()).add(env.wheel_sha256)
    lines = [
        f"- {product} {version} was tested with {len(found)} different wheels: "
        + ", ".join(sorted(h[:12] for h in found))
        for (product, version), found in sorted(hashes.items())
        if len(found) > 1
    ]
    return ["### Warnings", "", *lines, ""] if lines else []


def write_step_summary(markdown: str) -> Path | None:
    """Append to $GITHUB_STEP_SUMMARY when it is set; the path written, or None."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path
