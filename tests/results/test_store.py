from __future__ import annotations

import multiprocessing
import os
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from compat.errors import ResultsError
from compat.report.demo import demo_results
from compat.results.model import RunResults, Verdict
from compat.results.store import DEFAULT_STORE, open_store, redact

if TYPE_CHECKING:
    from sample_results import Literals


def test_records_runs_and_reads_them_back_losslessly(results: RunResults, tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        first = store.record(results, label="release")
        second = store.record(results, git_sha="feedbeef")
        assert second == first + 1
        assert store.load(first) == results
        newest, oldest = store.runs()
        assert (newest.run_id, newest.git_sha, newest.label) == (second, "feedbeef", None)
        assert (oldest.git_sha, oldest.label) == ("0123abc", "release")  # meta.git_sha by default
        assert (oldest.cells, oldest.scenarios, oldest.blocking) == (6, 10, 3)
        assert [r.run_id for r in store.runs(label="release")] == [first]
        assert [r.run_id for r in store.runs(limit=1)] == [second]
        assert oldest.describe().startswith(f"run {first} (release, 0123abc, ")
        with pytest.raises(ResultsError, match="holds no run 99"):
            store.load(99)


def test_latest_for_pair_normalises_versions_and_skips_candidates(lit: Literals, tmp_path: Path) -> None:
    with open_store(f"sqlite:{tmp_path / 'r.db'}") as store:
        old = store.record(RunResults(cells=(lit.cell("2.0.0", "2.1.0", "obx", lit.sr("S01", Verdict.FAIL)),)))
        new = store.record(
            RunResults(
                cells=(
                    lit.cell("2.0.0", "2.1.0", "tlx", lit.sr("S01", Verdict.PASS)),
                    lit.cell("9.0.0", "9.0.0", "obx", lit.sr("S01", Verdict.PASS)),
                )
            )
        )
        candidate = lit.cell("2.0.0", "2.1.0", "obx", lit.sr("S01", Verdict.PASS))
        candidate = replace(candidate, cell_id="client-2.0.0+candidate--gateway-2.1.0--venue-obx")
        newest = store.record(RunResults(cells=(candidate,)))

        found = store.latest_for_pair("2.0", "2.1.0", "obx")
        assert found is not None and found[0].run_id == old  # the candidate is not the release 2.0.0
        assert [c.venue for c in found[1]] == ["obx"]
        found = store.latest_for_pair("2.0.0", "2.1", None)
        assert found is not None and found[0].run_id == new and [c.venue for c in found[1]] == ["tlx"]
        found = store.latest_for_pair("2.0.0", "2.1.0", "obx", include_candidates=True)
        assert found is not None and found[0].run_id == newest
        assert store.latest_for_pair("2.0.0", "2.1.0", "nowhere") is None
        assert store.latest_for_pair("3.0.0", "2.1.0") is None


def test_cell_history_and_mean_durations(lit: Literals, tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        for verdict, seconds in ((Verdict.PASS, 1.0), (Verdict.FAIL, 2.0), (Verdict.PASS, 4.5)):
            store.record(
                RunResults(
                    cells=(
                        lit.cell(
                            "1.0.0",
                            "2.0.0",
                            "obx",
                            lit.sr("S01", verdict, duration_s=seconds),
                            lit.sr("S02", Verdict.PASS, duration_s=0.5),
                        ),
                    )
                ),
                label=None,
            )
        points = store.cell_history("client-1.0.0--gateway-2.0.0", "S01")
        assert [(p.run_id, p.verdict, p.duration_s) for p in points] == [
            (1, "pass", 1.0),
            (2, "fail", 2.0),
            (3, "pass", 4.5),
        ]
        assert len(store.cell_history("client-1.0.0--gateway-2.0.0")) == 6
        assert store.durations() == {"client-1.0.0--gateway-2.0.0": round((1.5 + 2.5 + 5.0) / 3, 3)}
        assert store.durations(last_runs=1) == {"client-1.0.0--gateway-2.0.0": 5.0}
        assert [p.run_id for p in store.observations(last_runs=2)] == [2, 2, 3, 3]


def test_a_cached_result_is_kept_but_not_counted_as_an_observation(lit: Literals, tmp_path: Path) -> None:
    """A verdict reused from the verdict cache was observed by the run it came from: the run's
    document keeps it (marked), flips, flake rates, durations and pair lookups do not see it again."""
    origin = {"run_id": "20260101T000000Z-1", "date": "2026-01-01T00:00:00Z", "duration_s": 2.0}
    with open_store(tmp_path / "r.db") as store:
        fresh = store.record(RunResults(cells=(lit.cell("1.0.0", "2.0.0", "obx", lit.sr("S01", Verdict.PASS,
                                                                                         duration_s=2.0)),)))
        reused = RunResults(cells=(lit.cell("1.0.0", "2.0.0", "obx",
                                            replace(lit.sr("S01", Verdict.PASS), cached_from=origin),
                                            lit.sr("S02", Verdict.FAIL, duration_s=1.0)),))
        warm = store.record(reused)
        assert store.load(warm) == reused and store.run(warm).scenarios == 2
        assert [(p.run_id, p.scenario) for p in store.observations()] == [(fresh, "S01"), (warm, "S02")]
        assert store.durations() == {"client-1.0.0--gateway-2.0.0": 1.5}


def _writer(path: str, rounds: int) -> list[int]:
    small = demo_results(2, 2, ("obx",))
    with open_store(path) as store:
        return [store.record(small, git_sha=f"w{os.getpid()}") for _ in range(rounds)]


def test_concurrent_writers_in_separate_processes_on_a_fresh_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        ids = [i for chunk in pool.starmap(_writer, [(path, 5)] * 4) for i in chunk]
    assert sorted(ids) == list(range(1, 21))
    with open_store(path) as store:
        assert all(run.scenarios == 24 for run in store.runs())
        assert len(store.observations()) == 20 * 24


def test_unusable_stores_get_clear_errors(tmp_path: Path, results: RunResults) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database " * 100)
    with pytest.raises(ResultsError, match=r"junk.db: DatabaseError: file is not a database; if the file is not"):
        open_store(junk)
    newer = tmp_path / "newer.db"
    open_store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE compat_schema SET version = 7")
    with pytest.raises(ResultsError, match="has schema version 7, this compat reads version 2"):
        open_store(newer)
    with pytest.raises(ResultsError, match="unknown scheme"):
        open_store("mysql://u:pw@h/db")
    with open_store(tmp_path / "dup.db") as store:
        doubled = replace(results, cells=results.cells[:1] * 2)
        with pytest.raises(ResultsError, match="appears twice in the results; merge shards"):
            store.record(doubled)
        assert store.runs() == []  # nothing half-written


def test_default_location_and_redaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(None) as store:
        assert store.where == str(DEFAULT_STORE) and not store.postgres
    assert (tmp_path / ".compat" / "results.db").is_file()
    assert redact("postgresql://ci:s3cret@db.internal:5432/compat") == "postgresql://ci:***@db.internal:5432/compat"
    assert redact("postgresql://ci@db/compat") == "postgresql://ci@db/compat"
