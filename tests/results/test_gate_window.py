"""The release gate inside the support window declared in matrix.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from results_cli import main

from compat.errors import ConfigError
from compat.results.gate import SupportWindow, WindowView, evaluate, gate, minor
from compat.results.jsonfile import render_json
from compat.results.model import CellResult, RunResults, Verdict

if TYPE_CHECKING:
    from sample_results import Literals

CLIENTS = ("1.0.0", "1.1.0", "1.2.0", "2.0.0")  # client minors 1.0 1.1 1.2 2.0
GATEWAYS = ("3.0.0", "3.1.0", "3.2.0", "3.2.1")  # gateway minors 3.0 3.1 3.2 (twice)
WINDOW = SupportWindow(client_minors=3, gateway_minors=2)
BROKEN = {
    ("1.0.0", "3.2.1"): Verdict.FAIL,  # outside: client 1.0 is not among the last 3 client minors
    ("1.2.0", "3.1.0"): Verdict.FAIL,  # outside: neither the newest client nor the newest gateway
    ("2.0.0", "3.1.0"): Verdict.FAIL,  # inside: the newest client supports gateway 3.1
    ("1.1.0", "3.2.0"): Verdict.ERROR,  # inside: the newest gateway supports client 1.1
    ("2.0.0", "3.0.0"): Verdict.STALE,  # outside, but a stale expectation warns anywhere
    ("1.2.0", "3.2.0"): Verdict.EXPECTED_FAIL,  # inside, declared: listed, not blocking
}
NOT_RUN = ("1.2.0", "3.2.1")  # inside the window, never run


def grid(lit: Literals) -> RunResults:
    cells: list[CellResult] = []
    for client in CLIENTS:
        for gateway in GATEWAYS:
            if (client, gateway) == NOT_RUN:
                continue
            verdict = BROKEN.get((client, gateway), Verdict.PASS)
            expectation = (
                {"kind": "incompatible", "reason": "known gap", "ticket": "GW-1"}
                if verdict in (Verdict.STALE, Verdict.EXPECTED_FAIL)
                else None
            )
            scenario = lit.sr("S01_logon", verdict, reason=f"{verdict} here", expectation=expectation)
            cells.append(lit.cell(client, gateway, "obx", scenario, lit.sr("S04_insert", Verdict.PASS)))
    return RunResults(cells=tuple(cells), matrix_path="matrix.yaml")


def test_window_covers_the_newest_gateway_row_and_the_newest_client_column() -> None:
    view = WindowView.over(WINDOW, CLIENTS, GATEWAYS)
    inside = {(c, g) for c in CLIENTS for g in GATEWAYS if view.why_inside(c, g)}
    assert inside == {
        ("1.1.0", "3.2.0"), ("1.2.0", "3.2.0"), ("2.0.0", "3.2.0"),
        ("1.1.0", "3.2.1"), ("1.2.0", "3.2.1"), ("2.0.0", "3.2.1"),
        ("2.0.0", "3.1.0"),
    }  # fmt: skip
    assert view.why_inside("1.1.0", "3.2.1") == "newest gateway 3.2 supports client minors 1.1, 1.2, 2.0"
    assert view.why_inside("2.0.0", "3.1.0") == "newest client 2.0 supports gateway minors 3.1, 3.2"
    assert view.header() == [
        "support window (matrix.yaml settings.support_window): the newest gateway supports the last 3 client "
        "minors; the newest client supports the last 2 gateway minors",
        "  gateway 3.2.x × client minors 1.1, 1.2, 2.0",
        "  client 2.0.x × gateway minors 3.1, 3.2",
    ]
    client_only = WindowView.over(SupportWindow(gateway_minors=1), CLIENTS, GATEWAYS)
    assert {(c, g) for c in CLIENTS for g in GATEWAYS if client_only.why_inside(c, g)} == {
        ("2.0.0", "3.2.0"),
        ("2.0.0", "3.2.1"),
    }
    assert WindowView.over(None, CLIENTS, GATEWAYS).why_inside("1.0.0", "3.0.0") is not None  # no window: all
    assert (minor("2.1.0rc1"), minor("3"), minor("not-a-version")) == ((2, 1), (3, 0), None)


def test_gate_blocks_only_inside_the_window_and_explains_each(lit: Literals) -> None:
    decision = evaluate(grid(lit), WINDOW)
    assert decision.exit_code == 1
    assert {(f.cell.client_version, f.cell.gateway_version) for f in decision.blockers} == {
        ("2.0.0", "3.1.0"),
        ("1.1.0", "3.2.0"),
        ("2.0.0", "3.0.0"),  # the stale expectation: outside the window, blocking all the same
    }
    assert [(v, c, g) for v, c, g, _ in decision.missing] == [("obx", "1.2.0", "3.2.1")]
    assert {(f.cell.client_version, f.cell.gateway_version) for f in decision.outside} == {
        ("1.0.0", "3.2.1"),
        ("1.2.0", "3.1.0"),
    }
    lines = decision.lines()
    assert (
        "BLOCKED fail: client-2.0.0--gateway-3.1.0 [obx] S01_logon: fail here "
        "[newest client 2.0 supports gateway minors 3.1, 3.2]"
    ) in lines
    assert (
        "BLOCKED never tested: client 1.2.0 × gateway 3.2.1 [obx] is inside the window (newest gateway 3.2 "
        "supports client minors 1.1, 1.2, 2.0) but no cell of the results ran it; run it, or merge every "
        "shard before gating"
    ) in lines
    assert (  # outside the window, and still blocking: matrix.yaml says something untrue about the pair
        "BLOCKED stale: client-2.0.0--gateway-3.0.0 [obx] S01_logon: passed, but matrix.yaml declares "
        "incompatible: known gap (GW-1); remove or narrow the expectation"
    ) in lines
    assert (
        "declared expected-fail: client-1.2.0--gateway-3.2.0 [obx] S01_logon: declared incompatible: known gap "
        "(GW-1) [newest gateway 3.2 supports client minors 1.1, 1.2, 2.0]"
    ) in lines
    assert "outside window, not gating: fail: client-1.0.0--gateway-3.2.1 [obx] S01_logon: fail here" in lines
    assert lines[-1] == (
        "release gate: BLOCKED by 4; 15 cells, 30 scenarios: 1E 3✗ 1! 1x 24✓; stale expectations block"
    )


def test_gate_is_clear_when_only_outside_pairs_break(lit: Literals) -> None:
    results = grid(lit)
    fixed = {("2.0.0", "3.1.0"), ("1.1.0", "3.2.0")}
    repaired = RunResults(
        cells=(
            *(c for c in results.cells if (c.client_version, c.gateway_version) not in fixed),
            lit.cell("2.0.0", "3.1.0", "obx", lit.sr("S01_logon", Verdict.PASS)),
            lit.cell("1.1.0", "3.2.0", "obx", lit.sr("S01_logon", Verdict.FLAKY)),
            lit.cell("1.2.0", "3.2.1", "obx", lit.sr("S01_logon", Verdict.PASS)),
        )
    )
    code, lines = gate(repaired, WINDOW, allow_stale=True)
    assert code == 0, lines
    assert lines[-1].startswith("release gate: clear; 1 stale expectation(s) to clean; 16 cells")
    assert lines[-1].endswith("; stale expectations warn (--allow-stale)")
    code, lines = gate(repaired, WINDOW)
    assert code == 1  # the stale pair (2.0.0, 3.0.0) is outside the window, and blocks all the same
    assert lines[-1].startswith("release gate: BLOCKED by 1;")
    code, lines = gate(repaired, None, allow_stale=True)
    assert code == 1 and lines[-1].startswith("release gate: BLOCKED by 2;")  # no window: all pairs gate


def test_window_settings_and_overrides_are_validated() -> None:
    window = SupportWindow.from_settings({"support_window": {"client_minors": 3, "gateway_minors": 2}}, "m.yaml")
    assert window == SupportWindow(3, 2, "m.yaml settings.support_window")
    assert SupportWindow.from_settings({"start_timeout_s": 20}, "m.yaml") is None
    assert window.override(["client_minors=1", "gateway-minors=4"]) == SupportWindow(
        1, 4, "m.yaml settings.support_window with --window client_minors=1 gateway-minors=4"
    )
    both = SupportWindow().override(["client_minors=2,gateway_minors=1"])
    assert (both.client_minors, both.gateway_minors) == (2, 1)
    with pytest.raises(ConfigError, match=r"m\.yaml settings\.support_window: unknown key clients; expected"):
        SupportWindow.from_settings({"support_window": {"clients": 3}}, "m.yaml")
    with pytest.raises(ConfigError, match=r"support_window.client_minors: expected a whole number .* got 0"):
        SupportWindow.from_settings({"support_window": {"client_minors": 0}}, "m.yaml")
    with pytest.raises(ConfigError, match="expected a mapping like"):
        SupportWindow.from_settings({"support_window": 3}, "m.yaml")
    with pytest.raises(ConfigError, match="--window 'minors=3': expected KEY=N"):
        window.override(["minors=3"])
    with pytest.raises(ConfigError, match="--window gateway_minors: expected a whole number"):
        window.override(["gateway_minors=two"])




def _matrix(root: Path, settings: str) -> Path:
    (root / "cl").mkdir()
    (root / "cl" / "compat_adapter.py").write_text("class Adapter: ...\n")
    path = root / "matrix.yaml"
    path.write_text(
        "products:\n"
        "  gateway: {package: refgw, source: gw, launch: [{versions: '>=0', argv: '{bin}/refgw'}]}\n"
        "  client: {package: refclient, source: cl, adapter: cl/compat_adapter.py}\n"
        "venues: [obx]\n"
        f"settings:\n{settings}"
    )
    return path


def test_cli_reads_the_window_from_matrix_yaml_and_takes_overrides(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _matrix(tmp_path, "  start_timeout_s: 20\n  support_window: {client_minors: 3, gateway_minors: 2}\n")
    results = tmp_path / "r.json"
    results.write_text(render_json(grid(lit)))  # matrix_path "matrix.yaml": found in the working directory
    assert main(["gate", "--results", str(results)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("support window (matrix.yaml settings.support_window): the newest gateway")
    assert out[-1].startswith("release gate: BLOCKED by 4;")  # 3 inside the window, and the stale expectation
    # a window of one minor each: only (2.0.0, 3.2.x) is inside, and those pass; the stale expectation blocks
    assert main(["gate", "--results", str(results), "--window", "client_minors=1,gateway_minors=1"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("release gate: BLOCKED by 1;")
    assert main(["gate", "--results", str(results), "--window", "client_minors=1,gateway_minors=1",
                 "--allow-stale"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("release gate: clear; 1 stale")
    assert main(["gate", "--results", str(results), "--window", "client_minors=1", "--allow-stale"]) == 1
    assert "BLOCKED fail: client-2.0.0--gateway-3.1.0" in capsys.readouterr().out  # gateway_minors still 2
    assert main(["gate", "--results", str(results), "--window", "all"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("release gate: BLOCKED by 5;")

    bad = tmp_path / "bad"
    bad.mkdir()
    matrix = _matrix(bad, "  support_window: {client_minors: three}\n")
    assert main(["gate", "--results", str(results), "--matrix", str(matrix)]) == 1
    assert "settings.support_window.client_minors: expected a whole number of minors (1 or more), got 'three'" in (
        capsys.readouterr().err
    )
