"""The verdict cache through the plugin (pytester): a warm run replays every clean verdict and
says so everywhere, reruns what is not clean, and a changed input reruns exactly what it covers.

Scenarios here only read ``compat_cell`` (no process starts) and log each run of theirs to
``ran.log``, so a test sees which (cell, scenario) really ran. The real processes (a cached
cell starts none; a live swap's target wheel) are in test_verdict_cache_processes.py.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from compat.plugin import cache as cache_plugin
from compat.results.cache_key import CACHED

SCENARIOS = textwrap.dedent("""
    from pathlib import Path

    import pytest
    from compat.errors import OperationUnsupported, StartError
    from helpers import LIMIT

    pytestmark = pytest.mark.compat


    def ran(cell, name):
        with open(Path(__file__).with_name("ran.log"), "a") as log:
            log.write(f"{cell.id} {name}\\n")


    def test_passes(compat_cell):
        ran(compat_cell, "passes")


    def test_breaks(compat_cell):
        ran(compat_cell, "breaks")
        assert compat_cell.gateway.version != "2.0.0", "gateway 2.0.0 dropped the price field"


    def test_needs_amend(compat_cell):
        ran(compat_cell, "needs_amend")
        if compat_cell.client.version == "1.0.0":
            raise OperationUnsupported("amend", "order.amend", "client 1.0.0 cannot amend")


    def test_infra(compat_cell):
        ran(compat_cell, "infra")
        if compat_cell.client.version == "2.0.0" and compat_cell.gateway.version == "1.0.0":
            raise StartError("gateway-1.0.0 did not report ready within 1.0s; exit code 1")


    def test_declared(compat_cell):
        ran(compat_cell, "declared")
        assert compat_cell.client.version != "2.0.0", "client 2.0.0 cannot declare"


    @pytest.mark.parametrize("qty", [1, LIMIT])
    def test_param(compat_cell, qty):
        ran(compat_cell, f"param[{qty}]")
""")

OTHER = textwrap.dedent("""
    from pathlib import Path


    def test_other(compat_cell):
        with open(Path(__file__).with_name("ran.log"), "a") as log:
            log.write(f"{compat_cell.id} other\\n")
""")

EXPECTATIONS = """
  - {client: "2.0.0", scenario: declared, expect: incompatible, reason: "client 2.0.0 has no declare"}
  - {client: "1.0.0", gateway: "1.0.0", scenario: declared, expect: incompatible, reason: "an outdated rule"}
  - {gateway: "2.0.0", venue: obx, scenario: passes, expect: unsupported, reason: "obx lacks it on 2.0"}
