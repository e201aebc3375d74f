"""`exchange: none` through the plugin: one cell per pair, ids and the grid without a venue part,
the results JSON with ``venue: ""``; and a real-process cell whose stack starts no exchange."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

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

# A gateway from the fake product's venv: its python runs a one-liner that prints a bare READY line.
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
