"""Markdown report for a PR comment or the GitHub step summary."""

from __future__ import annotations

import os
from pathlib import Path

from compat.report import benchgate, findings, resources
from compat.report.front import ExplainedGroup, FrontPage, blocker_line, explained_failures, front_page
from compat.results import schema_notes
from compat.results.grid import (
    GRADE_LEGEND,
    LEGEND,
    NOT_RUN,
    Grade,
    counts_text,
    expectation_text,
    failing_pairs,
    scenario_reason,
    sorted_versions,
    venue_grids,
    verdict_counts,
)
from compat.results.model import RunResults, Verdict
from compat.results.since import CellFlips


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
    Grade.CACHED: "🟦",
}


def _slot_md(grade: Grade | None, symbol: str, counts: str) -> str:
    mark = GRADE_MARKS[grade] + " " if grade in GRADE_MARKS else ""
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


def _group_lines(explained: ExplainedGroup, most_cells: int = 8) -> str:
    """One entry per identical failure (verdict, cause, wheel), with the cells it covers; the
    wire diff and schema notes of its first cell explain it (no schema notes on an error)."""
    group = explained.group
    line = f"- {group.verdict.symbol} ({group.verdict}) {_cell_md(group.line())}"
    where = [f"`{c.cell_id}`{_venue_md(c.venue)} **{s.scenario}**" for c, s in group.pairs[:most_cells]]
    more = f", … {len(group.pairs) - most_cells} more" if len(group.pairs) > most_cells else ""
    line += f"\n  - in: {', '.join(where)}{more}"
    if explained.wire is not None:
        line += f"\n  - wire: {_cell_md(explained.wire)}"
    if explained.schema is not None:
        line += f"\n  - {_cell_md(explained.schema)}"
    return line


FLIPS_AT_MOST = 10  # flipped cells listed before the rest fold into a <details> block
WHY_AT_MOST = 5  # grouped blockers under the gate line (all of them are under "Failing")


def _gate_md(page: FrontPage) -> list[str]:
    """The gate decision and why: its blockers grouped, each with the cells it covers."""
    word, why = page.decision.headline_parts()
    mark = "🟥" if page.decision.blocked else "🟩"
    lines = [f"{mark} **Release gate: {word}**{_cell_md(why)}", ""]
    shown = page.blockers[:WHY_AT_MOST]
    lines += [f"- {_cell_md(blocker_line(group))}" for group in shown]
    if len(page.blockers) > len(shown):
        lines.append(f"- … {len(page.blockers) - len(shown)} more groups: see *Failing* below")
    lines += [f"- {_cell_md(line)}" for line in page.never_tested[:WHY_AT_MOST]]
    if len(page.never_tested) > WHY_AT_MOST:
        lines.append(f"- … {len(page.never_tested) - WHY_AT_MOST} more pairs never tested")
    return [*lines, ""] if shown or page.never_tested else lines


def _flip_md(flipped: CellFlips) -> str:
    mark = {"worse": "🔻", "better": "🔺"}.get(flipped.direction, "🔸")
    moves = ", ".join(f"**{_cell_md(f.scenario)}** {f.before} → {f.after}" for f in flipped.flips)
    return f"- {mark} `{flipped.cell_id}`{_venue_md(flipped.venue)}: {moves}"


def _since_md(page: FrontPage) -> list[str]:
    """What flipped since the last release run, both ways, worse first."""
    lines = [f"**Since the last release run:** {_cell_md(page.since_summary())}", ""]
    flipped = list(page.flipped)
    lines += [_flip_md(f) for f in flipped[:FLIPS_AT_MOST]]
    if len(flipped) > FLIPS_AT_MOST:
        lines += ["", f"<details><summary>{len(flipped) - FLIPS_AT_MOST} more flipped cells</summary>", ""]
        lines += [_flip_md(f) for f in flipped[FLIPS_AT_MOST:]]
        lines += ["", "</details>"]
    if page.since is not None and page.since.edited:
        lines += ["", f"_{_cell_md(page.since.edited)}_"]
    return [*lines, ""] if flipped or (page.since is not None and page.since.edited) else lines