"""

CLEAN = ("pass", "fail", "expected-fail", "n/a")
Verdicts = dict[tuple[str, str], dict[str, Any]]  # (cell, scenario) -> the scenario's JSON


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    write_matrix(pytester.path, fake_wheelhouse, expectations=EXPECTATIONS)
    pytester.makepyfile(test_scenarios=SCENARIOS, test_other=OTHER, helpers="LIMIT = 7\n")
    return pytester


class Run:
    def __init__(self, result: pytest.RunResult, report: Path, ran: list[str]) -> None:
        self.result = result
        self.document = json.loads(report.read_text()) if report.exists() else {}
        self.ran = ran  # "cell scenario" of each scenario body that ran, in order
        self.scenarios: Verdicts = {(c["cell_id"], s["scenario"]): s for c in self.document.get("cells", ())
                                    for s in c["scenarios"]}

    def verdicts(self) -> dict[tuple[str, str], str]:
        return {key: s["verdict"] for key, s in self.scenarios.items()}

    def cached(self) -> set[tuple[str, str]]:
        return {key for key, s in self.scenarios.items() if s.get("cached_from")}

    def ran_set(self) -> set[tuple[str, str]]:
        return {(line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in self.ran}


def run(project: pytest.Pytester, *args: str, name: str = "matrix") -> Run:
    log = project.path / "ran.log"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    report = project.path / "out" / f"{name}.json"
    report.unlink(missing_ok=True)
    result = project.runpytest_subprocess("-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"),
                                          "--compat-store", "none", "--compat-report-json", str(report), *args)
    lines = log.read_text().splitlines()[before:] if log.exists() else []
    return Run(result, report, lines)


def declared_na(run: Run) -> set[tuple[str, str]]:
    """Declared unsupported in matrix.yaml: skipped before anything runs, never cached."""
    return {key for key, s in run.scenarios.items() if (s.get("expectation") or {}).get("kind") == "unsupported"}


def not_clean(run: Run) -> set[tuple[str, str]]:
    """What a warm run must run again: errors, stale expectations (and nothing declared n/a)."""
    return {key for key, s in run.scenarios.items() if s["verdict"] in ("error", "stale")}


def test_a_warm_run_replays_every_clean_verdict_and_says_so(project: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPAT_RUN_ID", "first-run")
    cold = run(project)
    declared = declared_na(cold)
    assert len(cold.scenarios) == 8 * 8 and len(declared) == 2 and not cold.cached()
    assert {v for v in cold.verdicts().values()} == {*CLEAN, "error", "stale"}
    assert "compat verdict cache: 0 of 64 results reused" in cold.result.stdout.str()

    monkeypatch.setenv("COMPAT_RUN_ID", "second-run")
    warm = run(project)
    assert warm.verdicts() == cold.verdicts(), "a warm run reports the verdicts of the uncached one"
    assert warm.result.parseoutcomes() == cold.result.parseoutcomes()
    assert warm.result.ret == cold.result.ret == pytest.ExitCode.TESTS_FAILED
    # Only what is not clean ran again; declared n/a never runs a body.
    assert warm.ran_set() == not_clean(cold)
    reused = set(cold.scenarios) - not_clean(cold) - declared
    assert warm.cached() == reused and len(reused) == 64 - 2 - 2 - 2
    for key in reused:
        origin = warm.scenarios[key]["cached_from"]
        assert origin["run_id"] == "first-run" and re.fullmatch(r"\d{4}-\d\d-\d\dT.*Z", origin["date"]), origin
        assert warm.scenarios[key]["duration_s"] == 0.0  # nothing of it ran now
    failed = warm.scenarios[("client-1.0.0--gateway-2.0.0--venue-tlx", "breaks")]
    assert failed["verdict"] == "fail" and "gateway 2.0.0 dropped the price field" in failed["message"]
    assert warm.document["summary"]["cached"] == len(reused)
    assert not warm.document["envs"], "a run that built and used no env lists none"
    out = warm.result.stdout.str()
    assert f"{len(reused)} reused from the verdict cache (not run now)" in out
    assert f"compat verdict cache: {len(reused)} of 64 results reused from" in out and "--compat-fresh" in out
    grid = out[out.index("compat matrix (rows: client, columns: gateway; each slot: venues obx tlx)"):]
    assert "↺" in grid and "↺ cached" in out  # the grid's mark and its legend
    assert "compat: cached verdict of run first-run" in out  # a cached break says where it came from

    # --compat-fresh, a release run: everything runs (and is recorded); unless a release asks to reuse.
    every = set(cold.scenarios) - declared
    fresh = run(project, "--compat-fresh")
    assert fresh.ran_set() == every and not fresh.cached()
    assert "compat verdict cache: 0 of 64 results reused" in fresh.result.stdout.str()
    release = run(project, "--compat-label", "release")
    assert release.ran_set() == every and not release.cached()
    assert "a release run is fresh" in release.result.stdout.str()
    reused_release = run(project, "--compat-label", "release", "--compat-reuse-verdicts")
    assert reused_release.ran_set() == not_clean(cold) and reused_release.verdicts() == cold.verdicts()


def test_a_changed_input_reruns_exactly_what_it_covers(project: pytest.Pytester) -> None:
    cold = run(project)
    base = not_clean(cold)
    scenarios_module = {key for key in cold.scenarios if key[1] != "other"}

    # A module the scenarios import from their folder: every scenario of the importing module.
    (project.path / "helpers.py").write_text("LIMIT = 7  # same value, other bytes\n")
    edited = run(project)
    assert edited.ran_set() == (scenarios_module - declared_na(cold)) | base
    assert edited.verdicts() == cold.verdicts()

    # A scenario module reruns its own scenarios only; an expectation rule the (cell, scenarios) it decides.
    other = project.path / "test_other.py"
    other.write_text(other.read_text() + "\n# edited\n")
    matrix = project.path / "matrix.yaml"
    matrix.write_text(matrix.read_text().replace("client 2.0.0 has no declare", "client 2.0.0 never declares"))
    changed = run(project)
    assert changed.ran_set() == {key for key in cold.scenarios if key[1] == "other"} | {
        key for key in cold.scenarios if key[0].startswith("client-2.0.0") and key[1] == "declared"} | base
    assert "never declares" in changed.scenarios[("client-2.0.0--gateway-1.0.0--venue-obx", "declared")]["reason"]

    # A rule moving down the file covers the same: nothing reruns, and the reports name its new line.
    text = matrix.read_text()
    matrix.write_text(text.replace("expectations: \n", "expectations: \n\n\n"))
    moved = run(project)
    assert moved.ran_set() == base
    before = cold.scenarios[("client-2.0.0--gateway-1.0.0--venue-obx", "declared")]["expectation"]["line"]
    after = moved.scenarios[("client-2.0.0--gateway-1.0.0--venue-obx", "declared")]["expectation"]["line"]
    assert after == before + 2


def test_xdist_workers_record_and_reuse_one_cache(project: pytest.Pytester) -> None:
    cold = run(project, "-n", "2")
    warm = run(project, "-n", "2")
    assert warm.verdicts() == cold.verdicts()
    assert warm.ran_set() == not_clean(cold)
    assert len(warm.cached()) == 64 - 2 - 2 - 2


def test_a_new_candidate_wheel_reruns_its_column_and_warm_shards_compose(
        project: pytest.Pytester, build_fake_wheel: Any) -> None:
    """A candidate with a new sha256 (a source edit) is never served from the cache: only its
    column runs, and the grid is whole with the verdicts of an uncached run. Shards compose with
    the cache: 3 shards restoring the same warm cache run only their share of that column, and
    their merge equals the uncached full run."""
    first = build_fake_wheel("fakegw", "3.0.0", "# build one\n")
    second = build_fake_wheel("fakegw", "3.0.0", "# build two: a source edit\n")
    warmed = run(project, "--compat-candidate", f"gateway={first}")
    for k in (1, 2, 3):  # what each CI shard restores
        shutil.copy(project.path / ".compat" / "verdicts.db", project.path / f"cache-{k}.db")
    column = {key for key in warmed.scenarios if "--gateway-3.0.0+candidate--" in key[0]}
    assert len(column) == 2 * 2 * 8

    rebuilt = run(project, "--compat-candidate", f"gateway={second}")
    uncached = run(project, "--compat-candidate", f"gateway={second}", "--compat-verdict-cache", "none",
                   name="uncached")
    assert rebuilt.ran_set() == column | not_clean(warmed)
    assert rebuilt.cached() == set(warmed.scenarios) - column - not_clean(warmed) - declared_na(warmed)
    assert rebuilt.verdicts() == uncached.verdicts() == warmed.verdicts()

    shards = [run(project, "--compat-candidate", f"gateway={second}", "--compat-shard", f"{k}/3",
                  "--compat-verdict-cache", str(project.path / f"cache-{k}.db"), name=f"shard-{k}")
              for k in (1, 2, 3)]
    for shard in shards:  # each ran its own part of the column (and what is never cached), nothing else
        own = {key for key in uncached.scenarios if key[0] in {cell for cell, _ in shard.scenarios}}
        assert shard.ran_set() == own & (column | not_clean(uncached)), shard.ran_set()
    assert sum(len(s.ran_set() & column) for s in shards) == len(column)
    merged = project.path / "out" / "merged.json"
    outcome = subprocess.run([sys.executable, "-m", "compat.cli", "merge",
                              *(str(project.path / "out" / f"shard-{k}.json") for k in (1, 2, 3)),
                              "--output", str(merged)], capture_output=True, text=True, cwd=project.path, timeout=120)
    assert merged.exists(), outcome.stdout + outcome.stderr
    document = json.loads(merged.read_text())
    assert {(c["cell_id"], s["scenario"]): s["verdict"] for c in document["cells"] for s in c["scenarios"]} \
        == uncached.verdicts()


def test_an_unusable_cache_file_costs_time_never_a_verdict(project: pytest.Pytester) -> None:
    junk = project.path / "junk.db"
    junk.write_text("not a verdict cache, but text long enough to look like a file header\n" * 20)
    broken = run(project, "--compat-verdict-cache", str(junk))
    assert broken.ran_set() == set(broken.scenarios) - declared_na(broken) and not broken.cached()
    assert broken.result.ret == pytest.ExitCode.TESTS_FAILED and len(broken.scenarios) == 64
    assert "compat verdict cache not used from here on" in broken.result.stdout.str()
    assert "is not usable" in broken.result.stdout.str()


def test_the_plugin_and_the_results_agree_on_the_cached_mark() -> None:
    assert cache_plugin._CACHED_PROPERTY == CACHED


def _column_before_light(cells: list[str], column: set[str], light: set[str]) -> bool:
    """Whether every cell of ``column`` ran before the first of ``light``."""
    first_light = min(index for index, cell in enumerate(cells) if cell in light)
    return set(cells[:first_light]) == column


def test_an_xdist_worker_takes_the_cells_with_most_to_run_first(
        project: pytest.Pytester, build_fake_wheel: Any) -> None:
    """After a candidate rebuild its column is what runs, with the few results that are never
    cached: an xdist worker orders the cells heaviest first (compat.plugin.schedule), so the
    column's cells run before the light ones although pytest collects some light ones first (a
    serial run, which keeps pytest's order, shows it). One worker: the order it ran is the order
    it chose. These scenarios take no time, so the cache is told the column's took a second
    each (what a cell weighs is its results' last recorded durations)."""
    wheels = [build_fake_wheel("fakegw", "3.0.0", f"# build {n}: a source edit\n") for n in range(3)]
    warmed = run(project, "--compat-candidate", f"gateway={wheels[0]}")
    with sqlite3.connect(project.path / ".compat" / "verdicts.db") as db:
        assert db.execute("UPDATE verdicts SET duration_s = 1.0 WHERE cell_id LIKE '%+candidate%'").rowcount > 0
    column = {key[0] for key in warmed.scenarios if "--gateway-3.0.0+candidate--" in key[0]}
    light = {key[0] for key in not_clean(warmed)} - column
    assert column and light, (column, light)

    one_worker = run(project, "-n", "1", "--compat-candidate", f"gateway={wheels[1]}")
    cells = [line.split(" ", 1)[0] for line in one_worker.ran]
    assert set(cells) == column | light, cells
    assert _column_before_light(cells, column, light), cells
    assert one_worker.verdicts() == warmed.verdicts()

    serial = run(project, "--compat-candidate", f"gateway={wheels[2]}")
    serial_cells = [line.split(" ", 1)[0] for line in serial.ran]
    assert set(serial_cells) == column | light, serial_cells
    assert not _column_before_light(serial_cells, column, light), serial_cells
