"""CI smoke test of the benchmark: real processes, ~2 s, asserts VALIDITY only, never times.

Echo and relay start through the harness, a real driver process runs the load plan, the relay
is SIGSTOPped for 200 ms mid-run, and the result must be a valid run (achieved rate >= 99.5%,
zero loss) whose histogram shows the stall.
"""

from __future__ import annotations

from pathlib import Path

from compat.bench.floor import FloorRig, Stall
from compat.bench.selftest import check_stall
from compat.harness.host import host_from_spec

RATE = 1000.0
WARMUP_S = 0.5
DURATION_S = 2.0
STALL_S = 0.2


def test_floor_run_is_valid_lossless_and_sees_a_sigstop_stall(tmp_path: Path) -> None:
    plan = {"rate": RATE, "duration_s": DURATION_S, "warmup_s": WARMUP_S, "calibration_messages": 2000}
    with FloorRig(host_from_spec("local"), tmp_path, drivers=1) as rig:
        point, stall = rig.run(plan, Stall(after_s=WARMUP_S + 0.4 * DURATION_S, duration_s=STALL_S))
        relay_log = rig.relay.log_path if rig.relay else None
    assert stall is not None
    assert point.achieved_rate >= 0.995 * RATE, point.invalid_reasons
    counts = point.counts
    assert counts["sent"] == counts["acked"] == RATE * (WARMUP_S + DURATION_S), counts
    assert (counts["lost"], counts["errors"], counts["gaps"], counts["duplicates"]) == (0, 0, 0, 0), counts
    assert point.valid, point.invalid_reasons
    check = check_stall(point, stall.requested_ns)
    assert check.detected, f"{check.describe()} (relay log: {relay_log})"
    assert point.overhead_ns_mean > 0  # measured and reported (its size is not asserted: no times)
