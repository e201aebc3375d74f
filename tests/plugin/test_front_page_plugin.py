"""The plugin stamps what the reports' first screen needs (issue 16) and the terminal ends with
it: the flips since the last release run recorded in the results store, the gate of the
matrix's support window, and the known issues of matrix.yaml (a declared growth is not a
warning, and --compat-fail-on-leak does not fail on it). No dot per scenario where the progress
line runs. Scenarios only read ``compat_cell``: no process starts."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from .test_plugin_leaks import LEAKY_CELL
from .test_plugin_leaks import SCENARIOS as LEAK_SCENARIOS

FLIPPING = textwrap.dedent("""
    import os
    import pytest

    pytestmark = pytest.mark.compat

    def test_orders(compat_cell):
        assert compat_cell.id != os.environ.get("BREAK_CELL"), "the fill price is gone"

    def test_logon(compat_cell):
        assert compat_cell.id.startswith("client-")
""")
OLD, NEW = "client-1.0.0--gateway-2.0.0--venue-obx", "client-2.0.0--gateway-2.0.0--venue-obx"
WINDOW = "settings:\n  support_window: {client_minors: 1, gateway_minors: 1}\n"
STALE_RULE = ("stale expectations block: one fails the run, as `compat gate` blocks on it "
              "(--compat-allow-stale to only report it)")


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    matrix = write_matrix(pytester.path, fake_wheelhouse)
    matrix.write_text(matrix.read_text() + WINDOW)
    pytester.makepyfile(test_scenarios=FLIPPING)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-m", "compat", "-p", "no:randomly", "--compat-cache-dir",
                                          str(project.path / ".compat"), "--compat-report-json", str(report),
                                          "--compat-cells", "*--venue-obx", "--color=no",
                                          # the break is switched by an environment variable, which no
                                          # cache key covers: every run here must run its scenarios
                                          "--compat-fresh", *args)
    return result, json.loads(report.read_text()) if report.exists() else {}


def _compat_section(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ compat matrix =+$", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("=" * 5))
    return lines[start + 1:end]


def test_a_run_says_what_flipped_since_the_last_release_run_and_may_we_release(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(project.path / "results.db")
    monkeypatch.setenv("BREAK_CELL", OLD)
    first, document = _run(project, "--compat-store", store, "--compat-label", "release")
    section = _compat_section(first)
    assert section[-2] == f"since the last release run: no release run to compare with (no results store at {store})"
    # the old client's break is outside the window (the newest gateway supports client 2.0 only)
    assert section[-1] == ("release gate: clear: no break, error or stale expectation inside the support window; "
                           "1 failure outside the window, not gating; " + STALE_RULE)
    assert document["meta"]["support_window"] == {"client_minors": 1, "gateway_minors": 1,
                                                  "source": "matrix.yaml settings.support_window"}

    monkeypatch.setenv("BREAK_CELL", NEW)
    second, document = _run(project, "--compat-store", store)
    section = _compat_section(second)
    assert section[-4:] == [
        "since the last release run, run 1 (release, "
        + section[-4].split("run 1 (release, ", 1)[1].split(")", 1)[0]
        + "): 2 scenarios flipped in 2 cells (1 worse, 1 better)",
        f"  ▼ {NEW}: orders pass → fail",
        f"  ▲ {OLD}: orders fail → pass",
        "release gate: BLOCKED by 1 inside the support window: 1 break; " + STALE_RULE,
    ], section
    since = document["meta"]["since_release"]
    assert since["baseline"].startswith("run 1 (release, ")
    assert {(f["cell_id"], f["before"], f["after"]) for f in since["flips"]} == {(NEW, "pass", "fail"),
                                                                                 (OLD, "fail", "pass")}
    # the second run was recorded after it was compared: a third compares with run 1 still
    third, _ = _run(project, "--compat-store", store)
    assert "since the last release run, run 1 (release" in "\n".join(_compat_section(third))


def test_no_dot_per_scenario_where_the_progress_line_runs(project: pytest.Pytester) -> None:
    result, _ = _run(project, "--compat-store", "none")
    dots = [line for line in result.stdout.lines if re.fullmatch(r"[.FxnsES]+\s*(\[\s*\d+%\])?", line.strip())]
    assert dots == [], dots
    assert any(line.startswith("compat: 4/4 cells · ") for line in result.stdout.lines), result.stdout.str()
    quiet, _ = _run(project, "--compat-store", "none", "-q")  # -q: no progress line, so pytest's dots stay
    assert any(re.fullmatch(r"[.F]{8}\s*\[100%\]", line.strip()) for line in quiet.stdout.lines), quiet.stdout.str()


@pytest.fixture
def leaky(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    matrix = write_matrix(pytester.path, fake_wheelhouse)
    matrix.write_text(matrix.read_text() + textwrap.dedent("""\
        known_issues:
          - gateway: "1.0.0"
            finding: memory-growth
            reason: the gateway keeps every session's journal index in memory
        """))
    pytester.makepyfile(test_scenarios=LEAK_SCENARIOS)
    return pytester


def test_a_growth_declared_as_a_known_issue_is_no_warning_and_fails_nothing(leaky: pytest.Pytester) -> None:
    report = leaky.path / "matrix.json"
    result = leaky.runpytest_subprocess("-m", "compat", "-p", "no:randomly", "--compat-cache-dir",
                                        str(leaky.path / ".compat"), "--compat-report-json", str(report),
                                        "--compat-store", "none", "--compat-fail-on-leak",
                                        "--compat-cells", "client-1.0.0--gateway-*--venue-obx")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["known issue declared in matrix.yaml (not a warning): matrix.yaml line *: "
                                 "gateway ==1.0.0 memory-growth: seen in 1 cell: gateway 1.0.0"])
    assert "memory leak suspected" not in result.stdout.str()
    document = json.loads(report.read_text())
    assert document["meta"]["known_issues"][0]["reason"] == "the gateway keeps every session's journal index in memory"
    assert next(c for c in document["cells"] if c["cell_id"] == LEAKY_CELL)["resources"]["roles"]["gateway"][
        "leak_suspected"] is True  # the finding is kept: only how it is shown changes
