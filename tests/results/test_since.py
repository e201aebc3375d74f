"""What changed since the last release run (``compat.results.since``): flips both ways against
the newest run of the same matrix labelled release in a real SQLite store, kept in
``meta.since_release`` so every report says the same; and why nothing was compared."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

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
                          "(record one with --compat-label release)")
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
