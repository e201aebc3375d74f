"""An unchanged patch release with live swaps to its neighbours (issue 19: swaps judged by pair).

refgw 3.0.0 republished as 3.0.1 with nothing changed but its version, in a temporary
wheelhouse beside the released wheels; the reference matrix.yaml, with every two adjacent
gateway versions swapped (``between: adjacent_releases``), so 3.0.1 is swapped with 3.0.0 both
ways, with 2.1.0 (the newest of the line below) and with the candidate. Keyed on the source
alone, the rule written for 3.0 → 2.x (``gateway ==3.0.*: live_downgrade incompatible``) made
every 3.0.k → 3.0.(k-1) downgrade stale and blocked the gate; keyed on both ends it must not:
no stale, no failure, a clear gate, and 3.0.1 → 2.1.0 still the declared journal refusal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from compat.artifacts.rewheel import rewrite_wheel
from compat.results.gate import evaluate
from compat.results.jsonfile import load_json
from compat.results.model import Verdict
from compat.results.swapgrid import swap_grids, target_failures

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 900
CLIENT = "3.0.0"
VENUE = "tlx"
GATEWAYS = ("2.1.0", "3.0.0", "3.0.1", "*+candidate")


# A "3.0.1" whose console script exits at once: a release that cannot start at all.
BROKEN_CLI = b'''import sys


def main() -> int:
    print("refgw 3.0.1: this build cannot start (test_patch_release)", file=sys.stderr)
    return 3
'''


def patch_matrix(tmp_path: Path, *, broken: bool = False) -> Path:
    """matrix.yaml with the temporary wheelhouse, its paths made absolute, and adjacent releases swapped."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    for wheel in (ROOT / "wheelhouse").iterdir():
        shutil.copy2(wheel, wheelhouse / wheel.name)
    rewrite_wheel(ROOT / "wheelhouse" / "refgw-3.0.0-py3-none-any.whl", wheelhouse, version="3.0.1",
                  replace={"refgw/cli.py": BROKEN_CLI} if broken else None)
    data: dict[str, Any] = yaml.safe_load((ROOT / "matrix.yaml").read_text(encoding="utf-8"))
    data["index"] = {"find_links": str(wheelhouse)}
    for role in ("gateway", "client"):
        data["products"][role]["source"] = str(ROOT / data["products"][role]["source"])
    data["products"]["client"]["adapter"] = str(ROOT / data["products"]["client"]["adapter"])
    for key in ("instruments", "auth"):
        data["settings"][key] = str(ROOT / data["settings"][key])
    data["swaps"] = [*data["swaps"], {"between": "adjacent_releases"}]
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_swaps(matrix: Path, report: Path, gateways: tuple[str, ...], keyword: str) -> tuple[int, str]:
    cells = [arg for gateway in gateways
             for arg in ("--compat-cells", f"client-{CLIENT}--gateway-{gateway}--venue-{VENUE}")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPAT_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/compat", "-m", "compat", "-p", "no:randomly", "-q",
         "--compat-matrix", str(matrix), "--compat-store", "none", "--compat-report-json", str(report),
         *cells, "-k", keyword],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    output = done.stdout[-4000:] + done.stderr[-2000:]
    assert report.is_file(), f"no report (exit {done.returncode}):\n{output}"
    return done.returncode, output


@pytest.mark.slow
def test_an_unchanged_patch_release_swaps_with_its_neighbours_without_stale_or_block(tmp_path: Path) -> None:
    report = tmp_path / "matrix.json"
    returncode, output = run_swaps(patch_matrix(tmp_path), report, GATEWAYS, "live_")
    results = load_json(report)
    verdicts = {(c.gateway_version, s.scenario): s.verdict for c in results.cells for s in c.scenarios}
    # 3.0.1 is swapped with each neighbour: the patch release below and the candidate above it,
    # and with 2.1.0, the newest release of the line below (adjacent minor lines)
    assert verdicts[("3.0.1", "live_downgrade[to-3.0.0]")] is Verdict.PASS, output
    assert verdicts[("3.0.0", "live_upgrade[to-3.0.1]")] is Verdict.PASS, output
    assert verdicts[("3.0.1", "live_downgrade[to-2.1.0]")] is Verdict.EXPECTED_FAIL, output
    assert verdicts[("3.0.1", "live_upgrade[to-3.1.0.dev0+candidate]")] is Verdict.PASS, output
    assert any(g.endswith("+candidate") and s == "live_downgrade[to-3.0.1]" for g, s in verdicts), sorted(verdicts)
    red = {key: v for key, v in verdicts.items() if v in (Verdict.STALE, Verdict.FAIL, Verdict.ERROR)}
    assert not red, f"{red}\n{output}"
    decision = evaluate(results)  # every pair gated, no window: blocks on any fail, error, stale
    assert not decision.blocked, "\n".join(decision.lines())
    assert returncode == 0, output
    (grid,) = swap_grids(results)
    down = grid.slot("3.0.1", "3.0.0")
    assert down is not None and down.symbol == "✓"


@pytest.mark.slow
def test_a_neighbour_that_cannot_start_is_charged_to_the_neighbour(tmp_path: Path) -> None:
    """3.0.0 → a 3.0.1 that exits at start: not a journal refusal of 3.0.0 (a fail, or an
    expected-fail of a rule about 3.0.x), but an error charged to 3.0.1, which does not start on
    a fresh journal either."""
    report = tmp_path / "matrix.json"
    _, output = run_swaps(patch_matrix(tmp_path, broken=True), report, ("3.0.0",), "live_upgrade")
    results = load_json(report)
    (cell,) = results.cells
    (swap,) = [s for s in cell.scenarios if s.scenario == "live_upgrade[to-3.0.1]"]
    assert swap.verdict is Verdict.ERROR, output
    assert swap.swap == {"from": "3.0.0", "to": "3.0.1", "direction": "upgrade", "charged_to": "3.0.1"}
    assert "3.0.1 does not start, not even on a fresh journal" in (swap.message or ""), swap.message
    (failure,) = target_failures(results)
    assert failure.target == "3.0.1" and failure.sources == ("3.0.0",)
