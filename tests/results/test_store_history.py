"""compat history over the results store: flips since the release run, flake rate per cell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from results_cli import main

from compat.results.history import FlakeRate, flake_rates, flip_lines, flips
from compat.results.jsonfile import render_json
from compat.results.model import RunResults, Verdict
from compat.results.store import HistoryPoint, open_store, record_run

if TYPE_CHECKING:
    from sample_results import Literals




def run(lit: Literals, s01: Verdict, s02: Verdict, *, extra: bool = False) -> RunResults:
    cells = [
        lit.cell("1.0.0", "2.0.0", "obx", lit.sr("S01", s01), lit.sr("S02", s02)),
        lit.cell("1.0.0", "2.0.0", "tlx", lit.sr("S01", Verdict.PASS)),
    ]
    if extra:
        cells.append(lit.cell("1.1.0", "2.0.0", "obx", lit.sr("S01", Verdict.PASS)))
    return RunResults(cells=tuple(cells))


def point(run_id: int, verdict: str, scenario: str = "S01", venue: str = "obx", cell: str = "c1") -> HistoryPoint:
    return HistoryPoint(run_id, "", None, None, venue, cell, scenario, verdict, 0.0)


def test_flips_compare_the_same_cell_and_scenario(lit: Literals) -> None:
    release = run(lit, Verdict.PASS, Verdict.PASS)
    now = run(lit, Verdict.FAIL, Verdict.PASS, extra=True)
    assert [(f.venue, f.scenario, f.before, f.after) for f in flips(release, now)] == [("obx", "S01", "pass", "fail")]
    assert flip_lines(release, now) == [
        "  client-1.0.0--gateway-2.0.0 [obx]: pass → fail (S01: pass → fail)",
        "  1 cell(s) not in the release run (new versions or venues): not compared",
    ]
    assert flip_lines(now, release) == [
        "  client-1.0.0--gateway-2.0.0 [obx]: fail → pass (S01: fail → pass)",
        "  1 cell(s) of the release run not run since: not compared",
    ]
    assert flip_lines(release, release) == ["  no cell flipped"]


def test_flake_rate_counts_runs_with_a_flaky_or_changed_verdict() -> None:
    points = [
        point(1, "pass"), point(2, "fail"), point(3, "fail"), point(4, "pass"), point(5, "pass"),
        point(1, "pass", "S02"), point(2, "pass", "S02"), point(3, "flaky", "S02"), point(4, "pass", "S02"),
        point(5, "pass", "S02"),
        point(1, "flaky", cell="c2"), point(2, "pass", cell="c2"),
        point(1, "pass", cell="c3"), point(2, "pass", cell="c3"),
    ]  # fmt: skip
    rates = flake_rates(reversed(points))  # input order does not matter
    # c1: run 2 (S01 pass→fail), run 3 (S02 flaky), run 4 (S01 fail→pass; S02 flaky→pass is no change)
    assert rates[0] == FlakeRate("obx", "c1", 5, 3, (("S01", 2), ("S02", 1)))
    assert rates[0].line() == "    60%  3/5 runs  c1 [obx]  (S01 2, S02 1)"
    assert rates[1] == FlakeRate("obx", "c2", 2, 1, (("S01", 1),))  # a first run that was flaky counts
    assert rates[2] == FlakeRate("obx", "c3", 2, 0, ())
    assert rates[2].rate == 0.0


def test_history_cli_shows_flips_since_release_and_flake_rates(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.db")
    assert main(["history", "--store", db]) == 1
    assert f"no results store at {db}: runs are recorded there by `pytest -m compat`" in capsys.readouterr().err
    open_store(db).close()
    assert main(["history", "--store", db]) == 0
    assert "holds no run yet" in capsys.readouterr().out
    with open_store(db) as store:
        store.record(run(lit, Verdict.PASS, Verdict.PASS), label=None)
    assert main(["history", "--store", db]) == 0
    assert "no run of matrix legacy is labelled 'release' yet" in capsys.readouterr().out

    path = tmp_path / "release.json"
    path.write_text(render_json(run(lit, Verdict.PASS, Verdict.PASS)))
    assert main(["history", "add", "--store", db, "--results", str(path), "--label", "release", "--git-sha", "r1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"recorded run 2 of matrix legacy in {db} (label release)",
        "  the results name no matrix (meta.matrix: recorded by an older compat), so the run is legacy; "
        "pass --matrix ID to record it with its matrix",
    ]
    assert main(["history", "flips", "--store", db]) == 0
    assert "the newest run is the release run (run 2 (release, r1, " in capsys.readouterr().out

    with open_store(db) as store:
        store.record(run(lit, Verdict.FLAKY, Verdict.PASS))
        store.record(run(lit, Verdict.FAIL, Verdict.PASS))
    assert main(["history", "--store", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"results store {db}: 4 runs of matrix legacy; newest run 4 (")
    assert out[1].startswith("flipped since the last release run, run 2 (release, r1, ")
    assert out[2] == "  client-1.0.0--gateway-2.0.0 [obx]: pass → fail (S01: pass → fail)"
    assert out[3] == (
        "flake rate per cell over the last 4 runs (runs where a scenario was flaky or differed from its previous run):"
    )
    assert out[4] == "    50%  2/4 runs  client-1.0.0--gateway-2.0.0 [obx]  (S01 2)"
    assert out[5] == "  1 of 2 cells steady"

    assert main(["history", "list", "--store", db, "--limit", "2"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ["4", "3"]
    assert listed[0].endswith("2 cells, 3 scenarios, 1 blocking")

    fresh = tmp_path / "fresh.json"
    fresh.write_text(render_json(run(lit, Verdict.PASS, Verdict.ERROR)))
    assert main(["history", "flips", "--store", db, "--results", str(fresh)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("→ the given results:") and out[2].endswith("(S02: pass → error)")


def test_record_run_is_what_the_plugin_calls(lit: Literals, tmp_path: Path) -> None:
    results = run(lit, Verdict.PASS, Verdict.PASS)
    line = record_run(results, None, tmp_path / ".compat" / "results.db", label="nightly", root=tmp_path)
    db = tmp_path / ".compat" / "results.db"
    assert line == f"compat store: recorded run 1 of matrix legacy in {db} (label nightly)"
    assert record_run(results, "none", tmp_path / "unused.db") == ""
    assert not (tmp_path / "unused.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_text("not a database " * 100)
    assert record_run(results, str(junk)).startswith("compat store: run NOT recorded: results store ")
    with open_store(tmp_path / ".compat" / "results.db") as store:
        assert store.runs()[0].label == "nightly"
