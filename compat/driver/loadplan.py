"""Open-loop constant-rate load plans, run *inside* the driver next to the client library.

Stdlib only (it ships into client venvs beside ``driver.py``), so it reads
``time.perf_counter_ns`` directly (the same clock as ``compat.timing``), injectable for tests.

How a run measures (wrk2's lesson on coordinated omission):

* Order ``i`` has an **intended** send time ``start + i / rate``, fixed before the run. The
  runner sleeps until shortly before it, then spins (yielding to the event loop, so acks
  keep being read) until it is due. A late runner sends at once and catches up; it never
  stretches the schedule.
* ``corrected`` latency = ack time - intended time, so a stall anywhere (client, gateway,
  network, the runner itself) shows up in every order that should have been sent during it.
  ``uncorrected`` = ack - actual send, and ``send_lateness`` = actual send - intended, are
  kept as separate views.
* The hot path only reads the clock, calls ``submit`` and appends to two lists. Latencies
  are computed and recorded into HDR histograms (``hdrlite``) in one batch after the run.
  Only encoded histograms and counts go back to the host.

The callback contract, for adapters (see docs/bench.md)::

    submit(i: int) -> Awaitable[AckTimes]
    outcome(value) -> AckTimes            # optional; value = the awaitable's result or exception

``submit`` is called at order ``i``'s send time. It should write order ``i`` before it
returns (then return a Future the reader resolves); a coroutine is accepted too and is
scheduled as a task, in which case it should report ``sent_ns`` itself. The awaitable
resolves to an :class:`AckTimes` (or a plain tuple in the same order) once the order is
acked, and filled too when the plan trades. Timestamps are ``time.perf_counter_ns()`` taken
where the adapter *read* the ack/fill, not where a waiting coroutine resumed.

When the client library's own future resolves to something else (an order handle carrying
its receive time, say), ``outcome`` turns each result -- or exception, such as a reject --
into an AckTimes after the run, so ``submit`` can return the library's future as it is: no
wrapper future, callback or task on the hot path.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

try:
    from compat.driver import hdrlite
except ModuleNotFoundError:  # inside a client venv: hdrlite.py is a sibling file of driver.py
    import hdrlite  # type: ignore[no-redef,import-not-found]

RESULT_VERSION = 1

ACK = "ack"
REJECTED = "rejected"


class AckTimes(NamedTuple):
    """What ``submit``'s awaitable resolves to; a plain 2- to 4-tuple in this order works too."""

    status: str  # "ack" or "rejected"
    ack_ns: int  # perf_counter_ns when the ack (or reject) was read; required
    fill_ns: int = 0  # when the (final) fill was read, for plans that trade; 0 = no fill
    sent_ns: int = 0  # when the order was written, if the adapter knows; 0 = when submit was called


Submit = Callable[[int], Awaitable[Any]]
Outcome = Callable[[Any], Any]
Clock = Callable[[], int]
Sleep = Callable[[float], Awaitable[None]]
# The harness's costs are timed in CPU time of the driver's thread: on a busy machine a replay
# that is preempted half-way would otherwise report the other processes' time as overhead.
_cpu_ns = time.thread_time_ns


