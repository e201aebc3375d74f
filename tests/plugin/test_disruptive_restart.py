"""After a ``compat_disruptive`` scenario the plugin restarts the cell's gateway only when the
scenario may have left it damaged: it disturbed the gateway (a pause, a restart, a link fault)
and did not pass, or it ran the gateway with its own auth file (fixtures.compat_stack). Real
processes: the fake product line's gateway is a one-line listener, so a restart is a new pid."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable

import pytest

# One cell, seven disruptive scenarios in file order; each records the gateway pid it met and the
# last one checks which of its predecessors left a restart behind.
SCENARIOS = textwrap.dedent("""
    import pytest
    from compat import Unsupported

    SEEN = []
    pytestmark = pytest.mark.compat_disruptive

    def test_1_passes_after_a_stall(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        with compat_stack.paused_gateway():
            pass

    def test_2_fails_untouched(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        assert False, "an ordinary finding"

    def test_3_fails_after_a_link_fault(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        compat_stack.gateway_proxy.latency(1.0)
        compat_stack.gateway_proxy.clear()
        assert False, "a finding after a fault"

    def test_4_not_applicable_untouched(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        raise Unsupported("scenario", "nothing", "n/a before touching the gateway")

    def test_5_not_applicable_after_a_stall(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        with compat_stack.paused_gateway():
            pass
        raise Unsupported("scenario", "nothing", "n/a after pausing the gateway")

    def test_6_with_its_own_auth(compat_stack, tmp_path):
        SEEN.append(compat_stack.gateway.pid)
        compat_stack.restart_gateway(auth=tmp_path / "own-auth.json")
        SEEN.append(compat_stack.gateway.pid)

    def test_7_check(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        restarted = [after != before for before, after in zip(SEEN, SEEN[1:])]
        # after: 1 pass, 2 untouched failure, 3 failure after a fault, 4 untouched n/a,
        # 5 n/a after a stall, 6's own restart with its auth, 6 (its own auth file)
        assert restarted == [False, False, True, False, True, True, True], SEEN
""")


@pytest.fixture
def project(listener_project: Callable[[str], pytest.Pytester]) -> pytest.Pytester:
    return listener_project(SCENARIOS)


def test_a_gateway_is_restarted_after_a_disruptive_scenario_only_when_it_may_be_damaged(
        project: pytest.Pytester) -> None:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"),
                                          "--compat-report-json", str(report),
                                          "--compat-cells", "client-1.0.0--gateway-2.0.0")
    [cell] = json.loads(report.read_text())["cells"]
    verdicts = {s["scenario"]: s["verdict"] for s in cell["scenarios"]}
    assert verdicts == {"1_passes_after_a_stall": "pass", "2_fails_untouched": "fail",
                        "3_fails_after_a_link_fault": "fail", "4_not_applicable_untouched": "n/a",
                        "5_not_applicable_after_a_stall": "n/a", "6_with_its_own_auth": "pass",
                        "7_check": "pass"}, result.stdout.str()[-3000:]
