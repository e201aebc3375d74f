"""What each process on the measured path spends per order: CPU time, context switches, page faults.

Latency on a shared machine is mostly queueing for a core; what a process *spends* per order
is much steadier, and it says which process to make faster. Three counters per process,
read before and after a load point and divided by the orders sent:

- ``cpu_us``: CPU time (user + system) in microseconds, read from the process's CPU-time
  clock (``clock_gettime`` on the clock id ``clock_getcpuclockid`` would give: nanoseconds,
  every thread, exited threads included). Where that clock cannot be read, psutil's
  ``cpu_times`` (clock ticks, 10 ms) stands in.
- ``switches``: voluntary context switches (the process blocked: a wake-up per loop turn),
  summed over its threads from ``/proc/PID/task/*/status``. Involuntary switches are left
  out: they count preemptions, which is the machine's load, not the process's work.
- ``faults``: minor page faults (``/proc/PID/stat``), memory the process touched anew.

Figures include the warm-up and the driver's overhead calibration (a few ms), the same on
both sides of a comparison. Processes on an ``ssh`` host have remote pids: only
``LocalProcess`` (local and netns hosts) pids are given here by the callers.

Several processes of one role (the client's driver processes) add up into the role.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

# The per-order figures a load point carries in ``extra``, by counter.
PER_ORDER_KEYS = {"cpu_us": "cpu_us_per_order", "switches": "switches_per_order", "faults": "faults_per_order"}
_CPUCLOCK_SCHED = 2  # linux/posix-timers.h: the process-wide "sched" CPU clock


@dataclass(frozen=True)
class Usage:
    cpu_ns: int
    switches: int
    faults: int

    def minus(self, other: Usage) -> Usage:
        return Usage(self.cpu_ns - other.cpu_ns, self.switches - other.switches, self.faults - other.faults)


def process_cpu_clock(pid: int) -> int:
    """The clock id of ``pid``'s process CPU-time clock (what glibc's ``clock_getcpuclockid`` returns)."""
    clock = ((~pid) << 3) | _CPUCLOCK_SCHED
    return ((clock + 2**31) % 2**32) - 2**31  # a C int: two's complement in 32 bits


def read_usage(pid: int) -> Usage | None:
    """The counters of ``pid`` now; None when it is gone."""
    try:
        cpu_ns = time.clock_gettime_ns(process_cpu_clock(pid))
    except OSError:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            return None
        cpu_ns = int((times.user + times.system) * 1e9)
    return Usage(cpu_ns, _voluntary_switches(pid), _minor_faults(pid))


def _voluntary_switches(pid: int) -> int:
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text(encoding="ascii", errors="replace").splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    if total:
        return total
    with contextlib.suppress(psutil.Error):  # no /proc tasks (not Linux): the process's own count
        return int(psutil.Process(pid).num_ctx_switches().voluntary)
    return 0


def _minor_faults(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    # Fields after the command (which may hold spaces): state is field 3, minflt field 10.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[7]) if len(fields) > 7 else 0


class PathMeter:
    """``start()`` then ``per_order(n)``: each role's counters per order over the window.

    ``roles`` maps a role ("gateway", "exchange", "client") to the pids that make it up.
    """

    def __init__(self, roles: Mapping[str, Iterable[int]]) -> None:
        self._roles = {role: tuple(pids) for role, pids in roles.items()}
        self._start: dict[int, Usage] = {}

    def start(self) -> PathMeter:
        self._start = {pid: usage for pids in self._roles.values() for pid in pids
                       if (usage := read_usage(pid)) is not None}
        return self

    def per_order(self, orders: int) -> dict[str, dict[str, float]]:
        """``{"cpu_us_per_order": {role: value}, "switches_per_order": ..., "faults_per_order": ...}``."""
        result: dict[str, dict[str, float]] = {key: {} for key in PER_ORDER_KEYS.values()}
        if orders <= 0:
            return result
        for role, pids in self._roles.items():
            used = [end.minus(self._start[pid]) for pid in pids
                    if pid in self._start and (end := read_usage(pid)) is not None]
            if len(used) != len(pids) or any(u.cpu_ns < 0 for u in used):
                continue  # a process gone or replaced mid-window: no honest figure for the role
            result["cpu_us_per_order"][role] = round(sum(u.cpu_ns for u in used) / orders / 1000, 2)
            result["switches_per_order"][role] = round(sum(u.switches for u in used) / orders, 4)
            result["faults_per_order"][role] = round(sum(u.faults for u in used) / orders, 4)
        return result
