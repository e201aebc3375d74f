"""The live-upgrade blip: per-bucket timelines from the runner, gap/windows/check on the host.

A synthetic run at 1000/s: orders are acked 1 ms after their intended time, except those due
while a gateway swap is in progress, which are all acked when the first ack after the
restart arrives (what a coordinated-omission-correct harness records).
"""

from __future__ import annotations

from typing import Any

from compat.bench.histograms import decode
from compat.bench.loadpoint import CORRECTED, from_driver_results
from compat.bench.upgrade import SwapRecord, analyse, describe, merge_timelines
from compat.driver.loadplan import AckTimes, LoadPlan, RawRun, summarise

MS = 1_000_000
RATE = 1000.0
START = 1_000 * 1_000 * MS  # 1000 s on the monotonic clock: a multiple of the 100 ms bucket
STOP = START + 1_500 * MS  # the swap begins 1.5 s in (0.5 s warm-up + 1 s measured)
BACK = STOP + 400 * MS  # the first ack after the restart
LOST = STOP + 50 * MS  # the client noticed the loss 50 ms after the stop began


def _config(**extra: Any) -> LoadPlan:
    return LoadPlan(rate=RATE, duration_s=3.0, warmup_s=0.5, timeline_bucket_ms=100.0, **extra)


def _run(config: LoadPlan, *, blind: bool = False) -> dict[str, Any]:
    """``blind``: the outage is measured from the resend, as a coordinated-omission-blind harness would."""
    total = config.warmup_messages + config.measured_messages
    sent, outcomes = [], []
    for index in range(total):
        intended = config.intended_ns(START, index)
        ack = intended + MS
        if LOST <= intended < BACK:
            ack = BACK + (index % 5) * 10_000  # everything due in the outage is acked when it ends
            if blind:
                ack = intended + 2 * MS
        sent.append(intended)
        outcomes.append(AckTimes("ack", ack))
    result = summarise(config, RawRun(START, sent, outcomes))
    result["overhead"] = {}
    result["reconnect"] = {"resent": 3, "held": 397, "sessions": [
        {"lost_ns": LOST, "reconnected_ns": BACK - MS, "first_ack_ns": BACK, "attempts": 3, "resumed": True,
         "replayed": 2, "resume_gap": False}]}
    return result


SWAP = SwapRecord("3.0.0", "3.1.0", STOP, STOP + 200 * MS, STOP + 350 * MS, 0)


def test_the_runner_buckets_corrected_latency_by_intended_time_on_the_shared_clock() -> None:
    config = _config()
    timeline = _run(config)["timeline"]
    assert timeline["bucket_ns"] == 100 * MS
    indexes = [index for index, _ in timeline["buckets"]]
    # Warm-up excluded: the first bucket is the one 0.5 s after START; 30 buckets of 100 orders.
    assert indexes[0] == (START + 500 * MS) // (100 * MS) and len(indexes) == 30
    counts = [decode(payload).get_total_count() for _, payload in timeline["buckets"]]
    assert counts == [100] * 30
    plain = summarise(LoadPlan(rate=RATE, duration_s=1.0), RawRun(START, [START], [AckTimes("ack", START + 1)]))
    assert "timeline" not in plain  # only when asked for


def test_timelines_of_two_drivers_merge_bucket_by_bucket() -> None:
    result = _run(_config())
    bucket_ns, merged = merge_timelines([result, result])
    assert bucket_ns == 100 * MS
    assert all(histogram.get_total_count() == 200 for histogram in merged.values())


def test_the_blip_gap_windows_and_affected_orders() -> None:
    result = _run(_config())
    point = from_driver_results("upgrade", [result])
    blip = analyse(point, [result], SWAP)
    assert blip.valid, blip.reasons
    assert blip.gap_ns == BACK - STOP and blip.client_outage_ns == BACK - LOST
    # during = the buckets from the stop's to the first ack's, whole: [1.5 s, 2.0 s) of intended time
    assert blip.windows["before"].percentiles().count == 1000
    assert blip.windows["during"].percentiles().count == 500
    assert blip.windows["after"].percentiles().count == 1500
    assert blip.windows["before"].percentiles().max < 2 * MS
    assert blip.windows["during"].percentiles().max >= BACK - LOST - 2 * MS
    assert blip.affected == 350  # the orders due from the loss to the first ack, all slower than before
    assert blip.max_ns == point.exact_max[CORRECTED] >= BACK - LOST - MS
    rows = blip.series()
    assert rows[0][0] == -1.0 and max(top for _, top, _, _ in rows) >= 349.0
    text = "\n".join(describe(blip))
    assert "reconnect gap  400.0 ms" in text and "blip check     valid" in text
    assert "397 held for the resume, 3 resent" in text and blip.held == 397


def test_a_coordinated_omission_blind_timeline_fails_the_check() -> None:
    result = _run(_config(), blind=True)
    blip = analyse(from_driver_results("upgrade", [result]), [result], SWAP)
    assert not blip.valid
    assert any("not visible in the latency" in reason for reason in blip.reasons)


def test_no_reconnect_records_or_no_ack_after_the_restart_is_invalid() -> None:
    result = _run(_config())
    result["reconnect"] = {"resent": 0, "sessions": []}
    blip = analyse(from_driver_results("upgrade", [result]), [result], SWAP)
    assert any("no reconnect records" in reason for reason in blip.reasons)
    assert any("gap not measured" in reason for reason in blip.reasons)
