from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from results_cli import main

from compat import timing
from compat.errors import ResultsError
from compat.results.gate import Pair, SupportWindow, can_i_deploy, gate
from compat.results.history import git_head_sha, latest_for_pair, list_runs, store_run
from compat.results.jsonfile import load_json, render_json
from compat.results.model import CellResult, RunResults, Verdict

if TYPE_CHECKING:
    from sample_results import Literals


DECLARED = (
    "declared expected-fail: client-1.0.0--gateway-10.0.0 [obx] S01_logon: declared incompatible: "
    "min protocol 3 (GW-10)"
)


def test_gate_lists_declared_expected_fails_with_and_without_a_window(lit: Literals) -> None:
    """docs/history-and-gate.md: an expected-fail inside the window is listed as declared; with
    no window every pair is inside, so it is listed too (it was listed only with a window)."""
    known_gap = {"kind": "incompatible", "reason": "known gap", "ticket": "GW-1"}
    results = RunResults(
        cells=(
            lit.cell("1.0.0", "3.0.0", "obx", lit.sr("S01", Verdict.EXPECTED_FAIL, expectation=known_gap)),
            lit.cell("2.0.0", "3.0.0", "obx", lit.sr("S01", Verdict.PASS)),
        )
    )
    line = "declared expected-fail: client-1.0.0--gateway-3.0.0 [obx] S01: declared incompatible: known gap (GW-1)"
    code, lines = gate(results)  # no window: every pair is inside
    assert code == 0
    assert lines == [line, "release gate: clear; 2 cells, 2 scenarios: 1x 1✓; stale expectations block"]
    code, lines = gate(results, SupportWindow(client_minors=2))  # both client minors × gateway 3.0
    assert code == 0
    assert f"{line} [newest gateway 3.0 supports client minors 1.0, 2.0]" in lines
    code, lines = gate(results, SupportWindow(client_minors=1))  # client 1.0 outside: not a gap in the promise
    assert code == 0 and not any(x.startswith("declared") for x in lines)


def test_gate_lists_one_line_per_blocker_and_blocks_on_stale(results: RunResults) -> None:
    code, lines = gate(results)
    assert code == 1
    assert lines == [
        "BLOCKED fail: client-1.0.0--gateway-2.2.0 [obx] S13_md: AssertionError: fill price 200.50 != 100.25",
        "BLOCKED stale: client-2.0.0--gateway-2.1.0 [obx] S01_logon: passed, but matrix.yaml declares "
        "incompatible: old bug (GW-7); remove or narrow the expectation",
        "BLOCKED error: client-2.0.0--gateway-2.2.0 [obx] S01_logon: "
        "StartError: gateway 2.2.0 did not report "
        "ready within 10.0s",
        DECLARED,
        "release gate: BLOCKED by 3; 6 cells, 10 scenarios: 1E 1✗ 1! 1~ 1x 4✓ 1-; stale expectations block",
    ]
    code, allowed = gate(results, allow_stale=True)
    assert code == 1 and allowed[-3].startswith("WARNING stale: client-2.0.0--gateway-2.1.0 [obx] S01_logon")
    assert allowed[-1] == (
        "release gate: BLOCKED by 2; 1 stale expectation(s) to clean; 6 cells, 10 scenarios: 1E 1✗ 1! 1~ 1x 4✓ 1-; "
        "stale expectations warn (--allow-stale)"
    )
    only_stale = replace(results, cells=(results.cells[3],))
    assert gate(only_stale)[0] == 1  # a stale expectation alone blocks, as it fails the pytest run
    assert gate(only_stale, allow_stale=True)[0] == 0  # relaxed explicitly: it warns


