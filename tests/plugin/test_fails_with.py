"""Declared incompatibilities that say how they fail (``fails_with``), through the plugin: the
declared failure is expected-fail, any other failure in the rule's scope is a break that names
both; a rule that says nothing keeps accepting any failure. Scenarios read ``compat_cell`` only."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = textwrap.dedent("""
    import pytest
    from compat.errors import DriverCallError

    pytestmark = pytest.mark.compat

    def test_refused(compat_cell):
        if compat_cell.client.version == "1.0.0":
            raise DriverCallError("connect", {"type": "ProtocolVersionError", "code": "UNSUPPORTED_PROTOCOL_VERSION",
                                              "message": "refgw supports 2..3"})

    def test_refused_otherwise(compat_cell):
        if compat_cell.client.version == "1.0.0":
            raise DriverCallError("connect", {"type": "SessionLost", "message": "gateway closed the connection"})

    def test_asserted(compat_cell):
        assert compat_cell.client.version != "1.0.0", "extension lost on the ack"

    def test_undeclared_how(compat_cell):
        assert compat_cell.client.version != "1.0.0", "anything at all"
""")

EXPECTATIONS = """
  - {client: "1.0.0", scenario: "refused*", expect: incompatible, reason: "C1 speaks v1",
     fails_with: {error: ProtocolVersionError, code: UNSUPPORTED_PROTOCOL_VERSION}}
  - {client: "1.0.0", scenario: asserted, expect: incompatible, reason: "no passthrough",
     fails_with: [{error: Timeout}, {error: AssertionError, message: "extension lost"}]}
  - {client: "1.0.0", scenario: undeclared_how, expect: incompatible, reason: "says nothing of how"}
"""


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    write_matrix(pytester.path, fake_wheelhouse, expectations=EXPECTATIONS)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def test_a_declared_cell_failing_differently_is_a_break(project: pytest.Pytester) -> None:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-m", "compat", "-p", "no:randomly", "--compat-cache-dir",
                                          str(project.path / ".compat"), "--compat-report-json", str(report),
                                          "--compat-cells", "client-1.0.0--gateway-1.0.0--venue-obx")
    [cell] = json.loads(report.read_text())["cells"]
    scenarios = {s["scenario"]: s for s in cell["scenarios"]}
    verdicts = {name: s["verdict"] for name, s in scenarios.items()}
    assert verdicts == {"refused": "expected-fail", "refused_otherwise": "fail", "asserted": "expected-fail",
                        "undeclared_how": "expected-fail"}, verdicts
    broken = scenarios["refused_otherwise"]
    assert broken["reason"].startswith("fails differently than declared: matrix.yaml:"), broken["reason"]
    assert "[error 'ProtocolVersionError', code 'UNSUPPORTED_PROTOCOL_VERSION'] (C1 speaks v1)" in broken["reason"]
    assert "it failed with SessionLost: connect raised SessionLost: gateway closed the connection" in broken["reason"]
    assert broken["expectation"]["fails_with"] == [{"error": "ProtocolVersionError",
                                                    "code": "UNSUPPORTED_PROTOCOL_VERSION"}]
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*fails differently than declared*"])
