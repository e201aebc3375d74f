"""A suspected memory leak in a cell: a warning in the terminal summary, a failed session with
``--compat-fail-on-leak``. Scenarios here attach a resources record themselves (as the cell
fixture's sampler does), so no process starts: this tests the plugin layer alone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

LEAKY_CELL = "client-1.0.0--gateway-1.0.0--venue-obx"

SCENARIOS = textwrap.dedent(f"""
    import json
    import pytest
    from compat.results.verdicts import DETAILS

    pytestmark = pytest.mark.compat

    def gateway(leak):
        return {{"samples": 80, "cpu_pct_mean": 3.0, "cpu_pct_max": 9.0, "rss_start_bytes": 30_000_000,
                "rss_max_bytes": 52_000_000, "rss_end_bytes": 52_000_000,
                "rss_slope_bytes_per_s": 1_000_000.0 if leak else 0.0, "leak_suspected": leak,
                "leak_reason": "pid 7: RSS grew steadily over 20.0s" if leak else None,
                "duration_s": 20.0, "pids": [7], "skipped": None}}

    def test_orders(request, compat_cell):
        leak = compat_cell.id == "{LEAKY_CELL}"
        record = {{"interval_s": 0.25, "duration_s": 20.0, "roles": {{"gateway": gateway(leak)}}}}
        request.node.user_properties.append((DETAILS, json.dumps({{"resources": record}})))
""")


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    write_matrix(pytester.path, fake_wheelhouse)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def _run(project: pytest.Pytester, cells: str, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-m", "compat", "-p", "no:randomly", "--compat-cache-dir",
                                          str(project.path / ".compat"), "--compat-report-json", str(report),
                                          "--compat-store", "none", "--compat-cells", cells, *args)
    document = json.loads(report.read_text()) if report.exists() else {}
    return result, document


def test_a_leak_is_a_warning_by_default(project: pytest.Pytester) -> None:
    result, document = _run(project, "client-1.0.0--gateway-*--venue-obx")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines([
        f"compat: memory leak suspected: {LEAKY_CELL} gateway: pid 7: RSS grew steadily over 20.0s",
        "compat: a suspected leak is a warning only; --compat-fail-on-leak makes it fail the session",
    ])
    assert result.stdout.str().count("memory leak suspected") == 1  # the other cell's gateway is flat
    flags = {c["cell_id"]: c["resources"]["roles"]["gateway"]["leak_suspected"] for c in document["cells"]}
    assert flags == {LEAKY_CELL: True, "client-1.0.0--gateway-2.0.0--venue-obx": False}


def test_fail_on_leak_fails_the_session(project: pytest.Pytester) -> None:
    result, _ = _run(project, "client-1.0.0--gateway-*--venue-obx", "--compat-fail-on-leak")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["compat: memory leak suspected: *", "*fails because of --compat-fail-on-leak*"])
    assert result.parseoutcomes().get("passed") == 2  # the scenarios passed: the leak alone fails the run
    # (without a suspected leak the option changes nothing: compat.report.resources.leaks() is empty,
    # tests/report/test_resources_report.py)
