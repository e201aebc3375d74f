"""`exchange: none` through the plugin: one cell per pair, ids and the grid without a venue part,
the results JSON with ``venue: ""``; and a real-process cell whose stack starts no exchange."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable

import pytest

SCENARIOS = textwrap.dedent("""
    import psutil

    def test_ids(compat_cell):
        assert "venue" not in compat_cell.id and compat_cell.venue == ""

    def test_no_exchange_process(compat_stack):
        assert compat_stack.exchange is None and compat_stack.exchange_link is None
        assert compat_stack.gateway is not None and compat_stack.gateway.poll() is None
        found = [p for p in psutil.Process().children(recursive=True)
                 if "compat.exchange" in " ".join(p.cmdline())]
        assert found == []

    def test_audit_needs_the_builtin_exchange(compat):
        compat.audit()
""")


@pytest.fixture
def project(listener_project: Callable[[str], pytest.Pytester]) -> pytest.Pytester:
    return listener_project(SCENARIOS)


def test_exchange_none_cells_have_no_venue(project: pytest.Pytester) -> None:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"),
                                          "--compat-report-json", str(report),
                                          "--compat-cells", "client-1.0.0--gateway-2.0.0")
    result.stdout.fnmatch_lines([
        "compat: matrix.yaml: 1 cells (2 clients × 2 gateways), *",
        "compat matrix (rows: client, columns: gateway)",
    ])
    document = json.loads(report.read_text())
    [cell] = document["cells"]
    assert (cell["cell_id"], cell["venue"]) == ("client-1.0.0--gateway-2.0.0", "")
    verdicts = {s["scenario"]: (s["verdict"], s["reason"]) for s in cell["scenarios"]}
    assert verdicts["ids"][0] == "pass" and verdicts["no_exchange_process"][0] == "pass", verdicts
    verdict, reason = verdicts["audit_needs_the_builtin_exchange"]
    assert verdict == "n/a" and "needs compat's built-in exchange" in reason and "exchange: none" in reason
