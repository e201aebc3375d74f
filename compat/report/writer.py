"""The one writer: renders once (on the controller) and writes each requested report."""

from __future__ import annotations

import os
from pathlib import Path

from compat.artifacts.atomic import write_text_atomically
from compat.report.html import render_html
from compat.report.markdown import render_markdown, write_step_summary
from compat.results.jsonfile import render_json
from compat.results.model import RunResults


def write_reports(
    results: RunResults,
    json_path: str | Path | None = None,
    md_path: str | Path | None = None,
    html_path: str | Path | None = None,
    step_summary: bool = True,
) -> list[Path]:
    """Write the requested reports; append the markdown to $GITHUB_STEP_SUMMARY when set
    (and ``step_summary`` is true). Returns the paths written, step summary included."""
    written: list[Path] = []
    if json_path is not None:
        write_text_atomically(Path(json_path), render_json(results))
        written.append(Path(json_path))
    markdown: str | None = None
    if md_path is not None:
        markdown = render_markdown(results)
        write_text_atomically(Path(md_path), markdown)
        written.append(Path(md_path))
    if html_path is not None:
        write_text_atomically(Path(html_path), render_html(results))
        written.append(Path(html_path))
    if step_summary and os.environ.get("GITHUB_STEP_SUMMARY"):
        summary = write_step_summary(markdown if markdown is not None else render_markdown(results))
        if summary is not None:
            written.append(summary)
    return written