def test_gate_clear_empty_and_expired_expectation(results: RunResults) -> None:
    clear = replace(results, cells=results.cells[:1] + results.cells[2:3])
    assert gate(clear) == (
        0, [DECLARED, "release gate: clear; 2 cells, 4 scenarios: 1x 2✓ 1-; stale expectations block"]
    )
    code, lines = gate(RunResults(cells=()))
    assert code == 1 and "no scenarios" in lines[0]
    xfail = results.cells[2]
    expiring = replace(
        xfail,
        scenarios=(replace(xfail.scenarios[0], expectation={"kind": "incompatible", "expires": "2026-01-31"}),),
    )
    new_year = 1_772_000_000 * 10**9  # 2026-02-25
    with timing.use_clock(timing.monotonic_ns, lambda: new_year):
        code, lines = gate(replace(results, cells=(expiring,)))
    assert code == 1
    assert lines[0] == (
        "BLOCKED expected-fail: client-1.0.0--gateway-10.0.0 [obx] S01_logon: "
        "expectation expired on 2026-01-31: incompatible"
    )
    with timing.use_clock(timing.monotonic_ns, lambda: 1_700_000_000 * 10**9):  # 2023: not expired yet
        assert gate(replace(results, cells=(expiring,)))[0] == 0


def test_history_names_runs_by_timestamp_and_sha_and_never_overwrites(results: RunResults, tmp_path: Path) -> None:
    first = store_run(results, tmp_path / "h")
    assert first.name == "20261125T160500Z--0123abc.json"
    second = store_run(results, tmp_path / "h")
    assert second.name == "20261125T160500Z--0123abc~1.json"
    third = store_run(results, tmp_path / "h", git_sha="feed/beef", timestamp="2026-11-26T09:00:00Z")
    assert third.name == "20261126T090000Z--feed_beef.json"
    (tmp_path / "h" / "notes.txt").write_text("ignored")
    assert [r.path for r in list_runs(tmp_path / "h")] == [first, second, third]
    assert load_json(third) == results
    with pytest.raises(ResultsError, match="does not exist; store a run"):
        list_runs(tmp_path / "nope")


def test_can_i_deploy_answers_from_the_latest_file_of_the_pair(lit: Literals, tmp_path: Path) -> None:
    history = tmp_path / "h"
    broken = RunResults(cells=(lit.cell("2.0.0", "2.1.0", "obx", lit.sr("S01", Verdict.FAIL, message="boom")),))
    store_run(broken, history, git_sha="aaa", timestamp="2026-11-20T10:00:00Z")
    fixed = RunResults(
        cells=(
            lit.cell(
                "2.0.0", "2.1.0", "obx", lit.sr("S01", Verdict.PASS), lit.sr("S11", Verdict.NA, reason="no amend")
            ),
            lit.cell("2.0.0", "2.1.0", "tlx", lit.sr("S01", Verdict.PASS)),
            lit.cell(
                "1.0.0",
                "3.0.0",
                "obx",
                lit.sr("S01", Verdict.EXPECTED_FAIL, expectation={"kind": "incompatible", "reason": "min v2"}),
            ),
        )
    )
    store_run(fixed, history, git_sha="bbb", timestamp="2026-11-21T10:00:00Z")
    store_run(
        RunResults(cells=(lit.cell("9.0.0", "9.0.0", "obx", lit.sr("S01", Verdict.PASS)),)),
        history,
        git_sha="ccc",
        timestamp="2026-11-22T10:00:00Z",
    )  # newer, but another pair

    def lookup(client: str, gateway: str, venue: str | None) -> tuple[str, list[CellResult]] | None:
        found = latest_for_pair(history, client, gateway, venue)
        return None if found is None else (found[0].path.name, found[1])

    code, lines = can_i_deploy(lookup, [Pair("2.0", "2.1.0", None)], "client 2.0 with gateway 2.1.0")
    assert code == 0
    assert lines == [
        "can-i-deploy client 2.0 with gateway 2.1.0: yes (1 pairs work)",
        "  venue     client  gateway  verdict  decided by                  detail",
        "  obx, tlx  2.0     2.1.0    ok pass  20261121T100000Z--bbb.json  2✓ 1-",
        "  n/a: client-2.0.0--gateway-2.1.0 [obx] S11: no amend",
    ]
    code, lines = can_i_deploy(
        lookup, [Pair("1.0.0", "3.0.0", "obx"), Pair("1.0.0", "3.0.0", "tlx")], "gateway 3.0.0 to prod"
    )
    assert code == 1
    assert lines[0] == "can-i-deploy gateway 3.0.0 to prod: no (2 of 2 pairs not shown to work)"
    assert lines[2].split() == [
        "obx", "1.0.0", "3.0.0", "NO", "expected-fail", "20261121T100000Z--bbb.json",
        "S01:", "declared", "incompatible:", "min", "v2",
    ]  # fmt: skip
    assert lines[3].split()[:5] == ["tlx", "1.0.0", "3.0.0", "NEVER", "TESTED"]
    assert lines[3].endswith("no stored run holds this pair")
    found = latest_for_pair(history, "2.0.0", "2.1.0", "obx")
    assert found is not None and found[0].git_sha == "bbb" and len(found[1]) == 1


