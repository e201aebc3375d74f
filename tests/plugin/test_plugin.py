"""The plugin under pytester: ids, selection, every verdict, the grid, the JSON report, xdist, bad input.

Scenarios here only read ``compat_cell``, so no process starts: this tests the plugin layer
alone, at its own cost. The real processes are exercised by tests/matrix.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = textwrap.dedent("""
    import pytest
    from compat.errors import OperationUnsupported
    from compat.errors import StartError

    pytestmark = pytest.mark.compat

    def test_passes(compat_cell):
        assert compat_cell.id.startswith("client-")

    def test_breaks(compat_cell):
        assert compat_cell.gateway.version != "2.0.0", "gateway 2.0.0 dropped the price field"

    def test_needs_amend(compat_cell):
        if compat_cell.client.version == "1.0.0":
            raise OperationUnsupported("amend", "order.amend", "client 1.0.0 cannot amend")

    def test_infra(compat_cell):
        if compat_cell.client.version == "2.0.0" and compat_cell.gateway.version == "1.0.0":
            raise StartError("gateway-1.0.0 did not report ready within 1.0s; exit code 1")

    def test_declared(compat_cell):
        assert compat_cell.client.version != "2.0.0", "client 2.0.0 cannot declare"
""")

EXPECTATIONS = """
  - {client: "2.0.0", scenario: declared, expect: incompatible, reason: "client 2.0.0 has no declare"}
  - {client: "1.0.0", gateway: "1.0.0", scenario: declared, expect: incompatible, reason: "an outdated rule"}
  - {gateway: "2.0.0", venue: obx, scenario: passes, expect: unsupported, reason: "obx lacks it on 2.0"}
