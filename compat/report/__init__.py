"""The renderers: pure functions over ``compat.results.model.RunResults``, and the one writer.
The results themselves (the model, the JSON file, the store, history, the gate) are
``compat.results``; the JSON functions are re-exported here because they render too.

Public API (import from here):
    render_json, load_json, merge, merge_files       the JSON report and shard merge (compat.results.jsonfile)
    render_markdown, write_step_summary              PR comment / CI step summary
    render_terminal_grid                             lines for pytest's terminal summary
    junit_properties                                 (name, value) pairs for record_property
    render_html                                      the self-contained HTML report
    write_reports                                    the one writer (json/md/html + step summary)
    first_divergence, nearest_passing                wire diff
"""

from __future__ import annotations

from compat.report.html import render_html
from compat.report.junit import junit_properties
from compat.report.markdown import render_markdown, write_step_summary
from compat.report.terminal import render_terminal_grid
from compat.report.wirediff import first_divergence, nearest_passing
from compat.report.writer import write_reports
from compat.results.jsonfile import load_json, merge, merge_files, render_json

__all__ = [
    "first_divergence",
    "junit_properties",
    "load_json",
    "merge",
    "merge_files",
    "nearest_passing",
    "render_html",
    "render_json",
    "render_markdown",
    "render_terminal_grid",
    "write_reports",
    "write_step_summary",
]
