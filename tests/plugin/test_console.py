"""The terminal of a matrix run: the progress line while it runs (also under xdist, never
under -q), and a summary that lists breaks, errors and stale expectations but only counts the
declared incompatibilities. Scenarios only read ``compat_cell``: no process starts."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from compat.plugin.console import cell_of, elapsed_text, format_progress

from .test_plugin import EXPECTATIONS, SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
PROGRESS = re.compile(r"^compat: (\d+)/(\d+) cells · ")


def test_the_progress_line_is_cells_verdicts_elapsed_and_the_first_break() -> None:
    line = format_progress(5, 16, {"pass": 120, "fail": 2, "expected-fail": 40, "n/a": 3}, 42.4,
                           "client-1.0.0--gateway-2.0.0--venue-tlx breaks: AssertionError: price")
    assert line == ("compat: 5/16 cells · 0:42 · 120 pass, 40 expected-fail, 3 n/a, 2 fail · first break: "
                    "client-1.0.0--gateway-2.0.0--venue-tlx breaks: AssertionError: price")
    assert format_progress(0, 8, {}, 3725) == "compat: 0/8 cells · 1:02:05 · no scenario finished"
    cut = format_progress(1, 2, {"fail": 1}, 1, "x" * 200, width=80)
    assert len(cut) == 80 and cut.endswith("…")
    assert elapsed_text(605) == "10:05"


def test_a_cell_is_found_in_node_ids_with_parameters_and_xdist_groups() -> None:
    assert cell_of("t.py::test_a[client-1.0.0--gateway-2.0.10--venue-obx-FLT-0.3]@client-1.0.0--gateway-2.0.10--"
                   "venue-obx") == "client-1.0.0--gateway-2.0.10--venue-obx"
    assert cell_of("t.py::test_a[FLT-0.3-client-2.1.0+candidate--gateway-3.0.0]") == \
        "client-2.1.0+candidate--gateway-3.0.0"
    assert cell_of("t.py::test_plain") is None


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any,
            monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("COLUMNS", "300")  # a wide terminal: the lines are not cut to 80
    write_matrix(pytester.path, fake_wheelhouse, expectations=EXPECTATIONS)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess("-m", "compat", "-p", "no:randomly", "--compat-cache-dir",
                                        str(project.path / ".compat"), "--compat-store", "none", *args)


def _progress(result: pytest.RunResult) -> list[str]:
    lines = [ANSI.sub("", line) for line in result.stdout.lines]
    return [line for line in lines if PROGRESS.match(line)]


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_terminal_shows_the_progress_line_and_the_first_break(
    project: pytest.Pytester, xdist: tuple[str, ...]
) -> None:
    result = _run(project, "--color=yes", *xdist)
    lines = _progress(result)
    assert lines, result.stdout.str()
    assert PROGRESS.match(lines[-1]).groups() == ("8", "8"), lines  # type: ignore[union-attr]
    # which break comes first depends on the distribution; every one is on gateway 2.0.0
    assert any(re.search(r"first break: client-[12]\.0\.0--gateway-2\.0\.0--venue-\w+ breaks: AssertionError", line)
               for line in lines), lines
    assert " · 22 pass, 4 expected-fail, 6 n/a, 2 stale, 2 error, 4 fail · first break: " in lines[-1], lines[-1]
    assert "expected-fail" in lines[-1] and "n/a" in lines[-1]


def test_quiet_and_a_pipe_print_little_or_none_of_it(project: pytest.Pytester) -> None:
    assert _progress(_run(project, "-q", "--color=yes")) == []
    piped = _progress(_run(project, "--color=no"))  # not a terminal: one line per ceil(8/10) = 1 cells at most
    assert 1 <= len(piped) <= 8 + 1, piped


def test_the_summary_counts_declared_incompatibilities_and_lists_breaks(project: pytest.Pytester) -> None:
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    report_chars = [opt[2:] for opt in shlex.split(addopts) if opt.startswith("-r")]
    assert report_chars and not set("".join(report_chars)) & set("axXpPA"), addopts  # no line per XFAIL/pass
    result = _run(project, *[f"-r{chars}" for chars in report_chars])
    out = result.stdout.str()
    assert "XFAIL" not in out, out  # 4 declared incompatibilities: counted, not one line each
    result.stdout.fnmatch_lines([
        "compat summary: 8 cells, 40 scenarios: *4 expected-fail*",
        "breaks: 4 in 1 group(s) of the same cause",
        "  ✗ gateway 2.0.0: AssertionError: gateway 2.0.0 dropped the price field* (4 cells, 1 scenario: breaks)",
        "errors (infrastructure, not breaks): 2 in 1 group(s) of the same cause",
        "stale expectations: 2 (declared incompatible, but passed: remove or narrow them)",
        "  ! client-1.0.0--gateway-1.0.0--venue-obx declared: matrix.yaml declares incompatible: an outdated rule",
        "declared in matrix.yaml (counted, not listed): 4 expected-fail (incompatible), 6 n/a",
        "stale rule: a stale expectation fails the run*",
    ])