"""


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    write_matrix(pytester.path, fake_wheelhouse, expectations=EXPECTATIONS)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, dict[str, str]]]:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-m", "compat", "-p", "no:randomly", "--compat-cache-dir",
                                          str(project.path / ".compat"), "--compat-report-json", str(report),
                                          *args)
    verdicts: dict[str, dict[str, str]] = {}
    if report.exists():
        for cell in json.loads(report.read_text())["cells"]:
            verdicts[cell["cell_id"]] = {s["scenario"]: s["verdict"] for s in cell["scenarios"]}
    return result, verdicts


EXPECTED = {
    ("client-1.0.0--gateway-1.0.0--venue-obx", "passes"): "pass",
    ("client-1.0.0--gateway-2.0.0--venue-obx", "passes"): "n/a",  # declared unsupported
    ("client-1.0.0--gateway-2.0.0--venue-tlx", "passes"): "pass",
    ("client-1.0.0--gateway-2.0.0--venue-tlx", "breaks"): "fail",
    ("client-1.0.0--gateway-1.0.0--venue-tlx", "breaks"): "pass",
    ("client-1.0.0--gateway-1.0.0--venue-obx", "needs_amend"): "n/a",
    ("client-2.0.0--gateway-1.0.0--venue-obx", "needs_amend"): "pass",
    ("client-2.0.0--gateway-1.0.0--venue-obx", "infra"): "error",
    ("client-2.0.0--gateway-2.0.0--venue-obx", "infra"): "pass",
    ("client-2.0.0--gateway-2.0.0--venue-tlx", "declared"): "expected-fail",
    ("client-1.0.0--gateway-1.0.0--venue-obx", "declared"): "stale",
    ("client-1.0.0--gateway-2.0.0--venue-obx", "declared"): "pass",
}


def test_every_verdict_and_the_grid(project: pytest.Pytester) -> None:
    result, verdicts = _run(project)
    assert len(verdicts) == 8, sorted(verdicts)  # 2 clients × 2 gateways × 2 venues
    for (cell, scenario), verdict in EXPECTED.items():
        assert verdicts[cell][scenario] == verdict, (cell, scenario, verdicts[cell])
    result.stdout.fnmatch_lines([
        "compat: matrix.yaml: 8 cells (2 clients × 2 gateways × 2 venues), 4 envs*",
        "*compat matrix*",
        "compat matrix (rows: client, columns: gateway; each slot: venues obx tlx)",  # one block, both venues
    ])
    outcomes = result.parseoutcomes()
    # 4 breaks (gateway 2.0.0 in 4 cells) + 2 stale expectations fail the run; 2 infra errors.
    assert (outcomes.get("failed"), outcomes.get("errors"), outcomes.get("xfailed")) == (6, 2, 4), outcomes
    # needs_amend × 4 cells + declared unsupported × 2 (parseoutcomes cannot read "n/a" itself)
    assert re.search(r"\b6 n/a\b", result.stdout.lines[-1]), result.stdout.lines[-1]
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "STALE" in result.stdout.str() and "stale expectation (matrix.yaml:" in result.stdout.str()
    assert "gateway-1.0.0 did not report ready" in result.stdout.str()
    # An n/a raised in the body carries its reason and the capability it lacks (its report is made
    # without a traceback: the reason is its longrepr).
    cells = {c["cell_id"]: c for c in json.loads((project.path / "out" / "matrix.json").read_text())["cells"]}
    scenarios = cells["client-1.0.0--gateway-1.0.0--venue-obx"]["scenarios"]
    amend = next(s for s in scenarios if s["scenario"] == "needs_amend")
    assert amend["capability"] == "order.amend", amend
    assert amend["reason"].startswith("n/a: ") and "client 1.0.0 cannot amend" in amend["reason"], amend


def test_ids_and_cell_selection(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-m", "compat", "--collect-only", "-q", "--compat-cache-dir",
                                          str(project.path / ".compat"),
                                          "--compat-cells", "client-2.0.0--gateway-*--venue-tlx")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids and all(re.search(r"\[client-2\.0\.0--gateway-[12]\.0\.0--venue-tlx\]$", i) for i in ids), ids
    assert len(ids) == 2 * 5  # 2 gateways × 5 scenarios


def test_xdist_groups_cells_and_agrees(project: pytest.Pytester) -> None:
    _, serial = _run(project)
    parallel_result, parallel = _run(project, "-n", "2", "-v")
    assert parallel == serial, "verdicts must not depend on distribution"
    workers: dict[str, set[str]] = {}
    for line in parallel_result.stdout.lines:
        match = re.search(r"\[(gw\d)\] .*\[(client-[^\]]+)\]", line)
        if match:
            workers.setdefault(match.group(2), set()).add(match.group(1))
    assert len(workers) == 8 and all(len(w) == 1 for w in workers.values()), workers


def test_bad_matrix_is_a_usage_error_with_a_line(pytester: pytest.Pytester, fake_wheelhouse: Path,
                                                 write_matrix: Any) -> None:
    path = write_matrix(pytester.path, fake_wheelhouse)
    path.write_text(path.read_text().replace("venues: [obx, tlx]", "venues: obx\nvenus: [tlx]"))
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest_subprocess("-m", "compat", "--compat-cache-dir", str(pytester.path / ".compat"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert re.search(r"matrix\.yaml:\d+: ", err), err
    assert "Traceback" not in err + result.stdout.str()


def test_missing_version_names_the_index(pytester: pytest.Pytester, fake_wheelhouse: Path,
                                         write_matrix: Any) -> None:
    write_matrix(pytester.path, fake_wheelhouse, versions=', list: ["1.0.0", "9.9.9"]')
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest_subprocess("-m", "compat", "--compat-cache-dir", str(pytester.path / ".compat"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "9.9.9" in err and str(fake_wheelhouse) in err and "1.0.0" in err, err
    assert "Traceback" not in err


def test_bad_link_delay_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-m", "compat", "--collect-only", "-q", "--compat-link-delay", "5",
                                          "--compat-link-jitter", "9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--compat-link-jitter 9" in result.stderr.str() and "Traceback" not in result.stderr.str()



def test_an_existing_report_dir_outside_the_project_names_the_rootdir_trap(
        project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`--compat-report-dir /elsewhere` (space-separated, existing, no ini above it) becomes
    pytest's rootdir; the run says so and how to write it, instead of "no matrix.yaml"."""
    elsewhere = tmp_path_factory.mktemp("reports-elsewhere")
    spaced = project.runpytest_subprocess("-m", "compat", "--collect-only", "-q",
                                          "--compat-report-dir", str(elsewhere))
    assert spaced.ret == pytest.ExitCode.USAGE_ERROR
    assert f"write `--compat-report-dir={elsewhere}`" in spaced.stderr.str()
    joined = project.runpytest_subprocess("-m", "compat", "--collect-only", "-q", f"--compat-report-dir={elsewhere}")
    assert joined.ret == pytest.ExitCode.OK, joined.stdout.str()[-2000:]

