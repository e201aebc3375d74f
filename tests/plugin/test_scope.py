"""compat_scenario_paths: a run whose -m keeps only scenarios collects only the scenario folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

from compat.plugin.scope import keeps_only, named_paths, scope_filter


@pytest.mark.parametrize(("markexpr", "narrowed"), [
    ("compat", True),
    ("compat and not slow", True),
    ("compat and (slow or not slow)", True),
    ("(compat or slow) and compat", True),
    ("compat or bench", False),
    ("compat or not slow", False),
    ("not compat", False),
    ("slow", False),
    ("compat or slow(x=1)", False),
])
def test_only_an_expression_that_drops_every_unmarked_test_narrows(markexpr: str, narrowed: bool) -> None:
    assert keeps_only(Expression.compile(markexpr), "compat") is narrowed


def test_the_filter_keeps_the_folders_their_parents_and_named_paths(tmp_path: Path) -> None:
    scenarios = tmp_path / "tests" / "compat"
    ignore = scope_filter([scenarios], named_paths(["tests/unit/test_named.py::test_x", "-q"], tmp_path))
    assert ignore(tmp_path / "tests") is None  # leads to the scenarios
    assert ignore(scenarios / "test_logon.py") is None
    assert ignore(tmp_path / "tests" / "unit") is True
    assert ignore(tmp_path / "tests" / "conftest.py") is True  # a conftest is loaded, never collected as a test
    assert ignore(tmp_path / "tests" / "unit" / "test_named.py") is None


BROKEN = "raise RuntimeError('imported although -m compat cannot select anything here')\n"


def test_a_scenario_run_never_imports_the_rest_of_the_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncompat_scenario_paths = scenarios\nmarkers =\n    compat: a scenario\n")
    pytester.mkdir("scenarios").joinpath("test_s.py").write_text(
        "import pytest\n\n@pytest.mark.compat\ndef test_scenario():\n    pass\n")
    pytester.mkdir("unit").joinpath("test_broken.py").write_text(BROKEN)
    narrowed = pytester.runpytest("-p", "no:randomly", "-m", "compat")
    narrowed.assert_outcomes(passed=1)
    everything = pytester.runpytest("-p", "no:randomly", "-m", "compat or not compat")
    assert everything.ret == pytest.ExitCode.INTERRUPTED  # the broken module is collected: an error
    everything.stdout.fnmatch_lines(["*RuntimeError: imported although*"])
    named = pytester.runpytest("-p", "no:randomly", "-m", "compat", "unit/test_broken.py")
    named.stdout.fnmatch_lines(["*RuntimeError: imported although*"])
