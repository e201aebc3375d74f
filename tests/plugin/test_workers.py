"""``-n auto`` on a run of only compat scenarios starts ``compat_workers_per_cpu`` workers per CPU
(compat.plugin.workers); every other run keeps xdist's count. Real pytest runs, in a project of
their own: one compat-marked test and one unmarked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from compat.plugin.workers import matrix_workers, per_cpu, usable_cpus

RUN_TIMEOUT_S = 120


def test_the_count_is_the_cpus_times_the_ini_value_and_at_least_one() -> None:
    assert matrix_workers(2, 2.0) == 4
    assert matrix_workers(3, 1.5) == 4  # 4.5 rounds to even
    assert matrix_workers(1, 0.2) == 1
    assert per_cpu("1.5") == 1.5


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_a_bad_ini_value_names_the_setting_and_the_value(value: str) -> None:
    with pytest.raises(ValueError, match=rf"compat_workers_per_cpu = {re.escape(repr(value))}: expected a positive"):
        per_cpu(value)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    compat: a scenario\n")
    (tmp_path / "test_one.py").write_text(
        "import pytest\n\n\n@pytest.mark.compat\ndef test_scenario():\n    pass\n\n\ndef test_unit():\n    pass\n")
    return tmp_path


def _workers(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "PYTEST_XDIST_AUTO_NUM_WORKERS"}
    environment.update({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist", "-p", "compat", "-n", "auto", *args],
                          cwd=project, env=environment, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _created(run: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"^created: (\d+)/\d+ workers", run.stdout, re.MULTILINE)
    assert found, f"no xdist 'created' line (exit {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    return int(found.group(1))


@pytest.mark.parametrize(("args", "per_cpu_expected"), [
    (("-m", "compat"), 2.0),                                      # the default: two per CPU
    (("-m", "compat", "-o", "compat_workers_per_cpu=1"), 1.0),    # the ini setting
    (("-m", "compat and not slow"), 2.0),                         # still only scenarios
    ((), None),                                                   # everything: xdist's own count
    (("-m", "not compat"), None),
    (("-m", "compat or unit"), None),                             # keeps unmarked-as-compat tests too
])
def test_auto_counts_workers_per_cpu_only_for_a_run_of_scenarios(
        project: Path, args: tuple[str, ...], per_cpu_expected: float | None) -> None:
    run = _workers(project, *args)
    if per_cpu_expected is None:  # xdist's own count: physical cores, as psutil knows them
        expected = psutil.cpu_count(logical=False) or psutil.cpu_count()
    else:
        expected = matrix_workers(usable_cpus(), per_cpu_expected)
    assert _created(run) == expected, run.stdout[-2000:]
    assert run.returncode == 0, run.stdout[-2000:]


def test_xdists_environment_variable_still_wins(project: Path) -> None:
    assert _created(_workers(project, "-m", "compat", env={"PYTEST_XDIST_AUTO_NUM_WORKERS": "3"})) == 3


def test_a_bad_ini_value_stops_the_run_with_a_usage_error(project: Path) -> None:
    run = _workers(project, "-m", "compat", "-o", "compat_workers_per_cpu=many")
    assert run.returncode == 4, run.stdout[-2000:]
    assert "compat: compat_workers_per_cpu = 'many': expected a positive number" in run.stderr, run.stderr