def test_git_head_sha_reads_refs_without_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "refs" / "heads" / "main").write_text("abc123\n")
    (repo / "sub").mkdir()
    assert git_head_sha(repo / "sub") == "abc123"
    (repo / ".git" / "refs" / "heads" / "main").unlink()
    (repo / ".git" / "packed-refs").write_text("# pack-refs\ndef456 refs/heads/main\n")
    assert git_head_sha(repo) == "def456"
    (repo / ".git" / "HEAD").write_text("0f0f0f\n")
    assert git_head_sha(repo) == "0f0f0f"




def test_cli_gate_history_can_i_deploy_and_report(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./matrix.yaml: no support window, every pair gated
    results = lit.sample()
    path = tmp_path / "r.json"
    path.write_text(render_json(results))
    assert main(["gate", "--results", str(path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1].endswith("; stale expectations block")
    assert main(["gate", "--results", str(path), "--allow-stale"]) == 1  # the fail and the error still block
    assert capsys.readouterr().out.splitlines()[-1].startswith("release gate: BLOCKED by 2; 1 stale")
    assert main(["gate", "--results", str(path), "--strict-stale"]) == 1  # accepted: the default now
    capsys.readouterr()

    history = tmp_path / "h"
    assert main(["history", "add", "--history", str(history), "--results", str(path)]) == 0
    assert capsys.readouterr().out == f"stored {history / '20261125T160500Z--0123abc.json'}\n"
    assert main(["history", "list", "--history", str(history)]) == 0
    assert capsys.readouterr().out == "20261125T160500Z  0123abc  20261125T160500Z--0123abc.json\n"
    argv = ["can-i-deploy", "--client", "1.0.0", "--gateway", "2.1.0", "--history", str(history)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("can-i-deploy client 1.0.0 with gateway 2.1.0: yes")

    # merging two shard files through the CLI, writing markdown and html
    first, second = tmp_path / "s1.json", tmp_path / "s2.json"
    first.write_text(render_json(replace(results, cells=results.cells[:3])))
    second.write_text(render_json(replace(results, cells=results.cells[3:])))
    md, merged = tmp_path / "out.md", tmp_path / "merged.json"
    argv = [
        "report",
        "--results",
        str(first),
        "--results",
        str(second),
        "--md",
        str(md),
        "--json",
        str(merged),
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"wrote {merged}\nwrote {md}\n"
    assert load_json(merged) == results
    assert "| **1.0.0** | 🟩 ✓ 2✓ | 🟥 ✗ 1✗ 1✓ | ⬜ x 1x 1- |" in md.read_text()

    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 0}')
    assert main(["gate", "--results", str(bad)]) == 1
    assert "schema_version is 0" in capsys.readouterr().err


def test_report_records_the_stale_rule_only_when_relaxed(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    source, strict, relaxed = tmp_path / "r.json", tmp_path / "strict.json", tmp_path / "relaxed.json"
    source.write_text(render_json(lit.sample()))
    assert main(["report", "--results", str(source), "--json", str(strict)]) == 0
    assert main(["report", "--results", str(source), "--json", str(relaxed), "--allow-stale"]) == 0
    assert "allow_stale" not in load_json(strict).meta  # the default: stale blocks
    assert load_json(relaxed).meta["allow_stale"] is True
