"""The gateway under load: drivers in the client's venv, straight to the gateway of a Stack.

The Stack (exchange -> gateway) is the matrix's own; the bench only adds driver processes
that connect to the gateway's real address (not through the fault proxy: a proxy hop would
be measured as gateway latency) and runs the same ``run_load_plan`` the floor runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from compat.bench.floor import MidRun, Stall, StallRecord, run_drivers_raw, stall_process
from compat.bench.loadpoint import LoadPoint
from compat.driver.handle import DriverHandle
from compat.errors import (
    ConfigError,
    HarnessError,
    OperationUnsupported,
    UnsupportedLoadPlan,
)
from compat.harness.host import Process
from compat.harness.ready import parse_addresses
from compat.run.stack import Stack

# Throttle and risk limits far above any bench rate; no users (open access). The gateway's
# default throttle (1000 msgs/s per session) would otherwise reject the load as THROTTLED.
BENCH_AUTH: dict[str, Any] = {
    "throttle": {"limit": 1_000_000_000, "window_s": 1.0},
    "risk": {"max_order_qty": 1_000_000_000, "max_notional": "1000000000000000",
             "max_outstanding_qty": 1_000_000_000_000, "price_collar_ticks": 0},
}


def write_bench_auth(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench-auth.json"
    path.write_text(json.dumps(BENCH_AUTH, indent=2) + "\n", encoding="utf-8")
    return path


def gateway_address(stack: Stack) -> tuple[str, int]:
    """The running gateway's own client address (bypassing the stack's fault proxy)."""
    if stack.gateway is None:
        raise HarnessError("the stack has no running gateway")
    info = stack.gateway.ready_info
    addresses = parse_addresses(info.get("addrs", stack.gateway.ready_line))
    if "client" not in addresses:
        raise HarnessError(f"gateway ready line has no client= address: {stack.gateway.ready_line!r}")
    return stack.hosts["gateway"].reachable_address(addresses["client"])


def resting_order(instruments: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A BUY limit far below any market (100 ticks): acked by the exchange, never filled."""
    for instrument in instruments:
        if str(instrument.get("status", "OPEN")).upper() == "OPEN":
            tick = Decimal(str(instrument["tick_size"]))
            return {"symbol": str(instrument["symbol"]), "side": "BUY",
                    "qty": int(instrument.get("lot_size") or 1), "price": str(tick * 100),
                    "tif": "GTC", "order_type": "LIMIT"}
    raise ConfigError("no OPEN instrument to benchmark on; check the stack's instruments file")


class GatewayLoad:
    """``drivers`` bench driver processes with ``connections`` gateway sessions each."""

    def __init__(self, stack: Stack, *, drivers: int = 1, connections: int = 1,
                 usernames: Sequence[str] = (), password: str = "", symbol: str | None = None,
                 order: Mapping[str, Any] | None = None, start_timeout_s: float = 20.0,
                 via_proxy: bool = False, name: str = "bench", also_measure: Mapping[str, int] | None = None) -> None:
        if usernames and len(usernames) < drivers * connections:
            raise ConfigError(f"{drivers} drivers x {connections} sessions need {drivers * connections} "
                              f"usernames, got {len(usernames)}")
        self.stack = stack
        self.drivers = drivers
        self.connections = connections
        self.usernames = list(usernames)
        self.password = password
        self.symbol = symbol
        self.start_timeout_s = start_timeout_s
        # Through the stack's fault proxy (its address survives a gateway swap; its hop is
        # measured too): only the upgrade blip wants it. Else straight to the gateway.
        self.via_proxy = via_proxy
        self.name = name  # driver processes are <name>1, <name>2...: a stack keeps its drivers by name
        # More processes of this machine to measure per order (role -> pid), e.g. the fault proxy's.
        self.also_measure = dict(also_measure or {})
        self.handles: dict[str, DriverHandle] = {}
        self.sessions: dict[str, list[str]] = {}
        # Given: sent as is (e.g. the scale point's 16,000 symbols). Else: from the instrument list.
        self.order: dict[str, Any] = dict(order or {})
        self._runs = 0

    def connect(self) -> GatewayLoad:
        if self.via_proxy:
            host, port = self.stack.hosts["client"].connect_address(self.stack.gateway_client_address)
        else:
            host, port = gateway_address(self.stack)
        users = iter(self.usernames)
        plan: dict[str, list[tuple[str, str]]] = {}
        for number in range(1, self.drivers + 1):
            name = f"{self.name}{number}"
            self.handles[name] = self.stack.client(name)  # process starts stay sequential
            self.sessions[name] = [f"s{k}" for k in range(1, self.connections + 1)]
            plan[name] = [(session, next(users, f"{self.name}{number}-{session}")) for session in self.sessions[name]]

        def logon(name: str) -> None:
            for session, username in plan[name]:
                self.handles[name].call("connect", host_timeout_s=self.start_timeout_s, session=session, host=host,
                                        port=port, username=username, password=self.password)

        # One thread per driver: logons of different drivers overlap (each handle is used by one thread).
        with ThreadPoolExecutor(max_workers=self.drivers, thread_name_prefix="bench-logon") as pool:
            for future in [pool.submit(logon, name) for name in self.handles]:
                future.result()
        if self.order:
            return self
        first = next(iter(self.handles.values()))
        listed = list(first.call("instruments", host_timeout_s=self.start_timeout_s, session="s1")
                      .get("instruments", []))
        if self.symbol is not None:
            listed = [i for i in listed if i.get("symbol") == self.symbol]
        self.order = resting_order(listed)
        return self

    def run(self, plan: Mapping[str, Any], label: str,
            stall: Stall | None = None) -> tuple[LoadPoint, StallRecord | None]:
        """One load point; with ``stall``, the gateway is SIGSTOPped mid-run."""
        midrun = None
        if stall is not None:
            target = self.stack.gateway
            if target is None:
                raise HarnessError("a stall was requested but the stack has no running gateway")
            midrun = MidRun(stall.after_s, lambda: stall_process(stall, target), "the stall")
        point, _, record = self.run_raw(plan, label, midrun)
        return point, record

    def run_raw(self, plan: Mapping[str, Any], label: str, midrun: MidRun | None = None,
                order: Mapping[str, Any] | None = None) -> tuple[LoadPoint, list[dict[str, Any]], Any]:
        """One load point, the drivers' raw results and what ``midrun`` returned.

        ``order`` adds keys to the plan's order (e.g. ``reconnect``).
        """
        self._runs += 1
        full = dict(plan)
        full["order"] = {**self.order, "client_order_id_prefix": f"b{self._runs}", **(order or {})}
        try:
            # Pids of this moment: a gateway swapped mid-run is measured until it stops.
            path: dict[str, Process | int] = {role: p for role, p in (("gateway", self.stack.gateway),
                                                                      ("exchange", self.stack.exchange))
                                              if p is not None}
            path.update(self.also_measure)
            return run_drivers_raw(label, self.handles, full, sessions=self.sessions, midrun=midrun, path=path)
        except OperationUnsupported as exc:
            adapter = self.stack.matrix.products["client"].adapter
            raise UnsupportedLoadPlan(
                "run_load_plan", exc.capability,
                f"the client adapter {adapter} cannot run load plans for client "
                f"{self.stack.cell.client.version} ({exc}); it needs an op_run_load_plan, see docs/bench.md",
            ) from exc
