"""The results store keeps each matrix's runs apart: history, flake rates, flips, can-i-deploy
and durations of one matrix never see another's runs; a store of the previous schema is
migrated and keeps its rows; the plugin stamps every run with its matrix."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from store_v1 import write_v1_store

from compat.cli import main
from compat.errors import CompatError, ResultsError
from compat.results.collect import ResultsCollector
from compat.results.history import flake_rates, latest_for_pair, store_run
from compat.results.identity import LEGACY, choose_matrix, matrix_identity, matrix_meta, run_matrix
from compat.results.jsonfile import render_json
from compat.results.model import RunResults, Verdict
from compat.results.shards import load_durations
from compat.results.store import STORE_SCHEMA, open_store, record_run

if TYPE_CHECKING:
    from sample_results import Literals


def of(matrix: str, results: RunResults, sha: str = "") -> RunResults:
    """The run as the plugin stamps it: ``meta.matrix``."""
    return replace(results, meta={**results.meta, "matrix": {"id": matrix, "path": matrix, "sha256": sha}})


def one(lit: Literals, verdict: Verdict, seconds: float) -> RunResults:
    """One cell (client 1.0.0 × gateway 2.0.0 on obx), one scenario."""
    return RunResults(cells=(lit.cell("1.0.0", "2.0.0", "obx", lit.sr("S01", verdict, duration_s=seconds)),))


@pytest.fixture
def two(lit: Literals, tmp_path: Path) -> str:
    """A store holding two matrices' runs, interleaved: nightly.yaml passes steadily (runs 1,
    3, 5; run 1 is its release run); edge.yaml fails and passes by turns (runs 2, 4, 6)."""
    db = str(tmp_path / "r.db")
    with open_store(db) as store:
        store.record(of("nightly.yaml", one(lit, Verdict.PASS, 1.0)), label="release", git_sha="n1")
        store.record(of("edge.yaml", one(lit, Verdict.FAIL, 9.0)), git_sha="e1")
        store.record(of("nightly.yaml", one(lit, Verdict.PASS, 1.0)), git_sha="n2")
        store.record(of("edge.yaml", one(lit, Verdict.PASS, 9.0)), label="release", git_sha="e2")
        store.record(of("nightly.yaml", one(lit, Verdict.PASS, 3.0)), git_sha="n3")
        store.record(of("edge.yaml", one(lit, Verdict.FAIL, 9.0)), git_sha="e3")
    return db


def test_queries_over_one_matrix_never_see_the_others_runs(two: str) -> None:
    cell = "client-1.0.0--gateway-2.0.0"
    with open_store(two) as store:
        assert [(m.matrix, m.runs, m.newest_run) for m in store.matrices()] == [
            ("edge.yaml", 3, 6),
            ("nightly.yaml", 3, 5),
        ]
        assert [r.run_id for r in store.runs(matrix="nightly.yaml")] == [5, 3, 1]
        assert [r.run_id for r in store.runs(matrix="nightly.yaml", label="release")] == [1]
        assert store.run(4).matrix == "edge.yaml"
        assert [p.run_id for p in store.observations(matrix="nightly.yaml")] == [1, 3, 5]
        assert [p.run_id for p in store.observations(matrix="nightly.yaml", last_runs=2)] == [3, 5]
        assert [p.verdict for p in store.cell_history(cell, "S01", matrix="edge.yaml")] == ["fail", "pass", "fail"]

        steady = flake_rates(store.observations(matrix="nightly.yaml"))
        assert [(r.runs, r.unsteady_runs) for r in steady] == [(3, 0)]  # mixed, it was 5 of 6 unsteady
        unsteady = flake_rates(store.observations(matrix="edge.yaml"))
        assert [(r.runs, r.unsteady_runs) for r in unsteady] == [(3, 2)]

        found = store.latest_for_pair("1.0.0", "2.0.0", "obx", matrix="nightly.yaml")
        assert found is not None and found[0].run_id == 5 and found[1][0].scenarios[0].verdict is Verdict.PASS
        found = store.latest_for_pair("1.0.0", "2.0.0", "obx", matrix="edge.yaml")
        assert found is not None and found[0].run_id == 6
        assert store.latest_for_pair("1.0.0", "2.0.0", "obx", matrix="other.yaml") is None

        assert store.durations(matrix="nightly.yaml") == {cell: round(5 / 3, 3)}
        assert store.durations(matrix="edge.yaml") == {cell: 9.0}

        # asked without a matrix, a store of several refuses and lists them instead of mixing
        for query in (
            store.observations,
            store.durations,
            lambda: store.cell_history(cell),
            lambda: store.latest_for_pair("1.0.0", "2.0.0"),
        ):
            with pytest.raises(ResultsError) as raised:
                query()
            assert "holds runs of 2 matrices: edge.yaml (3 runs, newest run 6 at " in str(raised.value)
            assert "nightly.yaml (3 runs, newest run 5 at " in str(raised.value)
            assert "the runs of different matrices are never mixed" in str(raised.value)
        assert len(store.runs()) == 6  # a listing names each run's matrix: every run


def test_history_cli_reads_one_matrix(
    lit: Literals,
    two: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no matrix.yaml here
    assert main(["history", "--store", two]) == 1
    err = capsys.readouterr().err
    assert f"error: results store {two} holds runs of 2 matrices and none was chosen: edge.yaml (3 runs," in err
    assert "say which with --matrix ID" in err

    assert main(["history", "--store", two, "--matrix", "nightly.yaml"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"results store {two}: 3 runs of matrix nightly.yaml; newest run 5 (n3, ")
    assert out[1].startswith("  from the runs of matrix nightly.yaml only; the store also holds: edge.yaml (3 runs")
    assert out[2].startswith("flipped since the last release run, run 1 (release, n1, ")
    assert out[3:] == [
        "  no cell flipped",  # edge.yaml's fail (run 6) is not nightly's
        "flake rate per cell over the last 3 runs (runs where a scenario was flaky or differed from its previous run):",
        "  1 of 1 cells steady",
    ]
    assert main(["history", "flips", "--store", two, "--matrix", "edge.yaml"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("flipped since the last release run, run 4 (release, e2, ")
    assert out[3] == "  client-1.0.0--gateway-2.0.0 [obx]: pass → fail (S01: pass → fail)"

    # the default: ./matrix.yaml's identity (here its settings.matrix_name) when the store holds it
    (tmp_path / "matrix.yaml").write_text("settings:\n  matrix_name: edge.yaml\n")
    assert main(["history", "flaky", "--store", two]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"results store {two}: 3 runs of matrix edge.yaml;")
    assert out[-2] == "    67%  2/3 runs  client-1.0.0--gateway-2.0.0 [obx]  (S01 2)"

    # flips of an unrecorded run: compared with the release run of its own matrix
    fresh = tmp_path / "fresh.json"
    fresh.write_text(render_json(of("nightly.yaml", one(lit, Verdict.ERROR, 1.0))))
    assert main(["history", "flips", "--store", two, "--results", str(fresh)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("flipped since the last release run, run 1 (release, n1, ")
    assert out[3] == "  client-1.0.0--gateway-2.0.0 [obx]: pass → error (S01: pass → error)"

    assert main(["history", "--store", two, "--matrix", "nowhere.yaml"]) == 1
    err = capsys.readouterr().err
    assert "holds no run of matrix 'nowhere.yaml'; it holds runs of: edge.yaml (3 runs" in err

    assert main(["history", "list", "--store", two]) == 0  # every run, each naming its matrix
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ["6", "5", "4", "3", "2", "1"]
    assert listed[0].split()[4] == "edge.yaml" and listed[1].split()[4] == "nightly.yaml"
    assert main(["history", "list", "--store", two, "--matrix", "nightly.yaml"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["5", "3", "1"]


def test_can_i_deploy_and_durations_read_one_matrix(
    two: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    pair = ["can-i-deploy", "--client", "1.0.0", "--gateway", "2.0.0", "--venue", "obx", "--store", two]
    assert main(pair) == 1
    assert "holds runs of 2 matrices and none was chosen" in capsys.readouterr().err
    assert main([*pair, "--matrix", "nightly.yaml"]) == 0  # edge.yaml's newer failing run is not nightly's
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "can-i-deploy client 1.0.0 with gateway 2.0.0 on obx: yes (1 pairs work)"
    assert "run 5 (n3, " in out[2]
    assert out[-1].startswith("  from the runs of matrix nightly.yaml only; the store also holds: edge.yaml")
    assert main([*pair, "--matrix", "edge.yaml"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[3:5] == ["NO", "fail"] and "run 6 (e3, " in out[2]

    assert main(["durations", "--store", two, "--matrix", "nightly.yaml"]) == 0
    captured = capsys.readouterr()
    assert captured.out == '{\n  "client-1.0.0--gateway-2.0.0": 1.667\n}\n'  # not 9.0 (edge.yaml)
    assert captured.err.startswith("from the runs of matrix nightly.yaml only; the store also holds: edge.yaml")
    assert main(["durations", "--store", two]) == 1
    assert "holds runs of 2 matrices and none was chosen" in capsys.readouterr().err
    assert main(["durations", "--store", two, "--matrix", "new.yaml"]) == 0  # not run yet: no durations
    captured = capsys.readouterr()
    assert captured.out == "{}\n"
    assert f"no run of matrix new.yaml in {two} yet: every cell weighs the same" in captured.err

    # shard balancing (the plugin): the run's matrix; no choice among several → equal weights
    assert load_durations(two, matrix="edge.yaml") == {"client-1.0.0--gateway-2.0.0": 9.0}
    assert load_durations(two) == {}
    (tmp_path / "matrix.yaml").write_text("settings: {matrix_name: nightly.yaml}\n")
    assert load_durations(two) == {"client-1.0.0--gateway-2.0.0": 1.667}


def test_gate_from_the_store_gates_the_newest_run_of_the_matrix(
    two: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["gate", "--store", two]) == 1
    assert "holds runs of 2 matrices and none was chosen" in capsys.readouterr().err
    (tmp_path / "cl").mkdir()
    (tmp_path / "cl" / "compat_adapter.py").write_text("class Adapter: ...\n")
    nightly = tmp_path / "nightly.yaml"  # a valid matrix: the gate reads its support window too
    nightly.write_text(
        "products:\n"
        "  gateway: {package: refgw, source: gw, launch: [{versions: '>=0', argv: '{bin}/refgw'}]}\n"
        "  client: {package: refclient, source: cl, adapter: cl/compat_adapter.py}\n"
        "venues: [obx]\n"
        "settings: {matrix_name: nightly.yaml}\n"
    )
    assert main(["gate", "--store", two, "--matrix", str(nightly)]) == 0  # run 5, not edge's run 6
    assert capsys.readouterr().out.splitlines()[-1] == (
        "release gate: clear; 1 cells, 1 scenarios: 1✓; stale expectations block"
    )
    assert main(["gate", "--store", two, "--run", "6", "--window", "all"]) == 1


def test_file_history_can_i_deploy_reads_one_matrix(
    lit: Literals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    history = tmp_path / "history"
    store_run(of("nightly.yaml", one(lit, Verdict.PASS, 1.0)), history, git_sha="n1", timestamp="2026-11-21T10:00:00Z")
    store_run(of("edge.yaml", one(lit, Verdict.FAIL, 1.0)), history, git_sha="e1", timestamp="2026-11-22T10:00:00Z")
    found = latest_for_pair(history, "1.0.0", "2.0.0", "obx", matrix="nightly.yaml")
    assert found is not None and found[0].git_sha == "n1"
    pair = ["can-i-deploy", "--client", "1.0.0", "--gateway", "2.0.0", "--history", str(history)]
    assert main(pair) == 1
    assert "history directory" in capsys.readouterr().err
    assert main([*pair, "--matrix", "nightly.yaml"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        f"  from the runs of matrix nightly.yaml only; {history} also holds: edge.yaml (1 run)"
    )


def test_history_add_records_the_run_with_its_matrix(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.db")
    stamped, old = tmp_path / "stamped.json", tmp_path / "old.json"
    stamped.write_text(render_json(of("nightly.yaml", one(lit, Verdict.PASS, 1.0))))
    old.write_text(render_json(one(lit, Verdict.PASS, 1.0)))  # written before meta.matrix existed
    assert main(["history", "add", "--store", db, "--results", str(stamped)]) == 0
    assert capsys.readouterr().out == f"recorded run 1 of matrix nightly.yaml in {db}\n"
    assert main(["history", "add", "--store", db, "--results", str(old), "--matrix", "nightly.yaml"]) == 0
    assert main(["history", "add", "--store", db, "--results", str(old)]) == 0
    assert "so the run is legacy; pass --matrix ID" in capsys.readouterr().out
    named = tmp_path / "m.yaml"
    named.write_text("settings: {matrix_name: named}\n")
    assert main(["history", "add", "--store", db, "--results", str(old), "--matrix", str(named)]) == 0
    assert capsys.readouterr().out == f"recorded run 4 of matrix named in {db}\n"  # a file: its identity
    with open_store(db) as store:
        assert [(r.run_id, r.matrix) for r in store.runs()] == [
            (4, "named"), (3, LEGACY), (2, "nightly.yaml"), (1, "nightly.yaml"),
        ]  # fmt: skip
        assert record_run(of("edge.yaml", one(lit, Verdict.PASS, 1.0)), db).startswith(
            "compat store: recorded run 5 of matrix edge.yaml in "
        )


def test_the_identity_is_the_file_not_its_content(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "ci").mkdir()
    matrix = repo / "ci" / "matrix.yaml"
    matrix.write_text("venues: [obx]\n")
    first = matrix_meta(matrix, tmp_path)
    assert first == {
        "id": "ci/matrix.yaml",  # relative to the work tree, wherever it is checked out
        "path": "ci/matrix.yaml",
        "sha256": hashlib.sha256(b"venues: [obx]\n").hexdigest(),
    }
    matrix.write_text("venues: [obx, tlx]\n")  # an edit keeps the identity, not the sha256
    edited = matrix_meta(matrix, tmp_path)
    assert edited["id"] == "ci/matrix.yaml" and edited["sha256"] != first["sha256"]
    assert matrix_identity(repo / "other.yaml", repo) == "other.yaml"  # another file, another identity
    matrix.write_text("settings:\n  matrix_name: nightly\n")
    assert matrix_identity(matrix) == "nightly"
    outside = tmp_path / "elsewhere" / "m.yaml"  # no work tree, outside root: its absolute path
    assert matrix_identity(outside, repo) == outside.resolve().as_posix()
    matrix.write_text("settings:\n  matrix_name: [a]\n")
    with pytest.raises(CompatError, match=r"settings.matrix_name: expected a non-empty name, got \['a'\]"):
        matrix_identity(matrix)
    assert matrix_meta(matrix, strict=False)["id"] == "ci/matrix.yaml"


def test_the_plugin_stamps_every_run_with_its_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "matrix.yaml").write_text("settings: {}\n")
    collector = ResultsCollector(started_at="2026-11-25T19:00:00Z")
    results = collector.results("2026-11-25T19:01:00Z", str(tmp_path / "matrix.yaml"))
    assert results.meta["matrix"]["id"] == "matrix.yaml" and run_matrix(results) == "matrix.yaml"
    assert run_matrix(RunResults(cells=())) == LEGACY
    assert choose_matrix(None, {"matrix.yaml": "1 run", "b": "1 run"}, where="s") == "matrix.yaml"
    assert choose_matrix(None, {"b": "1 run"}, where="s") == "b"  # the only one
    assert choose_matrix(None, {}, where="s") is None
    assert choose_matrix("matrix.yaml", {"matrix.yaml": "1 run"}, where="s") == "matrix.yaml"


def _v1_runs(lit: Literals) -> list[tuple[RunResults, str | None]]:
    return [
        (replace(lit.sample(), matrix_path="/ci/work/matrix.yaml"), "release"),  # no meta.matrix: legacy
        (of("nightly", one(lit, Verdict.FAIL, 2.0)), None),  # a document that names its matrix keeps it
        (one(lit, Verdict.PASS, 1.0), None),
    ]


def _sqlite_execute(conn: sqlite3.Connection) -> Any:
    def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql, tuple(params)).fetchall())

    return execute


def test_a_store_of_the_previous_schema_is_migrated_and_keeps_its_rows(lit: Literals, tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    runs = _v1_runs(lit)
    ids = write_v1_store(_sqlite_execute(conn), runs, postgres=False)
    conn.commit()
    before = conn.execute("SELECT COUNT(*) FROM compat_results").fetchone()[0]
    conn.close()
    assert before == 10 + 1 + 1

    with open_store(path) as store:
        assert [(r.run_id, r.matrix, r.label) for r in store.runs()] == [
            (ids[2], LEGACY, None),
            (ids[1], "nightly", None),
            (ids[0], LEGACY, "release"),
        ]
        assert [store.load(run_id) for run_id in ids] == [results for results, _ in runs]  # nothing lost
        assert [p.verdict for p in store.cell_history("client-1.0.0--gateway-2.0.0", matrix=LEGACY)] == ["pass"]
        assert len(store.observations(matrix=LEGACY)) == 10 + 1
        new = store.record(of("nightly", one(lit, Verdict.PASS, 1.0)))
        assert [r.run_id for r in store.runs(matrix="nightly")] == [new, ids[1]]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM compat_schema").fetchall() == [(STORE_SCHEMA,)]
    assert conn.execute("SELECT COUNT(*) FROM compat_results").fetchone()[0] == before + 1
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert "compat_runs_matrix" in indexes
    with open_store(path) as again:  # opening a migrated store changes nothing
        assert len(again.runs()) == 4


def test_flips_after_an_edit_of_the_matrix_file_are_its_history_and_say_so(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.db")
    with open_store(db) as store:
        store.record(of("matrix.yaml", one(lit, Verdict.PASS, 1.0), sha="a" * 64), label="release")
        store.record(of("matrix.yaml", one(lit, Verdict.EXPECTED_FAIL, 1.0), sha="b" * 64))
    assert main(["history", "flips", "--store", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"results store {db}: 2 runs of matrix matrix.yaml;")  # one matrix, edited
    assert out[2:] == [
        "  client-1.0.0--gateway-2.0.0 [obx]: pass → expected-fail (S01: pass → expected-fail)",
        f"  the matrix file changed between the two runs (sha256 {'a' * 12} → {'b' * 12}): "
        "a flip may come from the edit",
    ]
