"""The verdict cache with real processes: a cell whose every scenario is cached starts none, and
a live swap has two ends (a released cell whose upgrade swaps to the candidate reruns that
scenario when the candidate's wheel changes, and only that one).

The gateway is a one-liner run by the fake product's venv python: it appends its version to
``starts.log`` (every start of a gateway process, in any cell), reports a READY line and waits.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

GATEWAY_CODE = ("import socket, sys, time; open(sys.argv[1], 'a').write(sys.argv[2] + chr(10)); "
                "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
                "print('READY 127.0.0.1:%d' % s.getsockname()[1], flush=True); time.sleep(600)")
GATEWAY = ("      - argv: " + json.dumps(["{python}", "-c", GATEWAY_CODE, "{matrix_dir}/starts.log", "{version}"])
           + "\n    stop: [TERM, KILL]\n")

SCENARIOS = textwrap.dedent("""
    from pathlib import Path

    import pytest
    from compat import OperationUnsupported

    pytestmark = pytest.mark.compat


    def ran(compat, name):
        with open(Path(__file__).with_name("ran.log"), "a") as log:
            log.write(f"{compat.cell_id} {name}\\n")


    def test_plain(compat):
        ran(compat, "plain")
        assert compat.stack.gateway is not None and compat.stack.gateway.poll() is None


    @pytest.mark.compat_disruptive
    def test_upgrade(compat):
        ran(compat, "upgrade")
        target = compat.neighbour_gateway(+1)
        if target is None:
            raise OperationUnsupported("scenario", "gateway.neighbour", f"no gateway after {compat.gateway_version}")
        compat.restart_gateway(target)
        assert compat.stack.gateway_release == target and compat.stack.gateway.poll() is None
""")


@pytest.fixture
def project(pytester: pytest.Pytester, fake_wheelhouse: Path, write_matrix: Any) -> pytest.Pytester:
    path = write_matrix(pytester.path, fake_wheelhouse, versions=', list: ["1.0.0"]')
    text = re.sub(r'      - argv: "\{bin\}/fakegw --port \{listen_port\}"\n', lambda _: GATEWAY, path.read_text())
    path.write_text(text.replace("venues: [obx, tlx]\n", "exchange: none\n"))
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def _run(project: pytest.Pytester, candidate: Path) -> tuple[dict[tuple[str, str], str], list[str], list[str]]:
    """(verdicts, scenario bodies that ran, gateway processes started) of one run."""
    logs = {name: project.path / name for name in ("ran.log", "starts.log")}
    before = {name: len(path.read_text().splitlines()) if path.exists() else 0 for name, path in logs.items()}
    report = project.path / "out" / "matrix.json"
    result = project.runpytest_subprocess(
        "-p", "no:randomly", "--compat-cache-dir", str(project.path / ".compat"), "--compat-store", "none",
        "--compat-report-json", str(report), "--compat-cells", "client-1.0.0--*",
        "--compat-candidate", f"gateway={candidate}")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    document = json.loads(report.read_text())
    verdicts = {(c["cell_id"], s["scenario"]): s["verdict"] for c in document["cells"] for s in c["scenarios"]}
    new = {name: (path.read_text().splitlines()[before[name]:] if path.exists() else []) for name, path in logs.items()}
    return verdicts, new["ran.log"], new["starts.log"]


def test_cached_cells_start_nothing_and_a_swap_reruns_when_its_target_changes(
        project: pytest.Pytester, build_fake_wheel: Any) -> None:
    first = build_fake_wheel("fakegw", "3.0.0", "# build one\n")
    second = build_fake_wheel("fakegw", "3.0.0", "# build two: a source edit\n")
    released, candidate = "client-1.0.0--gateway-1.0.0", "client-1.0.0--gateway-3.0.0+candidate"

    verdicts, ran, starts = _run(project, first)
    assert verdicts == {(released, "plain"): "pass", (released, "upgrade"): "pass",
                        (candidate, "plain"): "pass", (candidate, "upgrade"): "n/a"}
    assert sorted(ran) == sorted(f"{cell} {name}" for cell, name in verdicts)
    assert sorted(starts) == ["1.0.0", "3.0.0", "3.0.0"]  # the released cell swapped to the candidate

    warm, ran, starts = _run(project, first)
    assert warm == verdicts
    assert ran == [] and starts == [], "every scenario cached: no scenario body ran, no process started"

    # The candidate's wheel changed: its own column runs, and so does the released cell's live
    # upgrade, whose far end it is; the released cell's other scenario stays cached.
    rebuilt, ran, starts = _run(project, second)
    assert rebuilt == verdicts
    assert sorted(ran) == sorted([f"{released} upgrade", f"{candidate} plain", f"{candidate} upgrade"])
    assert sorted(starts) == ["1.0.0", "3.0.0", "3.0.0"]
