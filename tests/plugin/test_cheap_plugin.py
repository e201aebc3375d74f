"""Installing compat costs other test runs nothing: pytest loads the plugin in every run of the
environment, yet a run that does not select compat scenarios imports none of the plan, the
results, the reports, yaml, protobuf or psutil. Which runs select them is decided by pytest's
own ``-m`` evaluation, not by reading the expression's text."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from compat.plugin import hooks
from compat.results.collect import ENVS
from compat.results.verdicts import DETAILS, PROPERTY

HEAVY = ("google.protobuf", "psutil", "yaml", "compat.run", "compat.results", "compat.report", "compat.config",
         "compat.artifacts", "compat.harness", "compat.driver", "compat.exchange", "compat.bench")

# Writes the modules the session imported, after every other sessionfinish (the reports').
MODULES_CONFTEST = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import pytest

    def pytest_configure(config):
        config.addinivalue_line("markers", "slow: a slow scenario")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(session):
        Path(__file__).with_name("modules.json").write_text(json.dumps(sorted(sys.modules)))
""")

SCENARIOS = textwrap.dedent("""
    import pytest

    pytestmark = pytest.mark.compat

    def test_scenario(compat_cell):
        assert compat_cell.id

    @pytest.mark.slow
    def test_slow_scenario(compat_cell):
        assert compat_cell.id

    def test_scenario_with_a_stack_around(compat_cell, compat_leak_guard):
        assert compat_cell.id
""")


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    write_matrix(pytester.path, fake_wheelhouse)
    pytester.makeconftest(MODULES_CONFTEST)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n", test_scenarios=SCENARIOS)
    return pytester


def _heavy_imports(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[str]]:
    result = project.runpytest_subprocess("-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"),
                                          "--compat-store", "none", *args)
    modules = json.loads((project.path / "modules.json").read_text())
    return result, [m for m in modules if m.startswith(HEAVY)]


@pytest.mark.parametrize("markexpr", ["not compat", "not compat and not bench", "not (compat or bench)"])
def test_a_run_without_compat_imports_nothing_heavy(project: pytest.Pytester, markexpr: str) -> None:
    result, heavy = _heavy_imports(project, "-m", markexpr)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), result.stdout.str()[-2000:]
    assert heavy == [], f"pytest -m {markexpr!r} imported {heavy}"
    assert "compat matrix" not in result.stdout.str()


def test_a_compat_run_does_import_them(project: pytest.Pytester) -> None:
    """The other side, so the test above can fail: the same probe sees a compat run's imports."""
    result, heavy = _heavy_imports(project, "-m", "compat")
    result.assert_outcomes(passed=3 * 8)  # 3 scenarios × 8 cells
    found = {name for name in HEAVY if any(m == name or m.startswith(name + ".") for m in heavy)}
    assert {"google.protobuf", "psutil", "yaml", "compat.run", "compat.results", "compat.report"} <= found, heavy


@pytest.mark.parametrize(("args", "header", "selected"), [
    (("-m", "compat"), True, 3 * 8),
    (("-m", "compat and not slow"), True, 2 * 8),
    (("-m", "compat or bench"), True, 3 * 8),
    (("-m", "not compat"), False, 1),
    (("-m", "not slow"), False, 1 + 2 * 8),  # compat scenarios run, as they would without -m
    ((), False, 1 + 3 * 8),  # no -m: collected scenarios are selected, the header is not printed
])
def test_selection_is_pytests_own_evaluation_of_dash_m(project: pytest.Pytester, args: tuple[str, ...],
                                                       header: bool, selected: int) -> None:
    result = project.runpytest_subprocess("-p", "no:randomly", "--collect-only", "--compat-cache-dir",
                                          str(project.path / ".compat"), *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
    items = [line.strip() for line in result.stdout.lines if "<Function " in line]
    assert len(items) == selected, items
    assert any(line.startswith("compat: matrix.yaml: 8 cells") for line in result.stdout.lines) is header


def test_a_bad_dash_m_is_pytests_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-m", "compat and (", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Wrong expression passed to '-m'" in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_the_report_keys_spelled_in_the_plugin_are_the_results_keys() -> None:
    assert hooks._PROPERTY == PROPERTY
    assert frozenset({PROPERTY, DETAILS, ENVS}) == hooks._REPORT_KEYS