FLAKY_SCENARIOS = textwrap.dedent("""
    from pathlib import Path
    import pytest

    pytestmark = pytest.mark.compat

    def test_fails_once(compat_cell, tmp_path_factory):
        # The first attempt in each cell fails, the next one passes: a flake.
        marker = Path(__file__).parent / ("attempted-" + compat_cell.id)
        first = not marker.exists()
        marker.touch()
        assert not first, "first attempt fails"

    def test_always_fails(compat_cell):
        assert compat_cell.gateway.version != "2.0.0", "a real break fails every attempt"
""")


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_reruns_report_flaky_never_a_silent_pass(pytester: pytest.Pytester, fake_wheelhouse: Path,
                                                 write_matrix: Any, workers: tuple[str, ...]) -> None:
    write_matrix(pytester.path, fake_wheelhouse)
    pytester.makepyfile(test_scenarios=FLAKY_SCENARIOS)
    result, verdicts = _run(pytester, "--compat-reruns", "2", "--compat-cells", "*venue-obx", *workers)
    assert len(verdicts) == 4, (sorted(verdicts), result.stdout.str()[-3000:])
    report = json.loads((pytester.path / "out" / "matrix.json").read_text())
    scenarios = {(c["cell_id"], s["scenario"]): s for c in report["cells"] for s in c["scenarios"]}
    for (cell, name), scenario in scenarios.items():
        if name == "fails_once":
            assert (scenario["verdict"], scenario["attempts"]) == ("flaky", 2), scenario
            assert "passed on attempt 2 after" in scenario["reason"], scenario
        elif "gateway-2.0.0" in cell:  # always_fails there: every attempt fails, 1 + 2 reruns
            assert (scenario["verdict"], scenario["attempts"]) == ("fail", 3), scenario
        else:
            assert (scenario["verdict"], scenario["attempts"]) == ("pass", 1), scenario
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_without_reruns_a_flake_is_a_failure(pytester: pytest.Pytester, fake_wheelhouse: Path,
                                             write_matrix: Any) -> None:
    write_matrix(pytester.path, fake_wheelhouse)
    pytester.makepyfile(test_scenarios=FLAKY_SCENARIOS)
    _, verdicts = _run(pytester, "--compat-cells", "*gateway-1.0.0--venue-obx")
    assert {v["fails_once"] for v in verdicts.values()} == {"fail"}, verdicts


