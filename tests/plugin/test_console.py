"""The terminal of a matrix run: the progress line while it runs (also under xdist, never
under -q), and a summary that lists breaks, errors and stale expectations but only counts the
declared incompatibilities. Scenarios only read ``compat_cell``: no process starts."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from compat.plugin.console import Progress, cell_of, elapsed_text, format_progress

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
    piped = _progress(_run(project, "--color=no"))  # not a terminal: one line per ceil(8/5) = 2 cells at most
    assert 1 <= len(piped) <= 8 + 1, piped


def test_the_summary_counts_declared_incompatibilities_and_lists_breaks(project: pytest.Pytester) -> None:
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    report_chars = [opt[2:] for opt in shlex.split(addopts) if opt.startswith("-r")]
    assert report_chars and not set("".join(report_chars)) & set("axXpPA"), addopts  # no line per XFAIL/pass
    result = _run(project, *[f"-r{chars}" for chars in report_chars])
    out = result.stdout.str()
    assert "XFAIL" not in out, out  # 4 declared incompatibilities: counted, not one line each
    result.stdout.fnmatch_lines([
        "compat summary: 8 cells, 40 scenarios: *4 expected-fail* (expected-fail, n/a: declared in matrix.yaml, "
        "not listed)",
        "breaks: 4 in 1 group(s) of the same cause",
        "  ✗ gateway 2.0.0: AssertionError: gateway 2.0.0 dropped the price field* (4 cells, 1 scenario: breaks) "
        "with clients 1.0.0, 2.0.0 on obx, tlx",
        "errors (infrastructure, not breaks): 2 in 1 group(s) of the same cause",
        "stale expectations: 2 (declared incompatible, but passed: remove or narrow them)",
        "  ! client-1.0.0--gateway-1.0.0--venue-obx declared: matrix.yaml declares incompatible: an outdated rule",
        "release gate: BLOCKED by * stale expectations block: one fails the run, as `compat gate` blocks on it "
        "(--compat-allow-stale to only report it)",
    ])


class _Writer:
    fullwidth = 100
    width_of_current_line = 0
    hasmarkup = True

    def __init__(self, out: list[str]) -> None:
        self.out = out

    def line(self, text: str = "") -> None:
        self.out.append(text + "\n")


class _Reporter:
    """What Progress uses of pytest's TerminalReporter, recording what it is asked to write."""

    def __init__(self, tty: bool) -> None:
        self.out: list[str] = []
        self._tw = _Writer(self.out)
        self.isatty = tty
        self.currentfspath: object = None

    def ensure_newline(self) -> None:
        if self.currentfspath:
            self.out.append("\n")
            self.currentfspath = None

    def rewrite(self, line: str, **markup: bool) -> None:
        assert markup.pop("erase") is True
        self.out.append("\r" + line)

    def write_line(self, line: str, **markup: bool) -> None:
        self.ensure_newline()
        self.out.append(line + "\n")


class _Plugins:
    def __init__(self, reporter: _Reporter) -> None:
        self.reporter = reporter

    def get_plugin(self, name: str) -> _Reporter:
        assert name == "terminalreporter"
        return self.reporter


class _Config:
    def __init__(self, reporter: _Reporter) -> None:
        self.pluginmanager = _Plugins(reporter)

    def get_verbosity(self) -> int:
        return 0


class _Report:
    def __init__(self, cell: str, name: str, when: str, verdict: str | None = None) -> None:
        self.nodeid = f"t.py::test_{name}[{cell}]"
        self.when, self.outcome = when, "passed"
        payload = {"verdict": verdict, "cell_id": cell, "scenario": name, "reason": "AssertionError: price"}
        self.user_properties = [("compat", json.dumps(payload))] if verdict else []


def _cells(progress: Progress, verdicts: dict[str, str]) -> None:
    for cell, verdict in verdicts.items():
        progress.pytest_runtest_logreport(_Report(cell, "a", "call", verdict))
        progress.pytest_runtest_logreport(_Report(cell, "a", "teardown"))


CELLS = {f"client-{c}.0.0--gateway-1.0.0--venue-obx": "pass" for c in range(1, 6)}


def test_on_a_terminal_the_progress_line_is_one_line_rewritten_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    now = iter(float(i) * 2 for i in range(100))  # two seconds between cells: every one is due
    monkeypatch.setattr("compat.timing.monotonic", lambda: next(now))
    reporter = _Reporter(tty=True)
    progress = Progress(_Config(reporter))
    progress.set_collected(f"t.py::test_a[{cell}]" for cell in CELLS)
    verdicts = dict(CELLS)
    verdicts["client-3.0.0--gateway-1.0.0--venue-obx"] = "fail"
    _cells(progress, verdicts)
    text = "".join(reporter.out)
    lines = text.split("\n")
    # the first break once, as a line of its own; the progress line rewritten in place, ended at the last cell
    assert [line for line in lines if line.startswith("compat: first break: ")] == [
        "compat: first break: client-3.0.0--gateway-1.0.0--venue-obx a: AssertionError: price"]
    live = [line for line in lines if line.startswith("\r")]
    assert len(live) == 2 and text.endswith("\n"), text  # before the break, and from it to the last cell
    # at the break (seen before its cell ended), then each cell to the last
    assert [part.split(" · ")[0] for part in live[-1].split("\r")[1:]] == [f"compat: {n}/5 cells" for n in (2, 3, 4, 5)]
    assert reporter.currentfspath is None  # pytest's next line starts on a line of its own


def test_in_a_log_the_progress_is_whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("compat.timing.monotonic", lambda: 0.0)
    reporter = _Reporter(tty=False)
    progress = Progress(_Config(reporter))
    progress.set_collected(f"t.py::test_a[{cell}]" for cell in CELLS)
    _cells(progress, CELLS)
    assert "\r" not in "".join(reporter.out)
    assert [line.split(" · ")[0] for line in "".join(reporter.out).splitlines()] == [
        f"compat: {n}/5 cells" for n in range(1, 6)]
    # the reference matrix's 72 cells: once per fifth of them, and the last
    reporter = _Reporter(tty=False)
    progress = Progress(_Config(reporter))
    many = {f"client-{c}.0.0--gateway-{g}.0.0--venue-obx": "pass" for c in range(1, 9) for g in range(1, 10)}
    progress.set_collected(f"t.py::test_a[{cell}]" for cell in many)
    _cells(progress, many)
    assert [line.split(" · ")[0] for line in "".join(reporter.out).splitlines()] == [
        f"compat: {n}/72 cells" for n in (15, 30, 45, 60, 72)]
