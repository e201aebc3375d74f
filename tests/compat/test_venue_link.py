"""A partition of the gateway's exchange link that never breaks TCP, run in every cell.

The stack's fault proxy on that link (``Stack.exchange_link``) ``cut()``s it: no byte moves
either way and new connections are held, yet every TCP connection stays open, so nothing
reaches the gateway but silence. Only heartbeats can notice it. The gateway runs with a short
exchange heartbeat for this scenario (refgw 3.1's auth config ``exchange_link``), so the
partition must be noticed within a bound derived from that interval; orders are then rejected
with a reason that says so, a fill the exchange made meanwhile arrives once after the heal,
and a new order is accepted and reaches the exchange. Released gateways have no exchange
heartbeat: matrix.yaml declares the scenario unsupported there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from compat import DriverCallError, FaultProxy, OperationUnsupported, Scenario, Session, timing
from compat.exchange.client import ObxClient
from compat.exchange.proto import obx_pb2 as obx_pb

pytestmark = pytest.mark.compat

HEARTBEAT_MS = 200  # the gateway's exchange heartbeat in this scenario
MISSED_HEARTBEATS = 3  # silent intervals before the gateway declares the link down
# The partition must be noticed within the missed intervals; the factor is room for a loaded
# machine, not for TCP: without heartbeats the partition is never noticed at all.
NOTICE_S = 10 * MISSED_HEARTBEATS * HEARTBEAT_MS / 1000
HEAL_S = 20.0  # the held logon goes through at the heal; one reconnect attempt is at most 10 s
BUY, SELL = 1, 2  # the exchange's sides in the audit log


def _exchange_link(compat: Scenario) -> FaultProxy:
    link = compat.stack.exchange_link
    if link is None:
        raise OperationUnsupported(
            "scenario", "link.gateway-exchange",
            "this stack runs without a fault proxy on the gateway's exchange link (exchange_link_proxy=False)")
    return link


def _with_exchange_heartbeat(compat: Scenario) -> None:
    """Restart the gateway with the matrix's auth file plus a short exchange heartbeat."""
    stack = compat.stack
    auth = json.loads(stack.settings.auth.read_text(encoding="utf-8")) if stack.settings.auth else {}
    auth["exchange_link"] = {"heartbeat_ms": HEARTBEAT_MS, "missed_heartbeats": MISSED_HEARTBEATS}
    path = stack.log_dir / "venue-link-auth.json"
    path.write_text(json.dumps(auth), encoding="utf-8")
    stack.restart_gateway(auth=path)  # compat restarts it with the matrix's auth afterwards


def _wait_until(condition: Callable[[], bool], timeout_s: float, failure: str) -> None:
    """Wait (bounded) for a condition only the harness can observe; fail with ``failure``."""
    deadline = timing.Deadline(timeout_s)
    while not condition():
        if deadline.expired():
            raise AssertionError(f"{failure} (within {timeout_s:.1f}s)")
        time.sleep(0.01)


def _gateway_log(compat: Scenario) -> str:
    gateway = compat.stack.gateway
    assert gateway is not None
    return gateway.log_path.read_text(encoding="utf-8", errors="replace")


def _text(event: dict[str, Any]) -> str:
    return " ".join(str(event.get(key) or "") for key in ("code", "text", "reason"))


def _exchange_orders(records: list[dict[str, Any]], symbol: str, side: int) -> list[int]:
    return [int(r["price_ticks"]) for r in records
            if r.get("kind") == "accepted" and r.get("symbol") == symbol and r.get("side") == side]


def _fills(session: Session, client_order_id: str, quiet_s: float = 0.5) -> list[dict[str, Any]]:
    """Every fill of the order still pending: read until none arrives for ``quiet_s``."""
    fills = [e for e in session.drain_events()["events"]
             if e["kind"] == "fill" and e.get("client_order_id") == client_order_id]
    while True:
        try:
            fills.append(session.next_event(["fill"], client_order_id, timeout_s=quiet_s))
        except DriverCallError as error:
            if error.type != "Timeout":
                raise
            return fills


@pytest.mark.compat_disruptive
def test_partition_without_tcp_break_rejects_then_resumes(compat: Scenario) -> None:
    """The link is cut without breaking TCP: the gateway notices by its heartbeats, rejects an order
    with that reason, and after the heal delivers the fill made meanwhile once and trades again."""
    compat.require_builtin_exchange("an outside member at the exchange and its audit log")
    link = _exchange_link(compat)
    _with_exchange_heartbeat(compat)
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    resting = maker.insert(symbol=symbol, side="SELL", qty=2, price="70.00", tif="GTC", order_type="LIMIT")
    maker.next_event(["accepted"], resting["client_order_id"])
    attempts = link.stats()["accepted"]
    connections = link.connection_count()
    restored = _gateway_log(compat).count("exchange link up again")
    link.cut()
    try:
        host, port = compat.stack.exchange_addresses["obx"]
        with ObxClient(host, port) as outside:  # fills the resting order; its report is held in the cut
            assert outside.logon(f"VL{compat.test_number}").result_code == 0
            outside.new_order(f"vl-{compat.test_number}", symbol, obx_pb.BUY, 2, 7000)
            outside.expect(obx_pb.OrderFill, timeout_s=5.0)
        # Noticed: the gateway gives up the silent connection and logs on again (the proxy holds
        # that connection). Nothing broke, so nothing but its heartbeats can have told it.
        _wait_until(lambda: link.stats()["accepted"] > attempts, NOTICE_S,
                    f"gateway {compat.gateway_version} never noticed a partition of its exchange link "
                    f"(heartbeat {HEARTBEAT_MS} ms, {MISSED_HEARTBEATS} missed)")
        assert link.connection_count() > connections, (
            "the partitioned connection was closed: TCP noticed, not heartbeats")
        during = taker.place(symbol, "BUY", 1, "69.00", timeout_s=5.0)
        assert during["kind"] == "rejected", f"an order was accepted while the exchange link was partitioned: {during}"
        reason = _text(during)
        assert "exchange link down" in reason and "heartbeat" in reason, (
            f"the reject does not say the exchange link is down for missed heartbeats: {during}")
        compat.record("reject_while_partitioned", reason)
    finally:
        link.heal()
    _wait_until(lambda: _gateway_log(compat).count("exchange link up again") > restored, HEAL_S,
                f"gateway {compat.gateway_version} did not restore its exchange link after the partition healed")
    fill = maker.next_event(["fill"], resting["client_order_id"], timeout_s=10.0)
    assert (fill["qty"], fill["price"]) == (2, "70.00"), fill
    again = _fills(maker, resting["client_order_id"])
    assert all(f.get("poss_dup") for f in again), f"the fill made during the partition was delivered twice: {again}"
    after = taker.place(symbol, "BUY", 1, "68.00", timeout_s=5.0)
    assert after["kind"] == "accepted", f"the gateway does not accept orders after the partition healed: {after}"
    records = compat.audit(until=lambda rs: 6800 in _exchange_orders(rs, symbol, BUY))
    buys = _exchange_orders(records, symbol, BUY)
    assert buys.count(6800) == 1, f"the order placed after the heal is not at the exchange once: {buys}"
    assert 6900 not in buys, f"the order rejected during the partition reached the exchange: {buys}"
