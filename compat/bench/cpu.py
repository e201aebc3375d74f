"""CPU time per order of every process on the measured path (psutil), to show where it goes.

Latency on a shared machine is mostly queueing for a core; the CPU each process spends per
order says which one to make faster. Figures include the warm-up and the driver's overhead
calibration (a few ms), so they are upper bounds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import psutil


class CpuMeter:
    """``start()`` then ``per_order(n)``: CPU microseconds per order for each named pid."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._processes: dict[str, psutil.Process] = {}
        for role, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self._processes[role] = psutil.Process(pid)
        self._start: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._start = {role: _cpu(p) for role, p in self._processes.items()}
        return self

    def per_order(self, orders: int) -> dict[str, float]:
        result: dict[str, float] = {}
        for role, process in self._processes.items():
            used = _cpu(process) - self._start.get(role, 0.0)
            if used >= 0 and orders > 0:
                result[role] = round(used / orders * 1e6, 1)
        return result


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)
