"""The open-loop runner: intended-time accounting on a fake clock, validity, counts."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from compat.driver import loadplan
from compat.driver.loadplan import AckTimes, LoadPlan, RawRun, run_load_plan, summarise


class FakeClock:
    """Nanoseconds that move only when read (a little) or slept (exactly)."""

    def __init__(self, read_cost_ns: int = 100) -> None:
        self.now = 1_000_000_000
        self.read_cost_ns = read_cost_ns
        self.sleeps: list[float] = []

    def __call__(self) -> int:
        self.now += self.read_cost_ns
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += int(seconds * 1e9)


def test_pacer_sends_on_the_intended_schedule_and_never_early() -> None:
    clock = FakeClock()
    config = LoadPlan(rate=1000, duration_s=0.05, warmup_s=0.01)
    sent_at: list[int] = []

    def submit(index: int) -> Awaitable[Any]:
        sent_at.append(clock.now)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(AckTimes("ack", clock.now + 50_000))
        return future

    raw = asyncio.run(loadplan.pace(config, submit, clock=clock, sleep=clock.sleep))
    assert len(raw.sent_ns) == config.warmup_messages + config.measured_messages == 60
    for index, sent in enumerate(raw.sent_ns):
        due = config.intended_ns(raw.start_ns, index)
        assert due <= sent <= due + 1_000, (index, sent - due)  # spin ends within a few reads
    # The coarse wait is a real sleep that stops spin_ns short of the due time.
    assert any(s > 0 for s in clock.sleeps)


def test_a_late_runner_catches_up_and_latency_counts_from_the_intended_time() -> None:
    clock = FakeClock()
    config = LoadPlan(rate=1000, duration_s=0.02, warmup_s=0.0)
    stall_at = 5

    def submit(index: int) -> Awaitable[Any]:
        if index == stall_at:
            clock.now += 10_000_000  # the client stalls 10 ms while sending order 5
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(AckTimes("ack", clock.now + 100_000))
        return future

    raw = asyncio.run(loadplan.pace(config, submit, clock=clock, sleep=clock.sleep))
    result = summarise(config, _resolved(raw))
    corrected = HdrHistogram.decode(result["histograms"]["corrected_ack"])
    uncorrected = HdrHistogram.decode(result["histograms"]["uncorrected_ack"])
    # Orders 6..14 were due during the stall: corrected latency sees it, uncorrected does not.
    assert corrected.get_max_value() >= 9_000_000
    assert uncorrected.get_max_value() < 10_500_000
    slow = sum(1 for i in range(config.measured_messages)
               if raw.outcomes[i][1] - config.intended_ns(raw.start_ns, i) > 5_000_000)
    assert slow >= 5
    lateness = HdrHistogram.decode(result["histograms"]["send_lateness"])
    assert lateness.get_max_value() >= 8_000_000


def test_summarise_counts_and_validity() -> None:
    config = LoadPlan(rate=1000, duration_s=0.01, warmup_s=0.002)  # 2 warm-up + 10 measured
    start = 0
    sent = [config.intended_ns(start, i) + 10 for i in range(12)]
    outcomes: list[Any] = [AckTimes("ack", s + 1_000) for s in sent]
    outcomes[3] = ("rejected", sent[3] + 500)  # a plain tuple works too
    outcomes[4] = None  # never acked: lost
    outcomes[5] = RuntimeError("boom")
    result = summarise(config, RawRun(start, sent, outcomes, gaps=1, duplicates=0))
    counts = result["counts"]
    assert counts["warmup"] == 2 and counts["measured"] == 10
    assert (counts["acked"], counts["rejected"], counts["lost"]) == (9, 1, 1)
    assert (counts["errors"], counts["gaps"]) == (1, 1)
    assert result["valid"] is False
    reasons = " ".join(result["invalid_reasons"])
    assert "1 lost" in reasons and "1 gaps" in reasons and "rejected" in reasons and "RuntimeError" in reasons
    # warm-up orders are excluded from the histograms
    assert result["summaries"]["corrected_ack"]["count"] == 8


def test_a_run_below_99_5_percent_of_target_is_invalid() -> None:
    config = LoadPlan(rate=1000, duration_s=0.1, warmup_s=0.0)
    # every send 1% later than planned: achieved ~990/s
    sent = [int(i * 1.01e6) for i in range(100)]
    outcomes = [AckTimes("ack", s + 1000) for s in sent]
    result = summarise(config, RawRun(0, sent, outcomes))
    assert result["achieved_rate"] < 995
    assert result["valid"] is False
    assert "achieved rate" in result["invalid_reasons"][0]


def test_end_to_end_with_a_coroutine_submit_on_the_real_clock() -> None:
    async def main() -> dict[str, Any]:
        async def submit(index: int) -> AckTimes:
            await asyncio.sleep(0)
            return AckTimes("ack", time.perf_counter_ns())

        return await run_load_plan({"rate": 2000, "duration_s": 0.2, "warmup_s": 0.05,
                                    "calibration_messages": 1000}, submit,
                                   session_counts=lambda: {"gaps": 0, "duplicates": 0})

    result = asyncio.run(main())
    assert result["counts"]["acked"] == result["counts"]["sent"] == 500
    assert result["counts"]["lost"] == 0
    overhead = result["overhead"]
    assert overhead["submit"].startswith("coroutine")
    assert overhead["per_message_ns_mean"] > overhead["bookkeeping_ns_mean"] > 0  # the task per order costs
    assert HdrHistogram.decode(result["histograms"]["corrected_ack"]).get_total_count() == 400


def test_unknown_plan_keys_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown load plan keys"):
        LoadPlan.from_dict({"rate": 1, "duration_s": 1, "speed": 3})


def _resolved(raw: RawRun) -> RawRun:
    raw.outcomes = [future.result() for future in raw.outcomes]
    return raw


def test_a_submit_that_breaks_the_contract_voids_the_run_instead_of_crashing() -> None:
    async def main() -> dict[str, Any]:
        def submit(index: int) -> Any:
            return "not an awaitable" if index % 2 else AckTimes("ack", time.perf_counter_ns())

        return await run_load_plan({"rate": 1000, "duration_s": 0.02, "warmup_s": 0.0,
                                    "calibration_messages": 10}, submit)

    result = asyncio.run(main())
    assert result["valid"] is False
    assert result["counts"]["errors"] == 10
    assert "unknown status" in " ".join(result["invalid_reasons"])


class _Rejected(Exception):
    def __init__(self, received_ns: int) -> None:
        super().__init__("rejected")
        self.received_ns = received_ns


def test_outcome_converts_library_futures_results_and_exceptions_after_the_run() -> None:
    """submit returns the library's own future (a handle, or a reject exception); ``outcome``
    maps each to AckTimes after the run. A converter that raises voids the run, naming why."""

    class Handle:
        def __init__(self, received_ns: int) -> None:
            self.received_ns = received_ns

    def outcome(value: Any) -> tuple[str, int]:
        if isinstance(value, _Rejected):
            return ("rejected", value.received_ns)
        if isinstance(value, BaseException):
            raise value
        if value.received_ns < 0:
            raise ValueError("a handle from the future")
        return ("ack", value.received_ns)

    async def main(bad_every: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()

        def submit(index: int) -> Any:
            future = loop.create_future()
            if index % 10 == 9:
                loop.call_soon(future.set_exception, _Rejected(time.perf_counter_ns()))
            elif bad_every and index % bad_every == 0:
                loop.call_soon(future.set_result, Handle(-1))
            else:
                loop.call_soon(future.set_result, Handle(time.perf_counter_ns()))
            return future

        return await run_load_plan({"rate": 2000, "duration_s": 0.1, "warmup_s": 0.0, "allow_rejects": True,
                                    "calibration_messages": 100}, submit, outcome=outcome)

    result = asyncio.run(main(0))
    # (validity also needs the achieved rate, which a loaded machine can miss: not this test's point)
    assert not [reason for reason in result["invalid_reasons"] if not reason.startswith("achieved rate")]
    assert result["counts"]["errors"] == 0
    assert result["counts"]["acked"] == 180 and result["counts"]["rejected"] == 20
    assert result["overhead"]["submit"] == "future"
    assert HdrHistogram.decode(result["histograms"]["corrected_ack"]).get_total_count() == 200

    broken = asyncio.run(main(50))
    assert broken["valid"] is False and broken["counts"]["errors"] == 4
    assert "ValueError: a handle from the future" in " ".join(broken["invalid_reasons"])


@pytest.mark.parametrize("kind", ["thread", "timerfd", "timerfd-uvloop"])
def test_pacer_sleeps_never_wake_early_yield_on_zero_and_survive_a_cancelled_waiter(kind: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        timer = loadplan.ThreadSleep(loop) if kind == "thread" else loadplan.TimerFdSleep(loop)
        try:
            for wait_s in (0.0005, 0.002, 0.0001):
                began = time.perf_counter_ns()
                await timer(wait_s)
                assert time.perf_counter_ns() - began >= wait_s * 1e9  # a lower bound, never early
            await timer(0)  # yields like asyncio.sleep(0)
            waiter = asyncio.ensure_future(timer(0.05))
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            await timer(0.001)  # the thread goes on after a cancelled waiter's wake-up
        finally:
            timer.close()
        if isinstance(timer, loadplan.ThreadSleep):
            assert not timer._thread.is_alive()
        else:
            with pytest.raises(OSError):
                os.fstat(timer._fd)  # closed

    if kind == "timerfd-uvloop":
        uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed in this Python")
        uvloop.run(main())
    else:
        asyncio.run(main())


def test_the_run_paces_with_a_timerfd_on_linux() -> None:
    async def main() -> dict[str, Any]:
        async def submit(_: int) -> AckTimes:
            return AckTimes(loadplan.ACK, time.perf_counter_ns())

        return await loadplan.run_load_plan({"rate": 500, "duration_s": 0.2, "warmup_s": 0.0,
                                             "calibration_messages": 100}, submit)

    result = asyncio.run(main())
    assert result["pacer_sleep"] == ("timerfd" if sys.platform == "linux" else "thread timer (clock_nanosleep)")
    assert result["counts"]["acked"] == 100
