"""The benchmark gate's section of the reports: ``results.bench["gate"]``, written by
``compat bench --compare ... --gate --report`` (the record's shape: ``compat.bench.gate``).

Pure functions over the record (a JSON object), so an older or newer record renders what
it has: Markdown lines for the summary, and the rows the HTML template shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat.results.model import RunResults


def gate_of(results: RunResults) -> Mapping[str, Any] | None:
    gate = results.bench.get("gate")
    return gate if isinstance(gate, Mapping) else None


def markdown(record: Mapping[str, Any]) -> str:
    """The record as a Markdown section (the matrix report, job summaries)."""
    state = "passed" if record.get("passed") else "**FAILED**"
    lines = [f"### Benchmark gate: {state}", "",
             f"`{record.get('b')}` against `{record.get('a')}` (client {record.get('client')}, venue "
             f"{record.get('venue') or '-'}; {record.get('rounds')} interleaved rounds of {record.get('duration_s')}s "
             f"at {record.get('rate')}/s; thresholds from {record.get('thresholds_from')}): {record.get('headline')}",
             ""]
    reruns = record.get("reruns") or []
    if reruns:
        lines += [f"Rounds rerun: {len(reruns)} (" + "; ".join(
            f"round {r.get('round')}: {r.get('why')}" for r in reruns) + ")", ""]
    lines += ["| measure | B/A | CI | threshold | MDE | verdict |", "|---|---|---|---|---|---|"]
    for name, row in measure_rows(record):
        lines.append("| " + " | ".join((name, *row)) + " |")
    return "\n".join(lines) + "\n"


def markdown_lines(results: RunResults) -> list[str]:
    gate = gate_of(results)
    return [*markdown(gate).splitlines(), ""] if gate is not None else []


def measure_rows(record: Mapping[str, Any]) -> list[tuple[str, tuple[str, str, str, str, str]]]:
    """(measure, (B/A, CI, threshold, MDE, verdict)) per measure; "(shown)" marks one that does not decide."""
    rows = []
    for name, m in (record.get("measures") or {}).items():
        label = name if m.get("decides") else f"{name} (shown)"
        interval = f"{_fmt(m.get('ci_low'), '.3f')}-{_fmt(m.get('ci_high'), '.3f')}"
        rows.append((label, (_fmt(m.get("ratio"), ".3f"), interval, _fmt(m.get("threshold"), ".0%"),
                             _fmt(m.get("mde"), ".1%"), str(m.get("verdict")))))
    return rows


def _fmt(value: Any, spec: str) -> str:
    return "-" if not isinstance(value, int | float) else format(value, spec)
