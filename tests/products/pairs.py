"""Probe every (client, gateway) release pair and compare with the declared truth table.

Run as a script to print the observed table (``python tests/products/pairs.py``); the test
``test_truth_table.py`` asserts the observations equal ``EXPECTED``. Each probe is one
canonical driver operation through the released client in its own venv (compat's driver and
the refclient adapter), against the released gateway in its own venv, on a real exchange.

Outcome strings: ``ok``, ``n/a`` (the client reports the capability missing: FeatureUnsupported
or an operation its version lacks), ``<ErrorType>[:<code>]`` for a client error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import Driver, Proc, gateway_argv, start, start_exchange, venv_for, versions

PROBES = ("logon", "odd_tick", "ioc", "amend", "mass_cancel", "float_edge")


def outcome(answer: dict[str, Any]) -> str:
    status = answer.get("status")
    if status == "ok":
        return "ok"
    if status == "unsupported":
        return "n/a"
    error = answer.get("error", {})
    code = error.get("code")
    return f"{error.get('type', status)}:{code}" if code else str(error.get("type", status))


def probe_pair(driver: Driver, session: str, addr: tuple[str, int]) -> dict[str, str]:
    """The six probes of one pair, on a fresh session of ``driver``."""
    got: dict[str, str] = {}
    host, port = addr
    logon = driver.call("connect", session=session, host=host, port=port, username="u1", password="x")
    got["logon"] = outcome(logon)
    if got["logon"] != "ok":
        return got
    got["logon"] += f" v{logon['result']['negotiated_version']}"

    def insert(symbol: str, side: str, price: str, tif: str = "GTC") -> dict[str, Any]:
        return driver.call("insert", session=session, symbol=symbol, side=side, qty=5, price=price, tif=tif)

    # An odd tick count (1001 ticks): the yanked 2.2 reads it back negative.
    odd = insert("ABC", "BUY", "10.01")
    got["odd_tick"] = outcome(odd)
    if odd.get("status") == "ok":
        driver.call("cancel", session=session, client_order_id=odd["result"]["client_order_id"])
    got["ioc"] = outcome(insert("ABC", "SELL", "99.99", tif="IOC"))
    rest = insert("ABC", "BUY", "10.02")
    if rest.get("status") == "ok":
        coid = rest["result"]["client_order_id"]
        got["amend"] = outcome(driver.call("amend", session=session, client_order_id=coid, qty=3))
        driver.call("cancel", session=session, client_order_id=coid)
    else:
        got["amend"] = "insert:" + outcome(rest)
    got["mass_cancel"] = outcome(driver.call("mass_cancel", session=session, symbol="ABC"))
    edge = insert("FLT", "BUY", "0.3")  # 0.3 at tick 0.1: the float on-tick edge
    got["float_edge"] = outcome(edge)
    if edge.get("status") == "ok":
        driver.call("cancel", session=session, client_order_id=edge["result"]["client_order_id"])
    driver.call("disconnect", session=session)
    return got


def observe(
    exchange: Proc, venv_root: Path, journal_dir: Path, venue: str = "obx"
) -> dict[tuple[str, str], dict[str, str]]:
    """Run every probe on every (client, gateway) pair; keys are (client, gateway) versions."""
    clients = {v: Driver(venv_for(venv_root, "refclient", v)) for v in versions("refclient")}
    table: dict[tuple[str, str], dict[str, str]] = {}
    try:
        for gw_version in versions("refgw"):
            member = f"P{os.getpid()}{gw_version.replace('.', '')}"
            argv = gateway_argv(
                venv_for(venv_root, "refgw", gw_version),
                gw_version,
                venue,
                exchange.addrs[venue],
                member,
                journal_dir / f"journal-{gw_version}",
            )
            gw = start(argv, f"gateway {gw_version}")
            try:
                for client_version, driver in clients.items():
                    session = f"g{gw_version}"
                    table[(client_version, gw_version)] = probe_pair(driver, session, gw.addrs["client"])
            finally:
                gw.stop()
    finally:
        for driver in clients.values():
            driver.close()
    return table


def render(table: dict[tuple[str, str], dict[str, str]]) -> str:
    lines = []
    for (client, gateway), got in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        lines.append(f"C{client} x G{gateway}: " + ", ".join(f"{k}={got.get(k, '-')}" for k in PROBES))
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    exch = start_exchange()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(render(observe(exch, Path(tmp) / "venvs", Path(tmp))))
    finally:
        exch.stop()
