"""The worked examples in examples/ run as a user runs them, and find the breaks they document.

Each example is its own project (its folder is pytest's rootdir): the test runs
``pytest -m compat`` there in a subprocess, against the releases its matrix.yaml takes from
PyPI, and checks the verdict of every (cell, scenario) in the JSON report it writes. Envs are
cached under the repository's ``.compat/examples/<name>``, so a second run reuses them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
RUN_TIMEOUT_S = 900  # cold: every env is built from PyPI downloads (msgpack 0.6.2 from its sdist)

P, F, X = "pass", "fail", "expected-fail"
Grid = dict[str, dict[str, tuple[str, ...]]]  # scenario -> client release -> verdict per server release

# Verdicts per scenario: one row per client release, one column per server release, in the
# order of each matrix.yaml's version lists.
MSGPACK_RELEASES = ("0.6.2", "1.0.8", "1.1.0")
MSGPACK: Grid = {
    # Text and numbers: every release reads every other.
    "text_record": {
        "0.6.2": (P, P, P),
        "1.0.8": (P, P, P),
        "1.1.0": (P, P, P),
    },
    # msgpack 1.0 changed the defaults (use_bin_type=True, raw=False): across the 0.x / 1.x line
    # non-UTF-8 bytes are decoded as text on one side and the request or the reply breaks.
    "binary_payload": {
        "0.6.2": (P, F, F),
        "1.0.8": (F, P, P),
        "1.1.0": (F, P, P),
    },
    # Bytes that happen to be ASCII: a 0.6 server packs them as raw, a 1.x client reads a str.
    # The other way round the 1.x server decodes them to str and packs a str, which a 0.6 client
    # reads as bytes again, so that direction passes.
    "ascii_payload_stays_bytes": {
        "0.6.2": (P, P, P),
        "1.0.8": (F, P, P),
        "1.1.0": (F, P, P),
    },
}

RPYC_RELEASES = ("4.0.2", "4.1.5", "5.3.1", "6.0.2")
RPYC: Grid = {
    # Framing and dispatch only: 4.x and 5.x agree; 6.0 frames messages differently (declared).
    "ping": {
        "4.0.2": (P, P, P, X),
        "4.1.5": (P, P, P, X),
        "5.3.1": (P, P, P, X),
        "6.0.2": (X, X, X, P),
    },
    # Any call on the service goes through an object reference: 4.1.0's new id-pack convention
    # breaks it against 4.0.x in both directions (not declared: the matrix finds it).
    "call": {
        "4.0.2": (P, F, F, X),
        "4.1.5": (F, P, P, X),
        "5.3.1": (F, P, P, X),
        "6.0.2": (X, X, X, P),
    },
    "remote_object": {
        "4.0.2": (P, F, F, X),
        "4.1.5": (F, P, P, X),
        "5.3.1": (F, P, P, X),
        "6.0.2": (X, X, X, P),
    },
}

CASES: dict[str, tuple[tuple[str, ...], Grid]] = {
    "msgpack": (MSGPACK_RELEASES, MSGPACK),
    "rpyc": (RPYC_RELEASES, RPYC),
}


def expected_verdicts(releases: tuple[str, ...], grid: Grid) -> dict[tuple[str, str], str]:
    """``{(cell_id, scenario): verdict}`` from the grids above."""
    expected: dict[tuple[str, str], str] = {}
    for scenario, rows in grid.items():
        assert set(rows) == set(releases), f"{scenario}: one row per client release"
        for client, row in rows.items():
            assert len(row) == len(releases), f"{scenario}, client {client}: one column per server release"
            for gateway, verdict in zip(releases, row, strict=True):
                expected[(f"client-{client}--gateway-{gateway}", scenario)] = verdict
    return expected


def run_example(name: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    """``pytest -m compat`` in the example's folder, as its README says, in a clean environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COMPAT_"))}
    argv = [
        sys.executable, "-m", "pytest", "-m", "compat", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
        f"--compat-cache-dir={REPO / '.compat' / 'examples' / name}",
        f"--compat-report-dir={report_dir}",
    ]
    return subprocess.run(argv, cwd=EXAMPLES / name, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, check=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_matrix(name: str, tmp_path: Path) -> None:
    releases, grid = CASES[name]
    result = run_example(name, tmp_path)
    output = f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    # Exit 1: the run completed and some scenarios failed, as the example's breaks require.
    assert result.returncode == 1, f"pytest -m compat in examples/{name} exited {result.returncode}:\n{output}"
    report = json.loads((tmp_path / "matrix.json").read_text(encoding="utf-8"))
    got = {(scenario["cell_id"], scenario["scenario"]): scenario["verdict"]
           for cell in report["cells"] for scenario in cell["scenarios"]}
    expected = expected_verdicts(releases, grid)
    wrong = sorted(f"{cell} {scenario}: expected {verdict}, got {got.get((cell, scenario), 'nothing')}"
                   for (cell, scenario), verdict in expected.items() if got.get((cell, scenario)) != verdict)
    extra = sorted(f"{cell} {scenario}: {verdict}" for (cell, scenario), verdict in got.items()
                   if (cell, scenario) not in expected)
    assert not wrong and not extra, (
        "verdicts differ from the example's documented grid:\n" + "\n".join(wrong + [f"unexpected {e}" for e in extra])
        + f"\n--- run output ---\n{output}")
