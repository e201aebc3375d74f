"""CPU and RSS per role, as the reports show them (pure functions over ``CellResult.resources``).

The figures come from ``compat.harness.resources.ResourceSampler.record()``; the leak rule
that sets ``leak_suspected`` is documented there. Here: rows for the HTML drill-down, the
Markdown section, and the warning lines of the terminal summary.

A growth that matrix.yaml declares as a known issue of a released version (``known_issues:``,
``compat.config.known_issues``; the run carries the declarations in ``meta.known_issues``) is
not a warning: ``known_findings`` shows each declaration once, with the cells it covers, and
``leaks`` (the warnings, what ``--compat-fail-on-leak`` fails on) leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compat.config import known_issues
from compat.config.known_issues import MEMORY_GROWTH, KnownIssue
from compat.results.grid import sorted_versions
from compat.results.model import CellResult, RunResults

_MIB = 1024 * 1024


@dataclass(frozen=True)
class ResourceRow:
    """One role of one cell, formatted."""

    cell_id: str
    role: str
    cpu_mean: str  # "12.3 %"
    cpu_max: str
    rss_max: str  # "41.2 MiB"
    slope: str  # "+12 KiB/s"
    samples: int
    pids: str  # "123 → 456" after a restart
    leak: bool
    note: str  # the leak reason, or why the role was skipped


@dataclass(frozen=True)
class Leak:
    cell: CellResult
    role: str
    reason: str


def roles(cell: CellResult) -> Mapping[str, Mapping[str, Any]]:
    """role → record of a cell (empty when the cell was not sampled)."""
    if not cell.resources:
        return {}
    found = cell.resources.get("roles", {})
    return found if isinstance(found, Mapping) else {}


def mib(n: float) -> str:
    return f"{n / _MIB:.1f} MiB"


def rate(n: float) -> str:
    return f"{n / _MIB:+.2f} MiB/s" if abs(n) >= _MIB else f"{n / 1024:+.0f} KiB/s"


def rows(cell: CellResult) -> list[ResourceRow]:
    out = []
    for role, r in sorted(roles(cell).items()):
        skipped = r.get("skipped")
        out.append(ResourceRow(
            cell_id=cell.cell_id,
            role=role,
            cpu_mean="" if skipped else f"{r.get('cpu_pct_mean', 0):.1f} %",
            cpu_max="" if skipped else f"{r.get('cpu_pct_max', 0):.1f} %",
            rss_max="" if skipped else mib(r.get("rss_max_bytes", 0)),
            slope="" if skipped else rate(r.get("rss_slope_bytes_per_s", 0))
            + ("" if r.get("leak_judged", True) else " (window too short to judge)"),
            samples=int(r.get("samples", 0)),
            pids=" → ".join(str(p) for p in r.get("pids", ())),
            leak=bool(r.get("leak_suspected")),
            note=str(r.get("leak_reason") or (f"not sampled: {skipped}" if skipped else "")),
        ))
    return out


def suspected(results: RunResults) -> list[Leak]:
    """Every (cell, role) whose RSS grew steadily, in cell order, declared known or not."""
    return [
        Leak(cell, role, str(r.get("leak_reason") or "RSS grew steadily"))
        for cell in results.cells
        for role, r in sorted(roles(cell).items())
        if r.get("leak_suspected")
    ]


def _role_version(leak: Leak) -> tuple[str, str]:
    """(product role, version) of the process a leak was seen in: ``client:c1`` is the client."""
    kind = leak.role.split(":", 1)[0]
    version = {"client": leak.cell.client_version, "gateway": leak.cell.gateway_version}.get(kind, "")
    return kind, version


def declaration(issues: Sequence[KnownIssue], leak: Leak) -> KnownIssue | None:
    """The matrix.yaml known issue that declares this growth, if any (released versions only)."""
    return known_issues.find(issues, *_role_version(leak), MEMORY_GROWTH)


def leaks(results: RunResults) -> list[Leak]:
    """Every (cell, role) whose RSS grew steadily and that no known issue of matrix.yaml
    declares (``meta.known_issues``): the warnings, and what ``--compat-fail-on-leak`` fails on."""
    issues = known_issues.from_meta(results.meta)
    return [leak for leak in suspected(results) if declaration(issues, leak) is None]


@dataclass(frozen=True)
class KnownFinding:
    """One known issue of matrix.yaml with the (cell, role) findings of this run it declares."""

    issue: KnownIssue
    leaks: tuple[Leak, ...]

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions of the declared role the finding was seen in, in version order."""
        return sorted_versions(_role_version(leak)[1] for leak in self.leaks)

    def seen_text(self) -> str:
        """``seen in 24 cells: client 2.0.0, 2.1.0, 3.0.0`` or ``not seen in this run``."""
        if not self.leaks:
            return "not seen in this run"
        cells = len({(leak.cell.venue, leak.cell.cell_id) for leak in self.leaks})
        return f"seen in {cells} cell{'s' * (cells != 1)}: {self.issue.role} {', '.join(self.versions)}"


def known_findings(results: RunResults) -> list[KnownFinding]:
    """Each known issue declared for the run (``meta.known_issues``), once, with what it declares
    in this run: a declared finding is shown with its declaration, never as a warning."""
    issues = known_issues.from_meta(results.meta)
    found: dict[KnownIssue, list[Leak]] = {issue: [] for issue in issues}
    for leak in suspected(results):
        issue = declaration(issues, leak)
        if issue is not None:
            found[issue].append(leak)
    return [KnownFinding(issue, tuple(seen)) for issue, seen in found.items()]


