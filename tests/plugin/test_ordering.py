"""The order of a cell's scenarios (compat.plugin.hooks ``_Ordering``), on the reference matrix's
own collection: the ordinary scenarios first, then the disruptive ones (kills, stalls, link
faults), then the live swaps, which leave another gateway release running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELL = "client-3.0.0--gateway-3.0.0--venue-obx"


def _collected(marks: str) -> list[str]:
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", marks, "--collect-only", "-q", "-p", "no:randomly",
                          "--compat-no-candidate", f"--compat-cells={CELL}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = [line for line in run.stdout.splitlines() if "::" in line and CELL in line]
    assert run.returncode == 0 and ids, f"exit {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    return ids


def test_within_a_cell_the_swaps_come_last_after_the_disruptive_scenarios() -> None:
    ids = _collected("compat")
    disruptive = set(_collected("compat and compat_disruptive"))
    rank = [2 if "::test_live_" in nodeid else 1 if nodeid in disruptive else 0 for nodeid in ids]
    assert rank.count(2) >= 1 and rank.count(1) >= 5, ids
    assert rank == sorted(rank), "\n".join(f"{r} {nodeid}" for r, nodeid in zip(rank, ids, strict=True))
