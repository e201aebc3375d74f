from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compat.errors import MergeConflict, ResultsError, SchemaVersionError
from compat.results.jsonfile import load_json, merge, merge_files, parse_report, render_json
from compat.results.model import SCHEMA_VERSION, RunResults, Verdict

if TYPE_CHECKING:
    from sample_results import Literals


def test_json_carries_schema_version_verdicts_reasons_and_figures(results: RunResults) -> None:
    doc = json.loads(render_json(results))
    assert list(doc)[:2] == ["schema_version", "summary"]
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["summary"]["verdicts"] == {
        "error": 1,
        "fail": 1,
        "stale": 1,
        "flaky": 1,
        "expected-fail": 1,
        "pass": 4,
        "n/a": 1,
    }
    assert doc["summary"]["blocking"] == 3
    failing = doc["cells"][1]
    assert failing["verdict"] == "fail"
    s13 = failing["scenarios"][1]
    assert s13["verdict"] == "fail" and s13["duration_s"] == 1.5
    assert doc["logs"][s13["log_tails"]["gateway"]].endswith("decoded as sint64")  # stored once, by key
    assert s13["wire"][3] == {
        "direction": "in",
        "msg_type": "ExecutionReport",
        "fields": {"status": "ACCEPTED", "price_ticks": 20050, "seq": 7},
        "t_ns": 4,
    }
    xfail = doc["cells"][2]["scenarios"]
    assert xfail[0]["reason"] == "C1 cannot log on to G10 (min protocol 3)"
    assert xfail[1] == {**xfail[1], "verdict": "n/a", "reason": "capability md.incremental missing"}
    assert doc["cells"][0]["bench"]["p99_us"] == 120.0
    assert doc["envs"][0]["wheel_sha256"] == "a" * 64


def test_json_round_trips_exactly(results: RunResults, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(render_json(results), encoding="utf-8")
    assert load_json(path) == results


def test_load_json_rejects_other_schema_version(results: RunResults, tmp_path: Path) -> None:
    doc = json.loads(render_json(results))
    doc["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SchemaVersionError, match=r"future.json: schema_version is 99, this compat reads"):
        load_json(path)


def test_load_json_names_file_and_line_of_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"schema_version": 1,\n  oops}')
    with pytest.raises(ResultsError, match=r"bad.json:2:3: not valid JSON"):
        load_json(path)


def test_render_json_explains_non_json_values(results: RunResults) -> None:
    broken = replace(results, meta={"blob": b"\x00"})
    with pytest.raises(ResultsError, match="not JSON-able"):
        render_json(broken)


def _split(results: RunResults) -> list[RunResults]:
    """Three shards: cells split, and one cell's scenarios split across two shards."""
    cells = results.cells
    first = replace(cells[1], scenarios=cells[1].scenarios[:1])
    second = replace(cells[1], scenarios=cells[1].scenarios[1:], hosts={"client": "local"})
    return [
        replace(results, cells=(cells[0], first), envs=results.envs[:1], finished_at="2026-11-25T16:01:00Z"),
        replace(results, cells=(second, *cells[2:4]), envs=results.envs, started_at="2026-11-25T16:02:00Z"),
        replace(results, cells=cells[4:], envs=(), meta={}),
    ]


def test_merge_of_shards_is_lossless(results: RunResults) -> None:
    merged = merge(_split(results))
    expected_hosts = {**results.cells[1].hosts, "client": "local"}
    assert merged.cells[1].hosts == expected_hosts
    assert (
        replace(merged, cells=(merged.cells[0], replace(merged.cells[1], hosts={}), *merged.cells[2:]))
        == results
    )
    # and through JSON files, as CI shards arrive
    assert parse_report(json.loads(render_json(merged))) == merged


def test_merge_of_one_is_identity_and_duplicates_collapse(results: RunResults) -> None:
    assert merge([results]) == results
    assert merge([results, results]) == results


def test_merge_conflict_names_both_shards_and_the_field(results: RunResults, tmp_path: Path) -> None:
    other = replace(
        results,
        cells=(
            replace(
                results.cells[0], scenarios=(replace(results.cells[0].scenarios[0], verdict=Verdict.FAIL),)
            ),
        ),
    )
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(render_json(results))
    b.write_text(render_json(other))
    with pytest.raises(MergeConflict) as info:
        merge_files([a, b])
    text = str(info.value)
    assert "scenario S01_logon differs between" in text
    assert str(a) in text and str(b) in text
    assert "verdict: 'pass' != 'fail'" in text


def test_merge_rejects_different_matrices_and_meta(results: RunResults) -> None:
    with pytest.raises(MergeConflict, match="different matrix files"):
        merge([results, replace(results, matrix_path="other.yaml")])
    with pytest.raises(MergeConflict, match=r"meta\['git_sha'\]"):
        merge([results, replace(results, meta={"git_sha": "fff"})])


def test_merge_of_nothing_is_an_error() -> None:
    with pytest.raises(ResultsError, match="no shards"):
        merge([])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2), min_size=6, max_size=6))
def test_merge_any_partition_of_cells_restores_them(lit: Literals, assignment: list[int]) -> None:
    results = lit.sample()
    shards = [
        replace(results, cells=tuple(c for c, a in zip(results.cells, assignment, strict=True) if a == k))
        for k in range(3)
    ]
    merged = merge(shards)
    assert sorted(merged.cells, key=lambda c: (c.venue, c.cell_id)) == sorted(
        results.cells, key=lambda c: (c.venue, c.cell_id)
    )
    assert replace(merged, cells=()) == replace(results, cells=())