@dataclass(frozen=True)
class LoadPlan:
    """One load point. ``rate`` is per driver (all its sessions together), orders per second."""

    rate: float
    duration_s: float
    warmup_s: float = 1.0
    trades: bool = False
    # Sleep until this long before an order is due, then spin. The runner's own sleep (a timerfd,
    # else ThreadSleep) wakes within ~0.1 ms, so the spin only covers that; asyncio.sleep would be up to 1 ms late
    # (epoll rounds its timeout up to whole milliseconds). -1 = automatic: 0.2 ms with 4+ cores,
    # 0.1 ms on smaller machines, where a spinning driver steals the core the system under test
    # needs (measured on 2 cores: a 1.2 ms spin at 1000/s doubled the floor's p50).
    spin_ns: int = -1
    drain_timeout_s: float = 5.0
    highest_ns: int = hdrlite.DEFAULT_HIGHEST_NS
    significant_figures: int = hdrlite.DEFAULT_SIGNIFICANT_FIGURES
    min_rate_fraction: float = 0.995
    allow_rejects: bool = False
    calibration_messages: int = 20_000
    # After this many consecutive late sends, yield once so acks keep flowing during catch-up.
    catch_up_yield_every: int = 32
    # Opaque to the runner: what the adapter should send (symbol, side, qty, price, tif...).
    order: dict[str, Any] | None = None
    # > 0: also return the corrected latency over time, one histogram per bucket of this many
    # ms of *intended* send time, aligned to the monotonic clock so drivers' buckets merge.
    timeline_bucket_ms: float = 0.0

    @classmethod
    def from_dict(cls, plan: Mapping[str, Any]) -> LoadPlan:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(plan) - known)
        if unknown:
            raise ValueError(f"unknown load plan keys {unknown}; known: {sorted(known)}")
        loaded = cls(**{key: plan[key] for key in plan})
        if loaded.rate <= 0 or loaded.duration_s <= 0 or loaded.warmup_s < 0:
            raise ValueError(f"load plan needs rate > 0, duration_s > 0, warmup_s >= 0: {dict(plan)}")
        return loaded

    def __post_init__(self) -> None:
        if self.spin_ns < 0:
            object.__setattr__(self, "spin_ns", 200_000 if (os.cpu_count() or 1) >= 4 else 100_000)

    @property
    def warmup_messages(self) -> int:
        return round(self.rate * self.warmup_s)

    @property
    def measured_messages(self) -> int:
        return max(round(self.rate * self.duration_s), 1)

    def intended_ns(self, start_ns: int, index: int) -> int:
        # The same float arithmetic as the pacer, so intended times agree to the nanosecond.
        return start_ns + int(index * (1e9 / self.rate))


@dataclass
class RawRun:
    """Everything the hot path buffered; turned into histograms by :func:`summarise`."""

    start_ns: int
    sent_ns: list[int]  # the runner's clock just before submit(i)
    outcomes: list[Any]  # AckTimes-like tuple, or an exception, or None (never completed)
    gaps: int = 0
    duplicates: int = 0
    tasks: bool = False  # submit returned coroutines, so the runner made one task per order


async def run_load_plan(
    plan: Mapping[str, Any],
    submit: Submit,
    *,
    session_counts: Callable[[], Mapping[str, int]] | None = None,
    outcome: Outcome | None = None,
    clock: Clock = time.perf_counter_ns,
    sleep: Sleep | None = None,
) -> dict[str, Any]:
    """Run one load point and return a JSON-able result with hdrlite-encoded histograms.

    ``session_counts`` (optional) returns the adapter's own ``{"gaps": n, "duplicates": m}``
    (sequence gaps and duplicate acks it saw on the sessions), read once after the drain.
    ``outcome`` (optional) maps each completed order's result or exception to an AckTimes.
    ``sleep`` defaults to :func:`make_sleep`'s for the run (tests inject a fake clock's).
    """
    config = LoadPlan.from_dict(plan)
    timer: TimerFdSleep | ThreadSleep | None = None
    if sleep is None:
        sleep = timer = make_sleep(asyncio.get_running_loop())
    try:
        raw = await pace(config, submit, clock=clock, sleep=sleep)
    finally:
        if timer is not None:
            timer.close()
    await drain(raw, config, outcome)
    if session_counts is not None:
        extra = session_counts()
        raw.gaps = int(extra.get("gaps", 0))
        raw.duplicates = int(extra.get("duplicates", 0))
    result = summarise(config, raw)
    result["overhead"] = await measure_overhead(config, clock, tasks=raw.tasks)
    result["event_loop"] = type(asyncio.get_running_loop()).__module__
    result["pacer_sleep"] = ("injected" if timer is None else "timerfd" if isinstance(timer, TimerFdSleep)
                             else "thread timer (clock_nanosleep)")
    return result


