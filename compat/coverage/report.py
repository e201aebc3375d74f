"""The coverage report (JSON and Markdown) and the coverage history (one JSON line per run)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compat.artifacts.atomic import write_text_atomically
from compat.coverage.suite import Coverage
from compat.errors import ConfigError


def render_markdown(coverage: Coverage) -> str:
    lines = [f"## compat coverage: {coverage.role} {coverage.package} {coverage.version}", "",
             f"**Suite strength {coverage.score:.0%}**: {coverage.headline()}.", ""]
    kinds = coverage.by_kind()
    if kinds:
        lines += ["| mutation | killed | run |", "|---|---|---|"]
        lines += [f"| {kind} | {killed} | {run} |" for kind, (killed, run) in kinds.items()]
        lines.append("")
    uncovered = coverage.uncovered()
    lines += [f"### Schema elements no scenario notices ({len(uncovered)})", ""]
    lines += [f"- {line}" for line in uncovered] or ["None: every mutant run was killed."]
    lines.append("")
    errors_only = [r for r in coverage.results if r.judgement.killed and r.judgement.as_error_only]
    if errors_only:
        lines += [f"### Killed only by infrastructure errors ({len(errors_only)})", "",
                  "The mutant did not start or its driver died: noticed, but no scenario asserts on the element.", ""]
        lines += [f"- {r.mutant.describe()}: {r.judgement.by[0]}" for r in errors_only]
        lines.append("")
    if coverage.baseline_red:
        lines += [f"### Left out: not green in the unmutated baseline ({len(coverage.baseline_red)})", ""]
        lines += [f"- {line}" for line in coverage.baseline_red]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def write_reports(coverage: Coverage, directory: Path) -> list[Path]:
    json_path, md_path = directory / "coverage.json", directory / "coverage.md"
    write_text_atomically(json_path, json.dumps(coverage.to_dict(), indent=2, ensure_ascii=False) + "\n")
    write_text_atomically(md_path, render_markdown(coverage))
    return [json_path, md_path]


def append_history(coverage: Coverage, path: Path) -> None:
    """Add this run's score to the coverage history (JSON lines, oldest first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(coverage.history_record(), ensure_ascii=False) + "\n")


def read_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: not a coverage history line ({exc})") from None
        if not isinstance(record, dict) or "score" not in record:
            raise ConfigError(f"{path}:{number}: a coverage history line needs a score")
        records.append(record)
    return records


def history_lines(records: Sequence[dict[str, Any]], package: str | None = None) -> list[str]:
    """The score per run, per product, with its change from the product's run before."""
    shown = [r for r in records if package is None or r.get("package") == package]
    if not shown:
        return ["no coverage run recorded" + (f" for {package}" if package else "")]
    lines = []
    previous: dict[str, float] = {}
    for record in shown:
        name = str(record.get("package"))
        score = float(record["score"])
        change = f" ({score - previous[name]:+.0%})" if name in previous else ""
        previous[name] = score
        scope = f"sample {record.get('run')}/{record.get('enumerated')}, seed {record['seed']}" \
            if record.get("seed") is not None else f"all {record.get('enumerated')}"
        lines.append(f"{record.get('at', '?')}  {record.get('role')} {name} {record.get('version')}: "
                     f"{score:.0%}{change} ({record.get('killed')}/{record.get('run')} killed; {scope})")
    return lines
