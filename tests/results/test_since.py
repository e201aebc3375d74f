"""What changed since the last release run (``compat.results.since``): flips both ways against
the newest run of the same matrix labelled release in a real SQLite store, kept in
``meta.since_release`` so every report says the same; and why nothing was compared."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from compat.cli.results import register
from compat.results.history import Flip
from compat.results.jsonfile import load_json, render_json
from compat.results.model import RunResults, Verdict
from compat.results.since import (
    META_KEY,
    SinceRelease,
    compare,
    direction,
    from_meta,
    since_release,
    stamp,
)
from compat.results.store import open_store

if TYPE_CHECKING:
    from sample_results import Literals


def run(lit: Literals, s01: Verdict, s02: Verdict, matrix: str = "matrix.yaml", extra: bool = False) -> RunResults:
    cells = [lit.cell("1.0.0", "2.0.0", "obx", lit.sr("S01", s01), lit.sr("S02", s02)),
             lit.cell("1.0.0", "2.0.0", "tlx", lit.sr("S01", Verdict.PASS))]
    if extra:
        cells.append(lit.cell("1.1.0", "2.0.0", "obx", lit.sr("S01", Verdict.PASS)))
    return RunResults(cells=tuple(cells), meta={"matrix": {"id": matrix, "path": matrix, "sha256": "a"}})


def test_a_flip_goes_worse_better_or_changes_kind() -> None:
    def way(before: str, after: str) -> str:
        return direction(Flip("obx", "c", "s", before, after))

    assert [way("pass", "fail"), way("pass", "error"), way("pass", "n/a"), way("expected-fail", "stale")] == \
        ["worse"] * 4
    assert [way("fail", "pass"), way("error", "expected-fail"), way("flaky", "pass")] == ["better"] * 3
    assert way("fail", "error") == "changed"


def test_flips_both_ways_worse_cells_first(lit: Literals) -> None:
    release = run(lit, Verdict.FAIL, Verdict.PASS)
    now = run(lit, Verdict.PASS, Verdict.ERROR, extra=True)
    since = compare(release, now, "run 4 (release, 0123abc, 2026-12-01T10:00:00Z)")
    assert [(f.scenario, f.before, f.after) for f in since.flips] == [("S01", "fail", "pass"), ("S02", "pass", "error")]
    assert (len(since.worse), len(since.better), since.new_cells, since.gone_cells) == (1, 1, 1, 0)
    assert since.headline() == (
        "since the last release run, run 4 (release, 0123abc, 2026-12-01T10:00:00Z): 2 scenarios flipped in 1 cell "
        "(1 worse, 1 better); 1 new cell not compared")
    (cell,) = since.cells()
    assert cell.direction == "worse"  # one scenario got worse: the cell is listed with the worse ones
    assert cell.line() == "client-1.0.0--gateway-2.0.0: S01 fail → pass, S02 pass → error"
    assert compare(now, now, "run 5").headline() == "since the last release run, run 5: no scenario flipped"


def test_the_comparison_travels_in_the_json_report(lit: Literals, tmp_path: Path) -> None:
    since = compare(run(lit, Verdict.PASS, Verdict.PASS), run(lit, Verdict.FAIL, Verdict.PASS), "run 1")
    path = tmp_path / "r.json"
    path.write_text(render_json(stamp(run(lit, Verdict.FAIL, Verdict.PASS), since)))
    assert json.loads(path.read_text())["meta"][META_KEY]["flips"][0]["after"] == "fail"
    assert from_meta(load_json(path).meta) == since
    assert from_meta({}) is None and stamp(run(lit, Verdict.PASS, Verdict.PASS), None).meta.get(META_KEY) is None


def test_against_the_last_release_run_of_the_same_matrix(lit: Literals, tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    assert since_release(run(lit, Verdict.PASS, Verdict.PASS), db, db) == SinceRelease(
        note=f"no release run to compare with (no results store at {db})")
    with open_store(db) as store:
        store.record(run(lit, Verdict.PASS, Verdict.PASS), label="release")  # run 1: the release run
        store.record(run(lit, Verdict.FAIL, Verdict.FAIL))  # run 2: not a release: never the baseline
        store.record(run(lit, Verdict.FAIL, Verdict.PASS, matrix="other.yaml"), label="release")  # another matrix
    since = since_release(run(lit, Verdict.FAIL, Verdict.PASS), db, db)
    assert since is not None and since.baseline is not None and since.baseline.startswith("run 1 (release, ")
    assert [(f.scenario, f.before, f.after) for f in since.flips] == [("S01", "pass", "fail")]
    other = since_release(run(lit, Verdict.PASS, Verdict.PASS, matrix="new.yaml"), db, db)
    assert other is not None and other.baseline is None
    assert other.note == (f"no run of matrix new.yaml in {db} is labelled 'release' yet "
                          "(record one: pytest --compat-label release, or --label release)")
    assert other.headline().startswith("since the last release run: no run of matrix new.yaml")


def test_a_shard_or_no_store_is_not_compared(lit: Literals, tmp_path: Path) -> None:
    shard = run(lit, Verdict.PASS, Verdict.PASS)
    shard = replace(shard, meta={**shard.meta, "shard": {"index": 1, "count": 2}})
    assert since_release(shard, tmp_path / "db", tmp_path / "db") is None
    assert since_release(run(lit, Verdict.PASS, Verdict.PASS), "none", tmp_path / "db") is None
    unreadable = tmp_path / "junk.db"
    unreadable.write_text("not a database")
    found = since_release(run(lit, Verdict.PASS, Verdict.PASS), unreadable, unreadable)
    assert found is not None and found.baseline is None and (found.note or "").startswith("no release run to compare")


def test_an_old_or_odd_record_reads_leniently() -> None:
    since = SinceRelease.from_dict({"flips": [{"venue": "obx", "cell_id": "c", "scenario": "s", "before": "pass",
                                               "after": "fail"}, "junk"], "baseline": "run 3"})
    assert since.label == "release" and len(since.flips) == 1 and since.baseline == "run 3"


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="compat")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_merge_and_report_with_a_store_compare_with_the_last_release_run(
    lit: Literals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    db, released, now = tmp_path / "r.db", tmp_path / "released.json", tmp_path / "now.json"
    released.write_text(render_json(run(lit, Verdict.PASS, Verdict.PASS)))
    now.write_text(render_json(run(lit, Verdict.FAIL, Verdict.PASS)))
    out, md = tmp_path / "merged.json", tmp_path / "merged.md"
    _main(["merge", str(released), "--output", str(out), "--store", str(db), "--label", "release"])
    assert from_meta(load_json(out).meta) == SinceRelease(
        note=f"no run of matrix matrix.yaml in {db} is labelled 'release' yet "
             "(record one: pytest --compat-label release, or --label release)")
    _main(["merge", str(now), "--output", str(out), "--md", str(md), "--store", str(db)])
    since = from_meta(load_json(out).meta)
    assert since is not None and since.baseline is not None and since.baseline.startswith("run 1 (release, ")
    assert [(f.scenario, f.before, f.after) for f in since.flips] == [("S01", "pass", "fail")]
    assert "- 🔻 `client-1.0.0--gateway-2.0.0` [obx]: **S01** pass → fail" in md.read_text()
    capsys.readouterr()
    # a report rendered again later compares with the store too (run 2 is not a release run)
    assert _main(["report", "--results", str(now), "--store", str(db), "--md", str(md)]) == 0
    assert "**Since the last release run:** run 1 (release, " in md.read_text()