def _candidate_md(results: RunResults, page: FrontPage) -> list[str]:
    """The candidate's row (client) and column (gateway), one table each, a row per venue."""
    grids = venue_grids(results)
    lines: list[str] = []
    for role, versions in (("client", page.candidate_clients), ("gateway", page.candidate_gateways)):
        for version in versions:
            others = sorted_versions(
                g for grid in grids for g in (grid.gateways if role == "client" else grid.clients))
            other_role = "gateway" if role == "client" else "client"
            lines.append(f"| candidate {role} `{version}` × {other_role} | " + " | ".join(others) + " |")
            lines.append("|---|" + "---|" * len(others))
            for grid in grids:
                row = []
                for other in others:
                    slot = grid.slot(version, other) if role == "client" else grid.slot(other, version)
                    row.append(_slot_md(slot.grade, slot.symbol, counts_text(slot.counts)) if slot else NOT_RUN)
                lines.append(f"| {grid.venue or 'all'} | " + " | ".join(row) + " |")
            lines.append("")
    return lines


def _legend_md() -> str:
    return (
        "**Legend** (rows: client versions, columns: gateway versions; each slot shows its grade, "
        "then the count per verdict). Grades: "
        + "; ".join(f"{GRADE_MARKS.get(g, '')} `{g.symbol}` {g} ({meaning})".replace("  ", " ")
                    for g, meaning in GRADE_LEGEND)
        + f"; `{NOT_RUN}` not run. Verdicts: "
        + "; ".join(f"`{v.symbol}` {v} ({meaning})" for v, meaning in LEGEND)
        + "."
    )


def render_markdown(results: RunResults) -> str:
    """The Markdown report (and the PR's $GITHUB_STEP_SUMMARY): it leads with the gate, the flips
    since the last release run and the candidate's row and column; the full grid follows in a
    collapsed block, then failures grouped by cause, stale expectations, known issues and notes."""
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    lines = ["## compat matrix", ""]
    if not results.cells:
        return "\n".join([*lines, "No cells ran.", ""])
    page = front_page(results)
    lines.extend(_gate_md(page))
    lines.extend(_since_md(page))
    lines.extend(_candidate_md(results, page))
    cached = sum(1 for s in scenarios if s.cached_from is not None)
    lines.append(f"{len(results.cells)} cells, {len(scenarios)} scenarios: {counts_text(verdict_counts(scenarios))}."
                 + (f" {cached} of them reused from the verdict cache (not run now)." if cached else ""))
    lines.append("")
    venues = len({c.venue for c in results.cells})
    lines += [f"<details><summary>The full grid: {len(results.cells)} cells"
              + (f" in {venues} venues" if venues > 1 else "") + ", with its legend</summary>", ""]
    lines.extend(_grid_md(results))
    lines += [_legend_md(), "", "</details>", ""]
    failing = failing_pairs(results)
    groups = explained_failures(results, failing)
    shown = f" in {len(groups)} group{'s' * (len(groups) != 1)} of the same cause" if len(groups) < len(failing) else ""
    lines.append(f"### Failing ({len(failing)}{shown})")
    lines.append("")
    lines.extend(_group_lines(group) for group in groups)
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
    lines.extend(_known_issues_md(results))
    lines.extend(findings.markdown_lines(results))  # the swap grid and the version findings
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
    lines.extend(findings.markdown_lines(results))  # the swap grid and the version findings
    lines.extend(_metrics_lines(results))
    lines.extend(benchgate.markdown_lines(results))
    lines.extend(resources.markdown_lines(results))
    lines.extend(_env_warnings(results))
    return "\n".join(lines).rstrip("\n") + "\n"


def _known_issues_md(results: RunResults) -> list[str]:
    """Each known issue of matrix.yaml once, with its declaration and what it covered here."""
    found = resources.known_findings(results)
    if not found:
        return []
    lines = [f"### Known issues declared in matrix.yaml ({len(found)})", ""]
    for finding in found:
        issue = finding.issue
        ticket = f" ({_cell_md(issue.ticket)})" if issue.ticket else ""
        lines.append(f"- **{issue.subject()}** {issue.finding}: {_cell_md(issue.reason)}{ticket} "
                     f"[{_cell_md(issue.where)}]: {finding.seen_text()}")
    return [*lines, ""]


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