class ThreadSleep:
    """``await sleep(seconds)`` that wakes within ~0.1 ms, for the pacer.

    asyncio's epoll timeout is whole milliseconds, rounded up, so ``asyncio.sleep(0.00075)``
    returns up to 1 ms late, and how late depends on whether other I/O happens to wake the loop
    first: a floor run (fast acks, an idle loop) came out ~0.35 ms later at p50 than a gateway
    run, which flattered the gateway's ratio to it. Here a helper thread sleeps in
    ``time.sleep`` (clock_nanosleep) and wakes the loop through ``call_soon_threadsafe``; a
    zero wait yields like ``asyncio.sleep(0)``. One thread per run, closed by the runner.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._requests: queue.SimpleQueue[tuple[int, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="loadplan-timer", daemon=True)
        self._thread.start()

    async def __call__(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = self._loop.create_future()
        self._requests.put((time.perf_counter_ns() + int(seconds * 1e9), woken))
        await woken

    def _serve(self) -> None:
        while (request := self._requests.get()) is not None:
            deadline_ns, woken = request
            remaining_ns = deadline_ns - time.perf_counter_ns()
            if remaining_ns > 0:
                time.sleep(remaining_ns / 1e9)
            self._loop.call_soon_threadsafe(_wake, woken)

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=5.0)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_CLOCK_MONOTONIC = 1  # what time.perf_counter_ns reads on Linux, so deadlines carry over as is
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC


class TimerFdSleep:
    """``await sleep(seconds)`` on a Linux timerfd watched by the loop itself: no thread.

    The loop's own epoll wakes when the timer fires (nanosecond deadlines, absolute on
    CLOCK_MONOTONIC), so one wake-up per order instead of ThreadSleep's two (the helper
    thread, then the loop through its self-pipe) and no GIL hand-over between threads: less
    CPU taken from the processes under test on a small machine. Python 3.11 has no
    ``os.timerfd_create``, hence ctypes; :func:`make_sleep` falls back to ThreadSleep where
    libc lacks timerfd. A zero wait yields like ``asyncio.sleep(0)``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._settime = libc.timerfd_settime
        fd = int(libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
        if fd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_create: {os.strerror(errno)}")
        self._fd = fd
        self._loop = loop
        self._spec = _Itimerspec()  # reused: one armed deadline at a time
        self._waiter: asyncio.Future[None] | None = None
        loop.add_reader(fd, self._fired)

    async def __call__(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        deadline_ns = time.perf_counter_ns() + int(seconds * 1e9)
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(deadline_ns, 1_000_000_000)
        if self._settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"timerfd_settime: {os.strerror(errno)}")
        self._waiter = woken = self._loop.create_future()
        await woken

    def _fired(self) -> None:
        try:
            os.read(self._fd, 8)  # the expiry count; reading it re-arms readiness
        except BlockingIOError:
            return  # re-armed for a later deadline before this expiry was read
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            _wake(waiter)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        os.close(self._fd)


def make_sleep(loop: asyncio.AbstractEventLoop) -> TimerFdSleep | ThreadSleep:
    """The pacer's sleep: a timerfd on Linux, else a helper thread."""
    try:
        return TimerFdSleep(loop)
    except (OSError, AttributeError):  # no timerfd in this libc (AttributeError: no such symbol)
        return ThreadSleep(loop)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():  # its waiter may have been cancelled
        woken.set_result(None)


async def pace(config: LoadPlan, submit: Submit, *, clock: Clock = time.perf_counter_ns,
               sleep: Sleep = asyncio.sleep) -> RawRun:
    """Send every order at (or, when late, as soon as possible after) its intended time."""
    total = config.warmup_messages + config.measured_messages
    spin_ns = config.spin_ns
    period = 1e9 / config.rate
    sent: list[int] = []
    pending: list[Any] = []
    record_sent = sent.append
    record_pending = pending.append
    start_ns = clock() + 2_000_000  # a little lead so order 0 is not late by construction
    late_streak = 0
    # A coroutine submit must be scheduled now, not at drain time; decided once, off the hot path.
    wrap = False
    for index in range(total):
        due = start_ns + int(index * period)
        now = clock()
        if now < due:
            late_streak = 0
            if due - now > spin_ns:
                await sleep((due - now - spin_ns) / 1e9)
            while clock() < due:
                await sleep(0)  # the spin yields, so acks are read while we wait
        else:
            late_streak += 1
            if late_streak >= config.catch_up_yield_every:
                late_streak = 0
                await sleep(0)
        record_sent(clock())
        acked = submit(index)
        if index == 0:
            wrap = asyncio.iscoroutine(acked)
        record_pending(asyncio.ensure_future(acked) if wrap else acked)
    return RawRun(start_ns=start_ns, sent_ns=sent, outcomes=pending, tasks=wrap)


async def drain(raw: RawRun, config: LoadPlan, outcome: Outcome | None = None) -> None:
    """Wait (bounded) for every outstanding ack; replace awaitables with their outcomes.

    A ``submit`` that broke the contract and returned a plain value instead of an awaitable
    has that value taken as the outcome (so a bad adapter voids the run, it does not crash it).
    ``outcome`` converts each completed result or exception; if it raises, that exception is
    the order's outcome (an error that voids the run).
    """
    items = [asyncio.ensure_future(item) if inspect.isawaitable(item) else item for item in raw.outcomes]
    futures = [item for item in items if isinstance(item, asyncio.Future)]
    if futures:
        await asyncio.wait(futures, timeout=config.drain_timeout_s)
    outcomes: list[Any] = []
    for item in items:
        if not isinstance(item, asyncio.Future):
            outcomes.append(item)
        elif not item.done():
            item.cancel()
            outcomes.append(None)
        elif item.cancelled():
            outcomes.append(None)
        else:
            error = item.exception()
            value = error if error is not None else item.result()
            outcomes.append(value if outcome is None else _converted(outcome, value))
    raw.outcomes = outcomes


def _converted(outcome: Outcome, value: Any) -> Any:
    try:
        return outcome(value)
    except Exception as exc:  # a broken converter voids the run with its reason, never crashes it
        return exc


def summarise(config: LoadPlan, raw: RawRun) -> dict[str, Any]:
    """Pure: raw buffers → counts, rates, validity and encoded histograms (batch-recorded)."""
    warmup = config.warmup_messages
    measured = len(raw.sent_ns) - warmup
    names = ["corrected_ack", "uncorrected_ack", "send_lateness"]
    if config.trades:
        names += ["corrected_fill", "uncorrected_fill"]
    buffers: dict[str, list[int]] = {name: [] for name in names}
    counts = {"planned": config.warmup_messages + config.measured_messages, "sent": len(raw.sent_ns),
              "warmup": min(warmup, len(raw.sent_ns)), "measured": max(measured, 0), "acked": 0,
              "rejected": 0, "lost": 0, "unfilled": 0, "errors": 0,
              "gaps": raw.gaps, "duplicates": raw.duplicates}
    errors: list[str] = []
    last_ack = 0
    first_intended = config.intended_ns(raw.start_ns, warmup)
    for index, (runner_sent, outcome) in enumerate(zip(raw.sent_ns, raw.outcomes, strict=True)):
        if outcome is None:
            counts["lost"] += 1
            continue
        if isinstance(outcome, BaseException):
            counts["errors"] += 1
            if len(errors) < 5:
                errors.append(f"order {index}: {type(outcome).__name__}: {outcome}")
            continue
        status, ack_ns, fill_ns, adapter_sent = _unpack(outcome)
        if status == REJECTED:
            counts["rejected"] += 1
        elif status == ACK:
            counts["acked"] += 1
        else:
            counts["errors"] += 1
            if len(errors) < 5:
                errors.append(f"order {index}: unknown status {status!r} (expected 'ack' or 'rejected')")
            continue
        if ack_ns <= 0:
            counts["errors"] += 1
            if len(errors) < 5:
                errors.append(f"order {index}: the adapter returned no ack_ns")
            continue
        if config.trades and status == ACK and fill_ns <= 0:
            counts["unfilled"] += 1
        if index < warmup:
            continue
        intended = config.intended_ns(raw.start_ns, index)
        sent_at = adapter_sent or runner_sent
        last_ack = max(last_ack, ack_ns)
        buffers["corrected_ack"].append(ack_ns - intended)
        buffers["uncorrected_ack"].append(ack_ns - sent_at)
        buffers["send_lateness"].append(runner_sent - intended)
        if config.trades and fill_ns > 0:
            buffers["corrected_fill"].append(fill_ns - intended)
            buffers["uncorrected_fill"].append(fill_ns - sent_at)

    achieved = 0.0
    if measured > 1:
        span = raw.sent_ns[-1] - first_intended
        achieved = (measured - 1) * 1e9 / span if span > 0 else float(measured) * config.rate
    completed = counts["acked"] + counts["rejected"]
    ack_rate = 0.0
    if measured > 1 and last_ack > first_intended:
        ack_rate = (min(completed, measured) - 1) * 1e9 / (last_ack - first_intended)

    histograms: dict[str, str] = {}
    summaries: dict[str, dict[str, int]] = {}
    record_ns = 0
    recorded = 0
    for name, values in buffers.items():
        histogram = hdrlite.HdrLite(1, config.highest_ns, config.significant_figures)
        began = _cpu_ns()
        histogram.record_many(values)
        record_ns += _cpu_ns() - began
        recorded += len(values)
        histograms[name] = histogram.encode()
        summaries[name] = histogram.summary()

    reasons = validity_reasons(config, counts, achieved)
    reasons += errors
    result: dict[str, Any] = {
        "version": RESULT_VERSION,
        "plan": asdict(config),
        "valid": not reasons,
        "invalid_reasons": reasons,
        "target_rate": config.rate,
        "achieved_rate": achieved,
        "ack_rate": ack_rate,
        "counts": counts,
        "histograms": histograms,
        "summaries": summaries,
        "record_ns_per_sample": record_ns / recorded if recorded else 0.0,
    }
    if config.timeline_bucket_ms > 0:
        result["timeline"] = timeline(config, raw)
    return result


def timeline(config: LoadPlan, raw: RawRun) -> dict[str, Any]:
    """Corrected ack latency per bucket of intended send time (measured window only).

    Bucket ``k`` holds the orders intended in ``[k * bucket_ns, (k + 1) * bucket_ns)`` of the
    monotonic clock (``perf_counter_ns``, one clock for every process of a host), so the host
    merges the same bucket of several drivers and lines them up with its own events.
    """
    bucket_ns = max(int(config.timeline_bucket_ms * 1e6), 1)
    values: dict[int, list[int]] = {}
    for index in range(config.warmup_messages, len(raw.outcomes)):
        outcome = raw.outcomes[index]
        if outcome is None or isinstance(outcome, BaseException):
            continue
        status, ack_ns, _, _ = _unpack(outcome)
        if ack_ns <= 0 or status not in (ACK, REJECTED):
            continue
        intended = config.intended_ns(raw.start_ns, index)
        values.setdefault(intended // bucket_ns, []).append(ack_ns - intended)
    buckets = []
    for key in sorted(values):
        histogram = hdrlite.HdrLite(1, config.highest_ns, config.significant_figures)
        histogram.record_many(values[key])
        buckets.append([key, histogram.encode()])
    return {"metric": "corrected_ack", "bucket_ns": bucket_ns, "buckets": buckets}


def validity_reasons(config: LoadPlan, counts: Mapping[str, int], achieved: float) -> list[str]:
    """Why a run is not a result (empty when valid). Any loss voids it."""
    reasons = []
    if achieved < config.min_rate_fraction * config.rate:
        reasons.append(f"achieved rate {achieved:.1f}/s is below {config.min_rate_fraction:.1%} "
                       f"of the target {config.rate:.1f}/s")
    for key in ("lost", "errors", "gaps", "duplicates", "unfilled"):
        if counts.get(key, 0):
            reasons.append(f"{counts[key]} {key}")
    if counts.get("rejected", 0) and not config.allow_rejects:
        reasons.append(f"{counts['rejected']} rejected (the plan does not allow rejects)")
    return reasons


async def measure_overhead(config: LoadPlan, clock: Clock = time.perf_counter_ns,
                           tasks: bool = False) -> dict[str, Any]:
    """The runner's own cost per message: the hot path replayed against a null submit.

    It repeats the per-message work of :func:`pace` (due-time arithmetic, two clock reads,
    the submit call, two appends) with a submit that does nothing, so the figure is what the
    harness adds on top of the client library, per order. When the real submit returned
    coroutines (``tasks``), the runner also created and ran one task per order; that cost is
    included in ``per_message_ns_mean`` and ``bookkeeping_ns_mean`` shows the rest alone.
    Timed in the thread's CPU time (``method`` says so), so preemption is not counted.
    """
    n = config.calibration_messages
    bookkeeping = _replay_hot_path(config, clock, _null_ack, n)[0] / n if n else 0.0
    result: dict[str, Any] = {"per_message_ns_mean": bookkeeping, "bookkeeping_ns_mean": bookkeeping,
                              "calibration_messages": n, "submit": "future",
                              "method": "hot path replayed against a null submit (no pacing waits), thread CPU time"}
    if tasks and n:
        # In small batches, as in a run where tasks finish as their acks arrive (a burst of
        # thousands of live tasks would measure the allocator and GC, not the runner).
        elapsed = 0
        for _ in range(max(n // _TASK_BATCH, 1)):
            spent, pending = _replay_hot_path(config, clock, _null_coroutine, _TASK_BATCH)
            began = _cpu_ns()
            while not pending[-1].done():  # every task was scheduled at creation
                await asyncio.sleep(0)
            elapsed += spent + _cpu_ns() - began
        measured = max(n // _TASK_BATCH, 1) * _TASK_BATCH
        result.update(per_message_ns_mean=elapsed / measured, submit="coroutine (one task per order)")
    return result


def _replay_hot_path(config: LoadPlan, clock: Clock, submit: Callable[[int], Any],
                     n: int) -> tuple[int, list[Any]]:
    sent: list[int] = []
    pending: list[Any] = []
    record_sent = sent.append
    record_pending = pending.append
    period = 1e9 / config.rate
    wrap = False
    start_ns = clock()
    began = _cpu_ns()
    for index in range(n):
        due = start_ns + int(index * period) - (1 << 62)
        if clock() < due:  # the pacing comparison (never true here: no waiting)
            continue
        record_sent(clock())
        acked = submit(index)
        if index == 0:
            wrap = asyncio.iscoroutine(acked)
        record_pending(asyncio.ensure_future(acked) if wrap else acked)
    return _cpu_ns() - began, pending


_NULL_ACK = AckTimes(ACK, 1)
_TASK_BATCH = 64


def _null_ack(index: int) -> Any:
    return _NULL_ACK


async def _null_coroutine(index: int) -> Any:
    return _NULL_ACK


def _unpack(outcome: Any) -> tuple[str, int, int, int]:
    values = tuple(outcome) if isinstance(outcome, tuple | list) else (f"<{type(outcome).__name__}>",)
    status = str(values[0])
    ack_ns = int(values[1]) if len(values) > 1 else 0
    fill_ns = int(values[2]) if len(values) > 2 else 0
    sent_ns = int(values[3]) if len(values) > 3 else 0
    return status, ack_ns, fill_ns, sent_ns
