"""Issue 17's acceptance: a slowed copy of a released gateway is a regression, an unchanged copy is not.

``pytest -m bench tests/bench/test_bench_acceptance.py -p no:randomly -n 0 -s`` (about 35 minutes:
ten comparisons of ~3 minutes each). Each comparison is the CI gate's command, ``compat bench
--compare gateway=3.0.0,HEAD --candidate gateway=COPY --client 3.0.0`` with 10 interleaved
rounds of 5 s a side at 1000 orders/s, and the floor once: (1 + 2 x 10) x (5 + 0.5) s = 116 s
of measurement, within 3 minutes with up to five rounds rerun. The copies are built from the
released wheel by ``scripts/slowed_wheel.py``:

- slowed: a busy wait of 60 us at the start of ``Gateway.insert``: must be a regression, 5 of 5;
- unchanged: only the version differs: must be "no change", 5 of 5;

and no comparison may be void. Every verdict line (and the load averages before and after) is
printed, so a run on a quiet machine can be quoted as it is. ``COMPAT_ACCEPTANCE_RUNS`` changes
the 5.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from compat.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import slowed_wheel  # scripts/slowed_wheel.py (scripts is not a package)

pytestmark = [pytest.mark.bench, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("COMPAT_ACCEPTANCE_RUNS", "5"))
# Ten short rounds rather than eight long ones: more pairs narrow the interval more than longer
# rounds do, and the reruns a busy machine needs still fit the 3 minutes.
ROUNDS, DURATION_S, WARMUP_S, RATE = 10, 5.0, 0.5, 1000
MEASUREMENT_BUDGET_S = 180.0


@pytest.mark.parametrize(("kind", "expected"), [("slowed", "regression"), ("unchanged", "no change")])
def test_the_gate_tells_a_slowed_copy_from_an_unchanged_one(tmp_path: Path, kind: str, expected: str) -> None:
    wheel = slowed_wheel.slowed(tmp_path, busy_us=60) if kind == "slowed" else slowed_wheel.unchanged(tmp_path)
    found: list[tuple[str, float, list[str]]] = []  # verdict, seconds of measurement, void reasons
    for number in range(1, RUNS + 1):
        store = tmp_path / f"store{number}"
        load_before = os.getloadavg()
        main(["bench", "--compare", "gateway=3.0.0,HEAD", "--candidate", f"gateway={wheel}", "--client", "3.0.0",
              "--rounds", str(ROUNDS), "--duration", str(DURATION_S), "--warmup", str(WARMUP_S),
              "--rate", str(RATE), "--stall-ms", "0", "--no-plots", "--matrix", str(REPO / "matrix.yaml"),
              "--cache-dir", str(REPO / ".compat"), "--store", str(store)])
        load_after = os.getloadavg()
        (run_dir,) = [p for p in store.iterdir() if p.is_dir()]
        run = json.loads((run_dir / "bench.json").read_text())
        ab, interleaving = run["ab"], run["interleaving"]
        # The floor point, every kept round of both sides, and (at most) both sides of each rerun.
        points = 1 + sum(len(kept) for kept in run["ab_rounds"].values()) + 2 * len(interleaving["reruns"])
        measured_s = points * (DURATION_S + WARMUP_S)
        found.append((ab["verdict"], measured_s, ab["reasons"]))
        mde = ", ".join(f"{m} {v:.1%}" for m, v in ab["mde"].items() if v is not None)
        print(f"\n{kind} run {number}/{RUNS}: {ab['verdict']} (decided by {', '.join(ab['decided_by']) or '-'}); "
              f"reruns {len(interleaving['reruns'])}; measured {measured_s:.0f}s; load average "
              f"{load_before[0]:.1f} -> {load_after[0]:.1f}; MDE {mde}", flush=True)
    # Every run first, then the judgement: one slow run must not hide the other four.
    assert [verdict for verdict, _, _ in found] == [expected] * RUNS, found
    assert all(seconds <= MEASUREMENT_BUDGET_S for _, seconds, _ in found), found
