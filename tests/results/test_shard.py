"""Balanced shards and merging them back: N shards give the verdicts of one full run."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_cli import main

from compat.errors import ConfigError, MergeConflict, ResultsError
from compat.report.demo import demo_results
from compat.report.markdown import render_markdown
from compat.results.gate import gate
from compat.results.jsonfile import load_json, render_json
from compat.results.model import RunResults
from compat.results.shards import load_durations, merge_shards, with_shard_meta
from compat.results.store import open_store
from compat.run.shard import balanced_shards, estimates, select_shard


def test_longest_first_onto_the_least_loaded_shard() -> None:
    durations = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 2.0, "f": 1.0}
    # a→1 (5), b→2 (4), c→2 (7), d→1 (8), e→2 (9), f→1 (9): each shard keeps the input order
    assert balanced_shards(["f", "e", "d", "c", "b", "a"], durations, 2) == [["f", "d", "a"], ["e", "c", "b"]]
    for order in itertools.permutations("abcdef"):
        assert [sorted(s) for s in balanced_shards(list(order), durations, 2)] == [["a", "d", "f"], ["b", "c", "e"]]
    # ties between equal durations go by cell id
    assert balanced_shards(["y", "x", "z"], {"x": 1.0, "y": 1.0, "z": 1.0}, 3) == [["x"], ["y"], ["z"]]


def test_without_history_cells_are_dealt_round_robin_in_id_order() -> None:
    ids = [f"cell-{i:02d}" for i in range(10)]
    shards = balanced_shards(list(reversed(ids)), {}, 3)
    assert [len(s) for s in shards] == [4, 3, 3]
    assert sorted(shards[0]) == ["cell-00", "cell-03", "cell-06", "cell-09"]
    assert balanced_shards(["a", "b"], {}, 4) == [["a"], ["b"], [], []]
    assert balanced_shards(["a", "a", "b"], {}, 1) == [["a", "b"]]  # duplicates collapse
    # a cell without history weighs the median of the known ones
    assert estimates(["a", "b", "c", "new"], {"a": 1.0, "b": 2.0, "c": 9.0}) == {
        "a": 1.0,
        "b": 2.0,
        "c": 9.0,
        "new": 2.0,
    }
    with pytest.raises(ConfigError, match="cannot split cells into 0 shards"):
        balanced_shards(ids, {}, 0)
    with pytest.raises(ConfigError, match="--compat-shard 4/3: K must be between 1 and N"):
        select_shard(ids, {}, 4, 3)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.floats(0.01, 500.0), min_size=1, max_size=40),
    st.integers(1, 6),
)
def test_every_cell_once_and_loads_within_one_cell_of_each_other(durations: dict[str, float], count: int) -> None:
    shards = balanced_shards(list(durations), durations, count)
    assert sorted(itertools.chain.from_iterable(shards)) == sorted(durations)
    loads = [sum(durations[c] for c in shard) for shard in shards]
    # greedy LPT: the fullest shard was the emptiest when it took its last cell
    assert max(loads) - min(loads) <= max(durations.values()) + 1e-9
    again = balanced_shards(sorted(durations, reverse=True), durations, count)
    assert [sorted(s) for s in shards] == [sorted(s) for s in again]  # the input order does not matter


def test_balanced_beats_the_hash_split_on_skewed_durations() -> None:
    full = demo_results()
    durations = {
        c.cell_id: sum(s.duration_s for s in c.scenarios) * (20 if "gateway-3" in c.cell_id else 1) for c in full.cells
    }
    ids = sorted(durations)

    def spread(shards: list[list[str]]) -> float:
        loads = [sum(durations[c] for c in s) for s in shards]
        return max(loads) / (sum(loads) / len(loads))

    hashed: list[list[str]] = [[], [], []]
    for cell in ids:  # what compat.run.plan.shard_cells did before
        hashed[int(hashlib.sha256(cell.encode()).hexdigest(), 16) % 3].append(cell)
    assert spread(balanced_shards(ids, durations, 3)) < 1.01 < spread(hashed)


def split(full: RunResults, count: int, durations: dict[str, float]) -> list[RunResults]:
    ids = [c.cell_id for c in full.cells]
    shards = []
    for index in range(1, count + 1):
        chosen, meta = select_shard(ids, durations, index, count)
        keep = set(chosen)
        shard = replace(full, cells=tuple(c for c in full.cells if c.cell_id in keep))
        shards.append(with_shard_meta(shard, meta))
    return shards


def test_three_merged_shards_give_the_verdicts_of_the_full_run(tmp_path: Path) -> None:
    full = demo_results()  # 200 cells, 1200 scenarios, every verdict
    durations = {c.cell_id: sum(s.duration_s for s in c.scenarios) for c in full.cells}
    paths = []
    for n, shard in enumerate(split(full, 3, durations), 1):
        paths.append(tmp_path / f"shard-{n}.json")
        paths[-1].write_text(render_json(shard))
    shards = [load_json(p) for p in paths]
    assert sorted(len(s.cells) for s in shards) == [66, 66, 68]  # ids are shared by the 2 venues
    merged, notes = merge_shards(shards, [str(p) for p in paths])
    assert notes == []

    def key(r: RunResults) -> list[tuple[str, str]]:
        return sorted((c.venue, c.cell_id) for c in r.cells)

    assert key(merged) == key(full)
    by_key = {(c.venue, c.cell_id): c for c in full.cells}
    assert all(cell == by_key[(cell.venue, cell.cell_id)] for cell in merged.cells)  # lossless, every field
    assert merged.meta == {
        **full.meta,
        "shards": {"count": 3, "basis": shards[0].meta["shard"]["basis"], "cells_total": 100},
    }
    assert render_markdown(merged) == render_markdown(full)
    full_code, full_lines = gate(full)
    merged_code, merged_lines = gate(merged)
    assert merged_code == full_code == 1
    assert sorted(merged_lines) == sorted(full_lines)


def test_merge_refuses_an_incomplete_or_inconsistent_shard_set() -> None:
    full = demo_results(4, 4, ("obx",))
    durations = {c.cell_id: 1.0 + i for i, c in enumerate(full.cells)}
    one, two, three = split(full, 3, durations)
    with pytest.raises(ResultsError, match=r"shard 2/3 missing from the merge \(2 of 3 given\)"):
        merge_shards([one, three])
    with pytest.raises(MergeConflict, match="shard 2 and shard 1 are both shard 1/3"):
        merge_shards([one, one, two, three])
    other_basis = split(full, 3, {})[1]  # planned without history: another split
    with pytest.raises(MergeConflict, match=r"shard 2 was planned with basis=.* Pin the durations"):
        merge_shards([one, other_basis, three])
    with pytest.raises(ResultsError, match="shard 2: not a --compat-shard report"):
        merge_shards([one, replace(two, meta={}), three])
    plain, notes = merge_shards([replace(s, meta={}) for s in (one, two, three)])
    assert len(plain.cells) == 16 and notes == [] and "shards" not in plain.meta
    partial, notes = merge_shards([one, replace(two, cells=two.cells[1:]), three])
    assert len(partial.cells) == 15
    assert notes == ["note: 15 of 16 planned cells produced results (a cell whose tests were all deselected has none)"]


def test_load_durations_from_a_file_a_store_or_nothing(tmp_path: Path) -> None:
    assert load_durations(None, tmp_path / "missing.db") == {}
    assert load_durations("none", tmp_path / "missing.db") == {}
    pinned = tmp_path / "durations.json"
    pinned.write_text('{"client-1--gateway-2--venue-obx": 12.5}')
    assert load_durations(str(pinned)) == {"client-1--gateway-2--venue-obx": 12.5}
    pinned.write_text('["not", "a", "mapping"]')
    with pytest.raises(ConfigError, match="expected a JSON object of cell id → seconds"):
        load_durations(str(pinned))
    db = tmp_path / "results.db"
    with open_store(db) as store:
        store.record(demo_results(2, 2, ("obx",)))
    from_default = load_durations(None, db)
    assert from_default == load_durations(str(db)) and len(from_default) == 4


def test_cli_merge_writes_one_report_and_one_gate_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    full = demo_results(10, 10, ("obx",))
    paths = []
    for n, shard in enumerate(split(full, 3, {}), 1):
        paths.append(str(tmp_path / f"s{n}.json"))
        Path(paths[-1]).write_text(render_json(shard))
    out, md, db = tmp_path / "merged.json", tmp_path / "merged.md", tmp_path / "r.db"
    argv = ["merge", *paths, "--output", str(out), "--md", str(md), "--store", str(db), "--label", "ci"]
    code = main(argv)
    lines = capsys.readouterr().out.splitlines()
    assert code == gate(full)[0] == 1  # the demo holds fails and an error
    assert lines[:3] == [f"wrote {out}", f"wrote {md}", f"recorded run 1 of matrix legacy in {db}"]
    assert lines[-1].startswith("release gate: BLOCKED by ")
    assert sorted(lines[3:]) == sorted(gate(full)[1])
    assert sorted(c.cell_id for c in load_json(out).cells) == sorted(c.cell_id for c in full.cells)
    with open_store(db) as store:
        assert store.runs()[0].label == "ci" and store.runs()[0].cells == 100

    assert main(["durations", "--store", str(db), "--output", str(tmp_path / "d.json")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'd.json'} (100 cells of matrix legacy)\n"
    durations = json.loads((tmp_path / "d.json").read_text())
    assert len(durations) == 100 and all(v > 0 for v in durations.values())

    assert main(["merge", paths[0], paths[2], "--output", str(out)]) == 1
    assert "shard 2/3 missing from the merge" in capsys.readouterr().err


def test_merge_rejoins_the_schema_annotation_over_the_merged_cells() -> None:
    from compat.artifacts.schema_diff import SchemaChange, SchemaDiff
    from compat.results.schema_join import annotate

    demo = demo_results(4, 4, ("obx", "tlx"))
    # venue in the id, as Cell.id has it: a pair's obx and tlx cells can land in different shards
    full = replace(demo, cells=tuple(replace(c, cell_id=f"{c.cell_id}--venue-{c.venue}") for c in demo.cells))
    retyped = SchemaChange("field-retyped", True, "refproto.NewOrder.price (3)", "double → sint64")

    def diff_for(client: str, gateway: str) -> SchemaDiff | None:
        return SchemaDiff(f"c-{client}", f"g-{gateway}", (retyped,) if gateway == "1.3.0" else ())

    durations = {c.cell_id: 1.0 + n % 5 for n, c in enumerate(full.cells)}
    shards = [annotate(s, diff_for) for s in split(full, 3, durations)]
    assert len({json.dumps(s.meta["schema"], sort_keys=True) for s in shards}) == 3  # each saw other cells
    merged, _ = merge_shards(shards)
    expected = annotate(full, diff_for).meta["schema"]

    def canonical(block: dict[str, list[dict[str, object]]]) -> dict[str, list[str]]:
        return {k: sorted(json.dumps(item, sort_keys=True) for item in v) for k, v in block.items()}

    assert canonical(merged.meta["schema"]) == canonical(expected)
    assert any(d["kind"] == "static-break-but-pass" for d in expected["disagreements"])
