"""How many xdist workers ``-n auto`` starts for a matrix run.

A matrix run waits far more than it computes: each worker drives one cell's processes (the
exchange, the gateway, the client drivers) and spends most of a scenario waiting on their
round trips, quiet windows and timeouts. Two workers on two cores kept them about 43 % busy
(docs/matrix-speed.md). So for a run that keeps only compat scenarios, ``-n auto`` starts
``compat_workers_per_cpu`` workers per CPU this process may run on (2 by default; 1 for a
product that keeps a core busy by itself), instead of xdist's one per core. Any other run, an
explicit ``-n N`` and xdist's ``PYTEST_XDIST_AUTO_NUM_WORKERS`` are left as they are.
"""

from __future__ import annotations

import os

INI = "compat_workers_per_cpu"
DEFAULT_PER_CPU = "2"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask: a container's or taskset's limit)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity masks on this platform
        return os.cpu_count() or 1


def per_cpu(value: str) -> float:
    """The ini value ``compat_workers_per_cpu``, checked: a positive number."""
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise ValueError(f"{INI} = {value!r}: expected a positive number of workers per CPU (e.g. 2, 1, 1.5)")
    return number


def matrix_workers(cpus: int, workers_per_cpu: float) -> int:
    """Workers for a matrix run on ``cpus`` CPUs: at least one."""
    return max(1, round(cpus * workers_per_cpu))


__all__ = ["DEFAULT_PER_CPU", "INI", "matrix_workers", "per_cpu", "usable_cpus"]
