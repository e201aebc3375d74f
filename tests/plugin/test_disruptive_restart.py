"""After a ``compat_disruptive`` scenario the plugin restarts the cell's gateway only when the
scenario may have left it damaged: after a failure or n/a once the gateway was touched, never
after a pass nor after n/a decided before touching it (fixtures.compat_stack). Real processes:
the fake product line's gateway is a one-line listener, so a restart is a new pid."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

# One cell, five disruptive scenarios in file order; each records the gateway pid it met and the
# last one checks which of its predecessors left a restart behind.
SCENARIOS = textwrap.dedent("""
    import pytest
    from compat import Unsupported

    SEEN = []
    pytestmark = pytest.mark.compat_disruptive

    def test_1_passes(compat_stack):
        SEEN.append(compat_stack.gateway.pid)

    def test_2_fails(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        assert False, "a finding"

    def test_3_not_applicable_untouched(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        raise Unsupported("scenario", "nothing", "n/a before touching the gateway")

    def test_4_not_applicable_after_a_stall(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        with compat_stack.paused_gateway():
            pass
        raise Unsupported("scenario", "nothing", "n/a after pausing the gateway")

    def test_5_with_its_own_auth(compat_stack, tmp_path):
        SEEN.append(compat_stack.gateway.pid)
        compat_stack.restart_gateway(auth=tmp_path / "own-auth.json")
        SEEN.append(compat_stack.gateway.pid)

    def test_6_check(compat_stack):
        SEEN.append(compat_stack.gateway.pid)
        after_pass, after_fail, after_na, after_stall, own_auth, after_auth = (
            SEEN[1] == SEEN[0], SEEN[2] != SEEN[1], SEEN[3] == SEEN[2], SEEN[4] != SEEN[3],
            SEEN[5] != SEEN[4], SEEN[6] != SEEN[5])
        assert (after_pass, after_fail, after_na, after_stall, own_auth, after_auth) == (True,) * 6, SEEN
""")

GATEWAY = ('      - argv: ["{python}", "-c", "import socket,time; s=socket.socket(); s.bind((\'127.0.0.1\', 0)); '
           's.listen(); print(\'READY 127.0.0.1:%d\' % s.getsockname()[1], flush=True); time.sleep(600)"]\n'
           '    stop: [TERM, KILL]\n')


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    path = write_matrix(pytester.path, fake_wheelhouse)
    text = path.read_text()
    text = re.sub(r'      - argv: "\{bin\}/fakegw --port \{listen_port\}"\n', lambda _: GATEWAY, text)
    text = text.replace("venues: [obx, tlx]\n", "exchange: none\n")
    path.write_text(text)
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def test_a_gateway_is_restarted_after_a_disruptive_scenario_only_when_it_may_be_damaged(
        project: pytest.Pytester) -> None:
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess("-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"),
                                          "--compat-report-json", str(report),
                                          "--compat-cells", "client-1.0.0--gateway-2.0.0")
    [cell] = json.loads(report.read_text())["cells"]
    verdicts = {s["scenario"]: s["verdict"] for s in cell["scenarios"]}
    assert verdicts == {"1_passes": "pass", "2_fails": "fail", "3_not_applicable_untouched": "n/a",
                        "4_not_applicable_after_a_stall": "n/a", "5_with_its_own_auth": "pass",
                        "6_check": "pass"}, result.stdout.str()[-3000:]