@dataclass(frozen=True)
class LeakGroup:
    """The same finding on one product version: its role's growth in every cell it ran in."""

    product: str  # "client 3.1.0", "gateway 2.0.0", "exchange"
    leaks: tuple[Leak, ...]

    @property
    def steepest(self) -> Leak:
        return max(self.leaks, key=lambda leak: float(
            roles(leak.cell).get(leak.role, {}).get("rss_slope_bytes_per_s", 0) or 0))

    def cells_text(self, most: int = 4) -> str:
        ids = [leak.cell.cell_id for leak in self.leaks]
        return ", ".join(ids[:most]) + (f", … {len(ids) - most} more" if len(ids) > most else "")


def growth_text(leak: Leak) -> str:
    """``RSS 28.9 MiB → 44.1 MiB over 16.8 s, +798 KiB/s``: a leak's figures in a few words."""
    r = roles(leak.cell).get(leak.role, {})
    return (f"RSS {mib(r.get('rss_start_bytes', 0))} → {mib(r.get('rss_max_bytes', 0))} over "
            f"{float(r.get('duration_s', 0) or 0):.1f} s, {rate(r.get('rss_slope_bytes_per_s', 0))}")


def _product_of(leak: Leak) -> str:
    kind = leak.role.split(":", 1)[0]
    if kind == "client":
        return f"client {leak.cell.client_version}"
    if kind == "gateway":
        return f"gateway {leak.cell.gateway_version}"
    return kind


def leak_groups(results: RunResults) -> list[LeakGroup]:
    """Suspected leaks no known issue declares, grouped by product version (a client version's
    driver growing in 24 cells is one finding, not 24), in order of first appearance."""
    grouped: dict[str, list[Leak]] = {}
    for leak in leaks(results):
        grouped.setdefault(_product_of(leak), []).append(leak)
    return [LeakGroup(product, tuple(found)) for product, found in grouped.items()]


def leak_lines(results: RunResults) -> list[str]:
    """One warning line per product version with a suspected leak, for the terminal summary."""
    lines = []
    for group in leak_groups(results):
        leak = group.steepest
        if len(group.leaks) == 1:
            lines.append(f"compat: memory leak suspected: {leak.cell.cell_id} {leak.role}: {leak.reason}")
        else:
            # the figures of the steepest, not its whole reason: one line each (the reports hold the rest)
            lines.append(f"compat: memory leak suspected: {group.product} in {len(group.leaks)} cells "
                         f"(listed in the reports); steepest {leak.cell.cell_id} {leak.role}: {growth_text(leak)}")
    return lines


def markdown_lines(results: RunResults) -> list[str]:
    """``### Resources``: one line per suspected leak, then the peak figures per role across cells."""
    sampled = [c for c in results.cells if roles(c)]
    if not sampled:
        return []
    found = leaks(results)
    groups = leak_groups(results)
    lines = [f"### Resources ({len(sampled)} cells sampled, {len(found)} leak(s) suspected)", ""]
    for group in groups:
        leak = group.steepest
        if len(group.leaks) == 1:
            lines.append(f"- ⚠ `{leak.cell.cell_id}` **{leak.role}**: {leak.reason}")
        else:
            lines.append(f"- ⚠ **{group.product}** in {len(group.leaks)} cells ({group.cells_text()}); "
                         f"steepest `{leak.cell.cell_id}` **{leak.role}**: {leak.reason}")
    if found:
        lines.append("")
    lines.append("| role | cells | CPU mean (highest cell) | CPU max | RSS max | steepest RSS slope |")
    lines.append("|---|---|---|---|---|---|")
    peaks: dict[str, list[tuple[CellResult, Mapping[str, Any]]]] = {}
    for cell in sampled:
        for role, r in roles(cell).items():
            if not r.get("skipped") and r.get("samples"):
                # client:c1, client:c2 … are one role across cells
                peaks.setdefault(role.split(":", 1)[0], []).append((cell, r))
    for role, seen in sorted(peaks.items()):
        cpu_mean = max(seen, key=lambda cr: cr[1].get("cpu_pct_mean", 0))
        cpu_max = max(r.get("cpu_pct_max", 0) for _, r in seen)
        rss = max(seen, key=lambda cr: cr[1].get("rss_max_bytes", 0))
        # A slope from a few seconds of samples is noise: prefer windows the leak rule could judge.
        judged = [cr for cr in seen if cr[1].get("leak_judged", True)] or seen
        slope = max(judged, key=lambda cr: cr[1].get("rss_slope_bytes_per_s", 0))
        lines.append(
            f"| {role} | {len({c.cell_id for c, _ in seen})} "
            f"| {cpu_mean[1].get('cpu_pct_mean', 0):.1f} % (`{cpu_mean[0].cell_id}`) | {cpu_max:.1f} % "
            f"| {mib(rss[1].get('rss_max_bytes', 0))} (`{rss[0].cell_id}`) "
            f"| {rate(slope[1].get('rss_slope_bytes_per_s', 0))} (`{slope[0].cell_id}`) |"
        )
    lines.append("")
    return lines
