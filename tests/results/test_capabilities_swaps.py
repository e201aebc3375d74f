"""Capability regressions (a version answers unsupported for what its predecessor did) and the
swap grid (live swaps by their two ends), in the results, the gate and the reports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet

from compat.config.removals import Removal
from compat.errors import OperationUnsupported, SwapTargetError
from compat.report.findings import markdown_lines, terminal_lines
from compat.report.html import render_html
from compat.results.capabilities import REMOVALS_META, capability_losses
from compat.results.gate import evaluate
from compat.results.jsonfile import parse_report, render_json
from compat.results.model import RunResults, Verdict
from compat.results.swapgrid import swap_grids, target_failures
from compat.results.verdicts import judge

if TYPE_CHECKING:
    from sample_results import Literals

AMEND_LOST = "n/a: amend: refclient 3.1.0 has no amend (capability order.amend)"


def renamed_amend(lit: Literals, *, declared: bool = False) -> RunResults:
    """Client 3.1 answers unsupported for order.amend; 3.0 passed it against the same gateways."""
    cells = []
    for gateway in ("3.0.0", "3.1.0"):
        for client in ("3.0.0", "3.1.0"):
            lost = client == "3.1.0"
            amend = lit.sr("amend_qty_down", Verdict.NA if lost else Verdict.PASS,
                           reason=AMEND_LOST if lost else None, capability="order.amend" if lost else None)
            cells.append(lit.cell(client, gateway, "tlx", lit.sr("logon", Verdict.PASS), amend))
    meta = {REMOVALS_META: [Removal("client", SpecifierSet(">=3.1"), "order.*", "amend went away", "CL-9",
                                    12).to_record()]} if declared else {}
    return RunResults(cells=tuple(cells), matrix_path="matrix.yaml", meta=meta)


def test_a_capability_the_predecessor_had_with_the_same_counterpart_is_lost(lit: Literals) -> None:
    (loss,) = capability_losses(renamed_amend(lit))
    assert (loss.role, loss.version, loss.predecessor, loss.capability) == ("client", "3.1.0", "3.0.0", "order.amend")
    assert {counterpart for _, counterpart, _ in loss.where} == {"3.0.0", "3.1.0"}
    assert loss.declared is None
    assert "client 3.1.0 answers unsupported for order.amend, which 3.0.0 supported with gateway 3.0.0, 3.1.0" \
        in loss.line()


def test_never_had_it_is_not_a_loss_and_a_declared_n_a_carries_no_capability(lit: Literals) -> None:
    results = renamed_amend(lit)
    older = [dataclasses.replace(c, scenarios=tuple(dataclasses.replace(s, verdict=Verdict.NA, capability="order.amend")
                                                    if s.scenario == "amend_qty_down" else s for s in c.scenarios))
             for c in results.cells]
    assert capability_losses(dataclasses.replace(results, cells=tuple(older))) == []
    declared = [dataclasses.replace(c, scenarios=tuple(dataclasses.replace(s, capability=None) for s in c.scenarios))
                for c in results.cells]
    assert capability_losses(dataclasses.replace(results, cells=tuple(declared))) == []


def test_the_gate_blocks_on_a_lost_capability_unless_matrix_yaml_declares_the_removal(lit: Literals) -> None:
    blocked = evaluate(renamed_amend(lit))
    assert blocked.blocked and blocked.exit_code == 1
    assert any(line.startswith("BLOCKED capability lost: client 3.1.0") for line in blocked.lines())
    assert blocked.lines()[-1].startswith("release gate: BLOCKED by 1;")
    clear = evaluate(renamed_amend(lit, declared=True))
    assert not clear.blocked
    assert any(line.startswith("capability removed (declared): client 3.1.0") and "CL-9" in line
               for line in clear.lines())
    # the gate's matrix file wins over what the run stamped: here it declares nothing
    assert evaluate(renamed_amend(lit, declared=True), removals=()).blocked


def test_n_a_verdicts_carry_their_capability_through_the_json(lit: Literals) -> None:
    report = SimpleNamespace(when="call", skipped=False, failed=True, location=("t.py", 3, "t"), duration=0.1,
                             longrepr=None, outcome="failed")
    call = SimpleNamespace(excinfo=SimpleNamespace(
        value=OperationUnsupported("amend", "order.amend", "refclient 3.1.0 has no amend"),
        errisinstance=lambda kind: isinstance(OperationUnsupported("a", "b", "c"), kind)))
    payload = judge(report, call, None)
    assert payload is not None and payload["verdict"] == "n/a" and payload["capability"] == "order.amend"
    again = parse_report(json.loads(render_json(renamed_amend(lit))))
    assert capability_losses(again)[0].capability == "order.amend"


def swaps(lit: Literals) -> RunResults:
    def swap(source: str, target: str, verdict: Verdict, **extra: str) -> object:
        direction = "upgrade" if target > source else "downgrade"
        return lit.sr(f"live_{direction}[to-{target}]", verdict,
                      swap={"from": source, "to": target, "direction": direction, **extra},
                      reason=f"{verdict}")
    cells = []
    for client in ("2.1.0", "3.0.0"):
        cells.append(lit.cell(client, "3.0.0", "tlx", swap("3.0.0", "3.0.1", Verdict.PASS),
                              swap("3.0.0", "2.1.0", Verdict.EXPECTED_FAIL)))
        cells.append(lit.cell(client, "3.0.1", "tlx", swap("3.0.1", "3.0.0", Verdict.PASS),
                              swap("3.0.1", "3.0.2", Verdict.ERROR, charged_to="3.0.2")))
    return RunResults(cells=tuple(cells), matrix_path="matrix.yaml")


def test_the_swap_grid_lays_swaps_out_by_both_ends(lit: Literals) -> None:
    (grid,) = swap_grids(swaps(lit))
    assert grid.venue == "tlx" and grid.sources == grid.targets == ("2.1.0", "3.0.0", "3.0.1", "3.0.2")
    up = grid.slot("3.0.0", "3.0.1")
    assert up is not None and up.clients == ("2.1.0", "3.0.0") and up.symbol == "✓" and up.direction == "upgrade"
    down = grid.slot("3.0.0", "2.1.0")
    assert down is not None and str(down.grade) == "declared"
    assert grid.slot("2.1.0", "3.0.0") is None
    (failure,) = target_failures(swaps(lit))
    assert failure.target == "3.0.2" and failure.sources == ("3.0.1",)
    assert "charged to 3.0.2, not to the source" in failure.line()


def test_reports_show_the_swap_grid_and_the_findings(lit: Literals) -> None:
    results = dataclasses.replace(swaps(lit), cells=swaps(lit).cells + renamed_amend(lit).cells)
    md = "\n".join(markdown_lines(results))
    assert "### Live swaps, venue `tlx`" in md and "| from \\ to | 2.1.0 | 3.0.0 | 3.0.1 | 3.0.2 |" in md
    assert "BLOCKS the gate: capability lost: client 3.1.0" in md
    assert "gateway 3.0.2 did not start as the target of a live swap" in md
    terminal = terminal_lines(results)
    assert terminal[0] == "live swaps, venue tlx (rows: from, columns: to)"
    assert any(line.startswith("compat finding: BLOCKS the gate: capability lost") for line in terminal)
    html = render_html(results)
    assert "Live swaps, venue tlx" in html and "Blocks the release gate: capability lost" in html
    assert "Release gate: BLOCKED" in html
    from compat.report.markdown import render_markdown

    # the swap target errors (2 clients) and the lost capability, in the gate line every report leads with
    gate_line = render_markdown(results).splitlines()[2]
    assert gate_line.startswith("🟥 **Release gate: BLOCKED** by 3"), gate_line
    assert "2 infrastructure errors, 1 capability lost" in gate_line, gate_line


def test_the_terminal_folds_swap_grids_that_break_nothing_into_one_line(lit: Literals) -> None:
    """Every swap as declared: one line of counts per grade in the terminal (the reports keep the
    grids); a swap that breaks, errs or is stale shows the grids again."""
    clean = dataclasses.replace(swaps(lit), cells=tuple(
        dataclasses.replace(c, scenarios=tuple(s for s in c.scenarios if s.verdict is not Verdict.ERROR))
        for c in swaps(lit).cells))
    assert terminal_lines(clean) == [
        "live swaps: 3 (from, to) pairs on tlx, none broken: 2 ✓ pass, 1 x declared "
        "(the grids: Markdown and HTML reports)"]
    assert "### Live swaps, venue `tlx`" in "\n".join(markdown_lines(clean))
    for verdict in (Verdict.FAIL, Verdict.STALE, Verdict.ERROR):
        cells = list(clean.cells)
        first = cells[0]
        cells[0] = dataclasses.replace(first, scenarios=(dataclasses.replace(first.scenarios[0], verdict=verdict),
                                                         *first.scenarios[1:]))
        shown = terminal_lines(dataclasses.replace(clean, cells=tuple(cells)))
        assert shown[0] == "live swaps, venue tlx (rows: from, columns: to)", (verdict, shown)


def test_a_swap_target_that_never_starts_is_an_error_charged_to_it(tmp_path: Path) -> None:
    report = SimpleNamespace(when="call", skipped=False, failed=True, location=("t.py", 3, "t"), duration=0.1,
                             longrepr=None, outcome="failed", longreprtext="E   SwapTargetError: swap 3.0.1 → 3.0.2")
    error = SwapTargetError("swap 3.0.1 → 3.0.2: the target gateway 3.0.2 does not start", "3.0.2")
    call = SimpleNamespace(excinfo=SimpleNamespace(value=error, errisinstance=lambda kind: isinstance(error, kind)))
    payload = judge(report, call, {"kind": "incompatible", "reason": "r"})
    assert payload is not None and payload["verdict"] == "error" and payload["charged_to"] == "3.0.2"


def test_the_collector_keeps_capability_and_swap_ends() -> None:
    from compat.results.collect import ResultsCollector
    from compat.results.verdicts import PROPERTY

    collector = ResultsCollector(started_at="2026-11-25T00:00:00Z")
    base = {"cell_id": "client-3.0.0--gateway-3.0.1--venue-tlx", "client_version": "3.0.0", "gateway_version": "3.0.1",
            "venue": "tlx", "expectation": None, "attempt": 1, "duration_s": 0.1, "message": None}
    na = {**base, "scenario": "amend_qty_down", "verdict": "n/a", "phase": "call", "reason": AMEND_LOST,
          "capability": "order.amend", "op": "amend"}
    swap = {**base, "scenario": "live_upgrade[to-3.0.2]", "verdict": "error", "phase": "call", "reason": "no start",
            "swap": {"from": "3.0.1", "to": "3.0.2", "direction": "upgrade"}, "charged_to": "3.0.2"}
    collector.add("t::a", "call", 0.1, [(PROPERTY, json.dumps(na))])
    collector.add("t::b", "call", 0.1, [(PROPERTY, json.dumps(swap))])
    (cell,) = collector.results(finished_at="2026-11-25T00:01:00Z", matrix_path="matrix.yaml").cells
    found = {s.scenario: s for s in cell.scenarios}
    assert found["amend_qty_down"].capability == "order.amend" and found["amend_qty_down"].swap is None
    assert found["live_upgrade[to-3.0.2]"].swap == {"from": "3.0.1", "to": "3.0.2", "direction": "upgrade",
                                                     "charged_to": "3.0.2"}
    assert found["live_upgrade[to-3.0.2]"].capability is None
