"""The floor rig: echo + relay + floor drivers started through the harness, measured in-run.

``client driver -> relay -> echo -> relay -> client driver`` on the host(s) given, with the
real driver program (``compat/driver/driver.py``) loading ``floor_adapter.py``, so the floor
is measured by exactly the code that measures the gateway: driver, load plan runner,
histograms. Several driver processes split the rate; their histograms are merged.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from threading import Event
from typing import Any

import compat
from compat import timing
from compat.bench.cpu import PathMeter
from compat.bench.loadpoint import LoadPoint, from_driver_results
from compat.driver import DRIVER_SCRIPT
from compat.driver.handle import DriverHandle
from compat.errors import HarnessError, StartError
from compat.harness.command import Command
from compat.harness.host import Host, Process
from compat.harness.local import LocalProcess
from compat.harness.ready import ReadyLine, parse_addresses

FLOOR_ADAPTER = Path(__file__).resolve().parent / "floor_adapter.py"
_SOURCE_ROOT = str(Path(compat.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Stall:
    """SIGSTOP ``target`` for ``duration_s``, ``after_s`` after the load plan was sent."""

    after_s: float
    duration_s: float


@dataclass(frozen=True)
class StallRecord:
    requested_ns: int
    observed_ns: int  # from the SIGSTOP call returning to the SIGCONT call returning


def run_drivers(
    label: str,
    handles: Mapping[str, DriverHandle],
    plan: Mapping[str, Any],
    *,
    sessions: Mapping[str, list[str]],
    stall: Stall | None = None,
    stall_target: Process | None = None,
    path: Mapping[str, Process] | None = None,
) -> tuple[LoadPoint, StallRecord | None]:
    """Run ``plan`` (its ``rate`` is the total) split evenly over ``handles``, concurrently.

    Used for the floor and for the gateway alike. Returns the merged load point and, when a
    stall was injected, how long the target was actually stopped.
    """
    midrun: MidRun | None = None
    if stall is not None:
        if stall_target is None:
            raise HarnessError("a stall was requested but no process to stop was given")
        target = stall_target
        midrun = MidRun(stall.after_s, lambda: stall_process(stall, target), "the stall")
    point, _, record = run_drivers_raw(label, handles, plan, sessions=sessions, midrun=midrun, path=path)
    return point, record


@dataclass(frozen=True)
class MidRun:
    """Call ``action`` once, ``after_s`` after the load plans were sent (a stall, a swap)."""

    after_s: float
    action: Callable[[], Any]
    what: str = "the mid-run action"


def run_drivers_raw(
    label: str,
    handles: Mapping[str, DriverHandle],
    plan: Mapping[str, Any],
    *,
    sessions: Mapping[str, list[str]],
    midrun: MidRun | None = None,
    path: Mapping[str, Process | int] | None = None,
) -> tuple[LoadPoint, list[dict[str, Any]], Any]:
    """``run_drivers`` that also returns every driver's raw result and ``midrun``'s return value.

    ``path`` names the processes on the measured path besides the drivers (gateway, exchange;
    relay, echo; a pid: a process of this machine): with the drivers (role "client") their
    CPU, switches and faults per order go to the load point's ``extra`` (``compat.bench.cpu``).
    """
    count = len(handles)
    per_driver = dict(plan)
    per_driver["rate"] = float(plan["rate"]) / count
    timeout_s = float(plan.get("warmup_s", 1.0)) + float(plan["duration_s"]) + \
        float(plan.get("drain_timeout_s", 5.0)) + 30.0
    done: Any = None
    meter = PathMeter(_local_pids(path or {}, handles)).start()
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="bench-driver") as pool:
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(_call_plan, handle, per_driver, sessions[name], timeout_s)
            for name, handle in handles.items()
        ]
        if midrun is not None:
            _wait_until_due(midrun, futures)
            done = midrun.action()
        results = [future.result() for future in futures]
    point = from_driver_results(label, results)
    point.extra.update(meter.per_order(point.counts.get("sent", 0)))
    return point, results, done


def _local_pids(path: Mapping[str, Process | int], handles: Mapping[str, DriverHandle]) -> dict[str, list[int]]:
    """Role -> pids of this machine (an ssh host's pid is remote: that role is left out)."""
    roles = {role: [process if isinstance(process, int) else process.pid] for role, process in path.items()
             if isinstance(process, int | LocalProcess)}
    drivers = [handle.channel.pid for handle in handles.values() if isinstance(handle.channel, LocalProcess)]
    if drivers:
        roles["client"] = drivers
    return roles


def _call_plan(handle: DriverHandle, plan: Mapping[str, Any], sessions: list[str],
               timeout_s: float) -> dict[str, Any]:
    return handle.call("run_load_plan", host_timeout_s=timeout_s, session=sessions[0], plan=dict(plan),
                       sessions=sessions)


def _wait_until_due(midrun: MidRun, futures: list[Future[dict[str, Any]]]) -> None:
    # Waiting here schedules the fault at a point of the run; it synchronises nothing.
    # A driver that fails early ends the wait at once.
    finished = Event()
    for future in futures:
        future.add_done_callback(lambda _: finished.set())
    if finished.wait(midrun.after_s):
        raise HarnessError(f"a driver finished before {midrun.what} was due ({midrun.after_s:.2f}s); "
                           "lengthen duration_s or check the driver log")


def stall_process(stall: Stall, target: Process) -> StallRecord:
    began = timing.monotonic_ns()
    target.send_signal(signal.SIGSTOP)
    try:
        Event().wait(stall.duration_s)  # the stall itself: the target is stopped meanwhile
    finally:
        target.send_signal(signal.SIGCONT)
    observed = timing.monotonic_ns() - began
    return StallRecord(int(stall.duration_s * 1e9), observed)


class FloorRig:
    """Echo, relay and ``drivers`` floor driver processes with ``connections`` sessions each."""

    def __init__(self, host: Host, log_dir: Path, *, drivers: int = 1, connections: int = 1,
                 driver_python: str = sys.executable, relay_python: str = sys.executable,
                 payload_size: int = 64, start_timeout_s: float = 15.0, relay_loop: str = "asyncio") -> None:
        self.host = host
        self.log_dir = Path(log_dir)
        self.drivers = drivers
        self.connections = connections
        self.driver_python = driver_python
        self.relay_python = relay_python
        self.payload_size = payload_size
        self.start_timeout_s = start_timeout_s
        self.relay_loop = relay_loop  # "auto" = uvloop iff installed, as refgw does
        self.echo: Process | None = None
        self.relay: Process | None = None
        self.relay_address: tuple[str, int] | None = None
        self.handles: dict[str, DriverHandle] = {}
        self.sessions: dict[str, list[str]] = {}
        self._exit = ExitStack()

    def __enter__(self) -> FloorRig:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._exit.close()

    def start(self) -> None:
        self.echo = self._start_relay("echo", [])
        echo_address = self._listen_address(self.echo)
        self.relay = self._start_relay("relay", ["--upstream", f"{echo_address[0]}:{echo_address[1]}"])
        self.relay_address = self._listen_address(self.relay)
        for number in range(1, self.drivers + 1):
            name = f"floor-driver-{number}"
            handle = self._start_driver(name)
            names = [f"s{k}" for k in range(1, self.connections + 1)]
            for session in names:
                handle.call("connect", host_timeout_s=self.start_timeout_s, session=session,
                            host=self.relay_address[0], port=self.relay_address[1],
                            payload_size=self.payload_size)
            self.handles[name] = handle
            self.sessions[name] = names

    def run(self, plan: Mapping[str, Any],
            stall: Stall | None = None) -> tuple[LoadPoint, StallRecord | None]:
        """One floor load point; with ``stall``, the relay is SIGSTOPped mid-run."""
        path = {role: p for role, p in (("relay", self.relay), ("echo", self.echo)) if p is not None}
        return run_drivers("floor", self.handles, plan, sessions=self.sessions, stall=stall,
                           stall_target=self.relay, path=path)

    # -- internals -------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        return {"PYTHONPATH": _SOURCE_ROOT}

    def _start_relay(self, mode: str, extra: list[str]) -> Process:
        # Bind where the host says others can connect (0.0.0.0 inside a netns, not its loopback).
        command = Command(argv=(self.relay_python, "-m", "compat.bench.relay", "--mode", mode,
                                "--loop", self.relay_loop, "--listen", f"{self.host.listen_host}:0", *extra),
                          name=f"floor-{mode}", env=self._environment())
        process = self.host.start(command, ReadyLine.named(mode.upper(), self.start_timeout_s), self.log_dir)
        self._exit.callback(_stop, process)
        return process

    def _listen_address(self, process: Process) -> tuple[str, int]:
        addresses = parse_addresses(process.ready_info.get("addrs", process.ready_line))
        if "listen" not in addresses:
            raise StartError(f"{process.name} reported no listen= address in its ready line "
                             f"{process.ready_line!r}; log: {process.log_path}")
        return self.host.reachable_address(addresses["listen"])

    def _start_driver(self, name: str) -> DriverHandle:
        command = Command(
            argv=(self.driver_python, str(DRIVER_SCRIPT), "--adapter", str(FLOOR_ADAPTER),
                  "--package", "compat-matrix"),
            name=name, control=True, env=self._environment(),
        )
        process = self.host.start(command, None, self.log_dir)
        handle = DriverHandle(channel=process)
        self._exit.callback(_stop_driver, process, handle)
        handle.handshake(self.start_timeout_s)
        return handle


def _stop(process: Process) -> None:
    if process.poll() is None:
        process.stop(grace_s=3.0)


def _stop_driver(process: Process, handle: DriverHandle) -> None:
    if process.poll() is None:
        # A stuck driver must not block teardown: the stop below escalates and logs each step.
        with contextlib.suppress(Exception):
            handle.shutdown(timeout_s=3.0)
        process.stop(grace_s=3.0)


