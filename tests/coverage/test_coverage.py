"""``compat coverage``: sampling, judging, the report and history, and a sampled run on refgw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compat.artifacts.protomutants import Mutant, enumerate_mutants, read_shipped_schema
from compat.coverage.report import append_history, history_lines, read_history, render_markdown
from compat.coverage.runner import ColumnRun, ColumnSpec, Judgement, MutantCache, judge
from compat.coverage.suite import Coverage, MutantResult, choose
from compat.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "wheelhouse" / "refgw-3.0.0-py3-none-any.whl"


def test_a_sample_is_seeded_mixes_the_kinds_and_keeps_schema_order() -> None:
    mutants = enumerate_mutants(read_shipped_schema(GATEWAY))
    sample = choose(mutants, 8, seed=3)
    assert len(sample) == 8 and sample == choose(mutants, 8, seed=3) != choose(mutants, 8, seed=4)
    assert {m.kind for m in sample} == {"drop", "renumber", "narrow", "enum-add"}
    order = [m.id for m in mutants]
    assert [m.id for m in sample] == sorted((m.id for m in sample), key=order.index)
    assert choose(mutants, None, 0) == mutants == choose(mutants, 10_000, 0)


def run(verdicts: dict[str, str]) -> ColumnRun:
    keys = {name: ("tlx", "3.1.0.dev0+candidate", "3.1.0.dev0+coverage.candidate", name) for name in verdicts}
    return ColumnRun({keys[n]: v for n, v in verdicts.items()}, {keys[n]: f"t::{n}" for n in verdicts},
                     {keys[n]: f"{v} in {n}" for n, v in verdicts.items()}, 1.5, 0)


def test_killed_means_red_where_the_baseline_was_not() -> None:
    baseline = run({"logon": "pass", "fill": "pass", "halt": "expected-fail", "broken": "fail", "amend": "pass"})
    killed = judge(baseline, run({"logon": "pass", "fill": "fail", "halt": "stale", "broken": "fail"}))
    assert killed.killed and not killed.as_error_only
    assert [line.split(":")[0] for line in killed.by] == ["fail", "stale"] and "fill" in killed.by[0]
    survived = judge(baseline, run({"logon": "pass", "fill": "pass", "broken": "fail", "amend": "n/a"}))
    assert not survived.killed and survived.only_na == ("client 3.1.0.dev0+candidate × gateway "
                                                        "3.1.0.dev0+coverage.candidate [tlx] amend",)
    errors = judge(baseline, run({"logon": "error"}))
    assert errors.killed and errors.as_error_only


def test_judgements_and_baselines_are_cached_by_key(tmp_path: Path) -> None:
    cache = MutantCache(tmp_path)
    assert cache.get("k") is None
    cache.put("k", Judgement(True, ("fail: x",), seconds=2.0))
    assert cache.get("k") == Judgement(True, ("fail: x",), seconds=2.0)
    baseline = run({"logon": "pass"})
    cache.put_baseline("k", baseline)
    assert cache.get_baseline("k") == baseline
    assert MutantCache(tmp_path, read=False).get("k") is None  # --fresh judges again
    (tmp_path / "bad.json").write_text("{not json")
    assert cache.get("bad") is None


def coverage(results: tuple[MutantResult, ...], seed: int | None = 1) -> Coverage:
    return Coverage("gateway", "refgw", "3.1.0.dev0", "0" * 64, enumerated=312, results=results, seed=seed,
                    finished_at="2026-11-25T10:00:00Z")


def test_the_report_names_what_no_scenario_notices(tmp_path: Path) -> None:
    results = (
        MutantResult(Mutant("drop", "refgw.proto", "ExecutionReport.cum_qty"), Judgement(False)),
        MutantResult(Mutant("narrow", "refgw.proto", "ExecutionReport.cum_qty", "int64 → int32"), Judgement(False)),
        MutantResult(Mutant("drop", "refgw.proto", "ExecutionReport.last_price_ticks"),
                     Judgement(True, ("fail: … partial_then_full_fill",))),
        MutantResult(Mutant("enum-add", "refgw.proto", "Side", "COMPAT_MUTANT_SIDE = 3"), Judgement(False)),
    )
    found = coverage(results)
    assert found.score == 0.25 and found.killed == 1
    assert found.uncovered() == [
        "ExecutionReport.cum_qty: no scenario fails when it is removed or is narrowed (int64 → int32)",
        "Side: no scenario fails when it gains a value (COMPAT_MUTANT_SIDE = 3)",
    ]
    md = render_markdown(found)
    assert "**Suite strength 25%**" in md and "a sample of 4 of 312 mutants (seed 1)" in md
    assert "- ExecutionReport.cum_qty: no scenario fails when it is removed" in md
    history = tmp_path / "history.jsonl"
    append_history(found, history)
    append_history(coverage(results[2:3], seed=None), history)
    lines = history_lines(read_history(history))
    assert lines[0].endswith("25% (1/4 killed; sample 4/312, seed 1)")
    assert "100% (+75%)" in lines[1]
    history.write_text("{}\n")
    with pytest.raises(ConfigError, match=r"history\.jsonl:1: a coverage history line needs a score"):
        read_history(history)


def test_the_column_is_the_candidate_narrowed_to_counterparts_and_venues(tmp_path: Path) -> None:
    spec = ColumnSpec(project=ROOT, matrix=ROOT / "matrix.yaml", role="gateway", counterparts=("3.0.0", "*+candidate"),
                      venues=("tlx",))
    assert spec.cell_globs() == ["client-3.0.0--gateway-*coverage.candidate--venue-tlx",
                                 "client-*+candidate--gateway-*coverage.candidate--venue-tlx"]
    client = ColumnSpec(project=ROOT, matrix=ROOT / "matrix.yaml", role="client")
    assert client.cell_globs() == ["client-*coverage.candidate--gateway-*--venue-*"]
    assert spec.fingerprint({"x": "1"}) != spec.fingerprint({"x": "2"}) == spec.fingerprint({"x": "2"})


@pytest.mark.slow
@pytest.mark.integration
def test_compat_coverage_sample_on_refgw_runs_bounded_and_caches(tmp_path: Path) -> None:
    """The CI mode: a sample of refgw's candidate's mutants, one venue, the head client, a few
    scenarios; a second run reuses every judgement."""
    cache, reports = tmp_path / "cache", tmp_path / "reports"
    argv = [sys.executable, "-m", "compat.cli", "coverage", "--sample", "3", "--seed", "7", "--venue", "tlx",
            "--counterpart", "*+candidate", "-k", "logon or partial_then_full_fill or cancel",
            "--mutant", "drop:ExecutionReport.last_price_ticks", "--mutant", "enum-add:Side",
            "--mutant", "narrow:InsertOrder.qty", "--mutant", "renumber:LogonResponse.capabilities",
            "--cache-dir", str(cache), "--report-dir", str(reports)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPAT_", "PYTEST_"))}
    first = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    data = json.loads((reports / "coverage.json").read_text())
    assert data["package"] == "refgw" and data["run"] == 3 and data["enumerated"] > 200 and data["seed"] == 7
    by_id = {m["id"]: m for m in data["mutants"]}
    # the sample takes the kinds in turn: the drop, the renumber and the narrowing, not the enum value
    assert set(by_id) == {"drop:ExecutionReport.last_price_ticks", "narrow:InsertOrder.qty",
                          "renumber:LogonResponse.capabilities"}
    # partial_then_full_fill asserts the fill price, which the dropped field carried
    assert by_id["drop:ExecutionReport.last_price_ticks"]["killed"], by_id
    assert "partial_then_full_fill" in by_id["drop:ExecutionReport.last_price_ticks"]["by"][0]
    assert 0 <= data["score"] <= 1 and "Suite strength" in (reports / "coverage.md").read_text()
    second = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:]
    assert second.stdout.count("(cached)") == 3, second.stdout
    history = read_history(cache / "coverage" / "history.jsonl")
    assert [r["score"] for r in history] == [data["score"]] * 2
