"""Reports stay small as matrices grow: wire captures and log tails of results that passed or
failed as declared do not reach the JSON or the HTML (synthetic 10 × 10 × 2 venues matrix)."""

from __future__ import annotations

from dataclasses import replace

from compat.report.demo import demo_results
from compat.report.html import declared_excerpt, render_html
from compat.results.jsonfile import render_json
from compat.results.model import RunResults, Verdict


def _everything_captured() -> RunResults:
    """The demo matrix with a wire capture and ~1.5 KB of log tails on every scenario, as a
    run that recorded evidence everywhere would have."""
    demo = demo_results(10, 10, ("obx", "tlx"))
    frames = next(s.wire for c in demo.cells for s in c.scenarios if s.wire)
    cells = []
    for cell in demo.cells:
        cells.append(replace(cell, scenarios=tuple(
            replace(s, wire=s.wire or frames, log_tails=s.log_tails or {
                role: f"{role} of {cell.cell_id} {s.scenario}\n" + "x" * 480
                for role in ("gateway", "exchange", "client")
            }) for s in cell.scenarios)))
    return replace(demo, cells=tuple(cells))


def test_evidence_of_passes_and_declared_failures_stays_out_of_the_reports() -> None:
    full = _everything_captured()
    kept_all = render_json(replace(full, meta={**full.meta, "shard": {"index": 1, "count": 1}}))
    pruned = render_json(full)
    assert len(pruned) < 0.3 * len(kept_all), (len(pruned), len(kept_all))
    html = render_html(full)
    assert len(html) < 1_500_000, f"HTML report is {len(html)} bytes for 200 cells"
    # The same report as from a run that captured evidence only where it explains something:
    explaining = {Verdict.FAIL, Verdict.ERROR, Verdict.STALE, Verdict.FLAKY}
    baseline = demo_results(10, 10, ("obx", "tlx"))
    assert len(html) < 1.25 * len(render_html(baseline))
    assert sum(1 for c in full.cells for s in c.scenarios if s.verdict in explaining) > 0


def test_a_declared_failure_shows_the_end_of_its_message() -> None:
    source = [f"    line {i} of the scenario" for i in range(40)]
    message = "\n".join([*source, ">       assert event['kind'] == 'accepted'", "E       AssertionError: no", "",
                         "tests/compat/test_x.py:54: AssertionError"])
    text, cut = declared_excerpt(message)
    assert cut == 40 and text.startswith(">       assert") and text.endswith("test_x.py:54: AssertionError")
    assert declared_excerpt("short\nmessage") == ("short\nmessage", 0)
    assert declared_excerpt("y" * 5000)[0].startswith("…") and len(declared_excerpt("y" * 5000)[0]) == 1200
