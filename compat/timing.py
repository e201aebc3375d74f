"""The only clock compat reads.

Durations use the monotonic ``perf_counter_ns``; wall time is for timestamps only.
Tests swap the clock with :func:`use_clock`.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_monotonic_ns: Callable[[], int] = time.perf_counter_ns
_wall_ns: Callable[[], int] = time.time_ns


def monotonic_ns() -> int:
    """Nanoseconds from an arbitrary origin; only differences mean anything."""
    return _monotonic_ns()


def monotonic() -> float:
    """Seconds from an arbitrary origin, as a float, for timeouts and durations."""
    return _monotonic_ns() / 1e9


def wall_ns() -> int:
    """Wall-clock nanoseconds since the epoch; for timestamps, never for durations."""
    return _wall_ns()


def utc_timestamp() -> str:
    """An ISO-8601 UTC timestamp with second precision, for reports and logs."""
    seconds = _wall_ns() / 1e9
    return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Deadline:
    """A point on the monotonic clock; ``remaining()`` never goes below zero."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._end_ns = monotonic_ns() + int(timeout_s * 1e9)

    def remaining(self) -> float:
        return max(0.0, (self._end_ns - monotonic_ns()) / 1e9)

    def expired(self) -> bool:
        return monotonic_ns() >= self._end_ns


@contextmanager
def use_clock(monotonic_clock: Callable[[], int], wall_clock: Callable[[], int] | None = None) -> Iterator[None]:
    """Swap the clocks for a test; restores the real ones afterwards."""
    global _monotonic_ns, _wall_ns
    saved = (_monotonic_ns, _wall_ns)
    _monotonic_ns = monotonic_clock
    if wall_clock is not None:
        _wall_ns = wall_clock
    try:
        yield
    finally:
        _monotonic_ns, _wall_ns = saved