def test_an_expectation_that_matches_nothing_is_a_warning_and_strictly_an_error(
        pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> None:
    rules = EXPECTATIONS + '  - {scenario: "test_declard", expect: incompatible, reason: "misspelt on purpose"}\n'
    write_matrix(pytester.path, fake_wheelhouse, expectations=rules)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    common = ("-m", "compat", "--collect-only", "-q", "--compat-cache-dir", str(pytester.path / ".compat"))
    result = pytester.runpytest_subprocess(*common)
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "UnmatchedExpectationWarning" in out
    assert re.search(r"matrix\.yaml line \d+: expectation \(incompatible: misspelt on purpose\) matches nothing", out)
    assert "scenario 'test_declard' matches none of the 5 scenarios collected" in out
    assert out.count("matches nothing") == 1, out  # the rules that match are not reported

    strict = pytester.runpytest_subprocess(*common, "--compat-strict-expectations")
    assert strict.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in strict.stdout.str() + strict.stderr.str()
    assert "--compat-strict-expectations" in strict.stdout.str() + strict.stderr.str()
    assert "test_declard" in strict.stdout.str() + strict.stderr.str()


@pytest.mark.parametrize("args", [("-q", "-m", "compat"), ("-qq", "-m", "compat"), ("-q",), ("-v", "-m", "compat")])
def test_a_config_error_is_one_line_at_every_verbosity(pytester: pytest.Pytester, fake_wheelhouse: Path,
                                                       write_matrix: Any, args: tuple[str, ...]) -> None:
    path = write_matrix(pytester.path, fake_wheelhouse)
    path.write_text(path.read_text().replace("venues: [obx, tlx]", "venus: [tlx]"))
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest_subprocess(*args, "-p", "no:randomly", "--compat-cache-dir",
                                           str(pytester.path / ".compat"))
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERRUPTED)
    output = result.stdout.str() + result.stderr.str()
    assert re.search(r"compat: matrix\.yaml:\d+: ", output), output
    for noise in ("Traceback", "pluggy", "_hooks.py", "raise pytest.UsageError"):
        assert noise not in output, output


UNMARKED = textwrap.dedent("""
    def test_cell_runs(compat_cell):
        assert compat_cell.id.startswith("client-")

    def test_plain():
        assert True
""")


def test_a_scenario_without_the_compat_mark_is_still_a_compat_scenario(
        pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> None:
    """Forgetting `pytestmark = pytest.mark.compat` must not make `-m compat` select nothing."""
    write_matrix(pytester.path, fake_wheelhouse)
    pytester.makepyfile(test_unmarked=UNMARKED)
    common = ("-p", "no:randomly", "--collect-only", "-q", "--compat-cache-dir", str(pytester.path / ".compat"))
    selected = pytester.runpytest_subprocess("-m", "compat", *common)
    ids = [line for line in selected.stdout.lines if "::" in line]
    assert len(ids) == 8 and all("test_cell_runs[client-" in i for i in ids), selected.stdout.str()
    others = pytester.runpytest_subprocess("-m", "not compat", *common)
    assert [line for line in others.stdout.lines if "::" in line] == ["test_unmarked.py::test_plain"]


def test_compat_matrix_is_relative_to_where_it_was_typed(pytester: pytest.Pytester, fake_wheelhouse: Path,
                                                         write_matrix: Any) -> None:
    """`pytest --compat-matrix proj/matrix.yaml proj` from the parent: pytest's rootdir is then
    proj/, and the path used to be read as proj/proj/matrix.yaml."""
    project = pytester.path / "proj"
    project.mkdir()
    write_matrix(project, fake_wheelhouse)
    (project / "test_scenarios.py").write_text(SCENARIOS)
    result = pytester.runpytest_subprocess("-m", "compat", "--collect-only", "-q", "-p", "no:randomly",
                                           "--compat-matrix", "proj/matrix.yaml", "--compat-cache-dir",
                                           str(pytester.path / ".compat"), "proj")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    assert sum("::test_passes[client-" in line for line in result.stdout.lines) == 8


def test_a_stale_expectation_fails_the_run_unless_allowed_explicitly(project: pytest.Pytester) -> None:
    cells = ("--compat-cells", "client-1.0.0--gateway-1.0.0--venue-obx", "-k", "declared")
    strict, verdicts = _run(project, *cells)
    assert verdicts == {"client-1.0.0--gateway-1.0.0--venue-obx": {"declared": "stale"}}
    assert strict.ret == pytest.ExitCode.TESTS_FAILED and strict.parseoutcomes().get("failed") == 1
    allowed, verdicts = _run(project, *cells, "--compat-allow-stale")
    assert verdicts == {"client-1.0.0--gateway-1.0.0--venue-obx": {"declared": "stale"}}  # still reported
    assert allowed.ret == pytest.ExitCode.OK, allowed.stdout.str()
    assert re.search(r"\b1 stale\b", allowed.stdout.lines[-1]), allowed.stdout.lines[-1]
    report = json.loads((project.path / "out" / "matrix.json").read_text())
    assert report["meta"].get("allow_stale") is True
