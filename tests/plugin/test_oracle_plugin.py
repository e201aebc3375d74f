"""The invariant oracle through the plugin, with a user's own oracle plugged in by overriding the
``compat_oracle`` fixture (a matrix with ``exchange: none``, whose default is no oracle): a
violation after a passing body is that scenario's ``fail``, a body that failed is judged on its own,
a waiver holds, and ``--compat-no-oracle`` switches it off. Real processes (a fake gateway)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CONFTEST = textwrap.dedent("""
    import pytest
    from compat import OracleResult, Violation

    class SymbolOracle:
        # A made-up invariant: a scenario takes no symbol.
        name = "symbols"
        invariants = {"no_symbol": "a scenario takes no symbol"}

        def check(self, scenario):
            found = [Violation("no_symbol", f"symbol {s}", "it was taken", "none may be")
                     for s in scenario.symbols_taken]
            return OracleResult(self.name, violations=found, checked=["no_symbol"])

    @pytest.fixture
    def compat_oracle():
        return SymbolOracle()
""")

SCENARIOS = textwrap.dedent("""
    import pytest

    def test_clean(compat):
        pass

    def test_breaks(compat):
        compat.symbol()

    def test_body_fails(compat):
        compat.symbol("FLT")  # the default instruments have one symbol per pool
        assert False, "the body's own failure"

    def test_waived(compat):
        compat.waive_invariant("no_symbol", reason="this one takes a symbol on purpose")
        compat.symbol("XYZ")

    def test_unknown_waiver(compat):
        compat.waive_invariant("no_such_invariant", reason="a typo")
""")

GATEWAY = ('      - argv: ["{python}", "-c", "import socket,time; s=socket.socket(); s.bind((\'127.0.0.1\', 0)); '
           's.listen(); print(\'READY 127.0.0.1:%d\' % s.getsockname()[1], flush=True); time.sleep(600)"]\n'
           '    stop: [TERM, KILL]\n')


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    path = write_matrix(pytester.path, fake_wheelhouse)
    text = re.sub(r'      - argv: "\{bin\}/fakegw --port \{listen_port\}"\n', lambda _: GATEWAY, path.read_text())
    path.write_text(text.replace("venues: [obx, tlx]\n", "exchange: none\n"))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def _verdicts(project: pytest.Pytester, *args: str) -> dict[str, dict[str, Any]]:
    report = project.path / "out" / "matrix.json"
    project.runpytest_subprocess("-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"),
                                 "--compat-report-json", str(report), "--compat-cells",
                                 "client-1.0.0--gateway-2.0.0", *args)
    [cell] = json.loads(report.read_text())["cells"]
    return {s["scenario"]: s for s in cell["scenarios"]}


def test_a_plugged_in_oracle_judges_every_scenario(project: pytest.Pytester) -> None:
    scenarios = _verdicts(project)
    assert {name: s["verdict"] for name, s in scenarios.items()} == {
        "clean": "pass", "breaks": "fail", "body_fails": "fail", "waived": "pass", "unknown_waiver": "fail"}
    assert "invariant oracle (symbols): 1 violation(s) of no_symbol" in scenarios["breaks"]["message"]
    assert "InvariantViolation" in scenarios["breaks"]["message"]
    assert "the body's own failure" in scenarios["body_fails"]["message"]
    assert "invariant oracle" not in scenarios["body_fails"]["message"]  # it did not run
    assert "unknown invariant 'no_such_invariant'; the symbols oracle checks no_symbol" \
        in scenarios["unknown_waiver"]["message"]
    logs = list((project.path / ".compat" / "runs").glob("*/client-1.0.0--gateway-2.0.0/oracle.jsonl"))
    [log] = logs
    lines = {json.loads(line)["scenario"].split("[")[0]: json.loads(line) for line in log.read_text().splitlines()}
    assert set(lines) == {"test_clean", "test_breaks", "test_waived"}
    assert len(lines["test_waived"]["waived"]) == 1


def test_no_oracle_on_request(project: pytest.Pytester) -> None:
    scenarios = _verdicts(project, "--compat-no-oracle", "-k", "breaks")
    assert scenarios["breaks"]["verdict"] == "pass"
