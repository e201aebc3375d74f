"""Fault injection, run in every cell: kill -9, stall, latency, resets, exchange drop, partition.

Every scenario ends by reconciling what the client application was told with the exchange's
audit log for the scenario's own fresh symbol: zero orders lost (at the exchange but never
reported, or reported but absent), zero duplicated (one exchange order per client order),
fills identical on both sides.

The gateway→exchange scenarios need a fault proxy on that link. On a netns gateway host the
link runs through the host's relay (``NetnsHost.relay``); on ``local`` there is no such
link proxy, so those two are n/a there (run them with ``--compat-host gateway=netns:gw``).
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from compat.driver.handle import DriverCallError, OperationUnsupported
from compat.harness.proxy import FaultProxy
from compat.scenario import Scenario, Session, read_audit_records

pytestmark = pytest.mark.compat

BURST = 30  # orders of the burst the gateway is killed in the middle of
TRICKLE_BPS = 1500  # client->gateway bandwidth during the burst (~25 orders/s): under the throttle, and slow
                    # enough that the kill lands while most of the burst is still on its way
STALL_S = 3.0  # how long the gateway stays SIGSTOPped


@pytest.fixture(autouse=True)
def _fresh_gateway_afterwards(request: pytest.FixtureRequest, compat: Scenario) -> Iterator[None]:
    """A disruptive fault may leave the gateway damaged (e.g. without its venue session): the next
    scenario of the cell gets a fresh gateway of the same version, so one finding never cascades."""
    yield
    if request.node.get_closest_marker("compat_disruptive") is not None:
        compat.stack.restart_gateway()


def _limit(side: str, qty: int, price: str) -> dict[str, Any]:
    return {"side": side, "qty": qty, "price": price, "tif": "GTC", "order_type": "LIMIT"}


def _prices(count: int, start_cents: int = 1000) -> list[str]:
    return [f"{(start_cents + i) / 100:.2f}" for i in range(count)]


def _exchange_orders(records: list[dict[str, Any]], symbol: str, side: int) -> Counter[int]:
    """Accepted exchange orders on ``symbol`` per price (ticks): a count above 1 is a duplicate."""
    return Counter(int(r["price_ticks"]) for r in records
                   if r.get("kind") == "accepted" and r.get("symbol") == symbol and r.get("side") == side)


def _exchange_fill_qty(records: list[dict[str, Any]], symbol: str, side: int) -> int:
    return sum(int(r["qty"]) for r in records
               if r.get("kind") == "fill" and r.get("symbol") == symbol and r.get("side") == side)


def _collect(session: Session, kinds: list[str], quiet_s: float = 1.0) -> list[dict[str, Any]]:
    """Every pending event of ``kinds``: read until none arrives for ``quiet_s``."""
    events = [e for e in session.drain_events()["events"] if e["kind"] in kinds]
    while True:
        try:
            events.append(session.next_event(kinds, timeout_s=quiet_s))
        except DriverCallError as error:
            if error.type != "Timeout":
                raise
            return events


def _delivered_fill_qty(fills: list[dict[str, Any]]) -> int:
    """Quantity the application was told was filled, each trade once; a repeat must be poss_dup."""
    seen: dict[str, int] = {}
    for fill in fills:
        key = str(fill.get("trade_id") or f"{fill.get('client_order_id')}#{fill.get('cum_qty')}")
        if key in seen:
            assert fill.get("poss_dup"), f"fill delivered twice without poss_dup: {fill}"
            continue
        seen[key] = int(fill["qty"])
    return sum(seen.values())


def _ticks(price: str) -> int:
    return round(float(price) * 100)


def _reconnect(session: Session) -> dict[str, Any]:
    resumed = session.reconnect()
    assert resumed["resumed"], f"session {session.name} was not resumed after the fault: {resumed}"
    return resumed


def _fresh_users_only(compat: Scenario, *sessions: Session) -> None:
    for session in sessions:
        compat.require(session, "session.resume")


@pytest.mark.compat_disruptive
def test_kill_gateway_mid_flow(compat: Scenario) -> None:
    """kill -9 with a burst in flight, restart the same version, resume: nothing lost or doubled."""
    symbol = compat.symbol()
    buyer, seller = compat.session("buyer"), compat.session("seller")
    _fresh_users_only(compat, buyer, seller)
    prices = _prices(BURST)
    audit_path = compat.stack.audit_path
    gateway = compat.stack.gateway
    assert gateway is not None

    proxy = compat.stack.gateway_proxy
    assert proxy is not None
    killed_at: list[int] = []

    def kill_when_orders_reach_the_exchange() -> None:
        # Mid-flow: some orders of the burst are at the exchange, the rest still on the wire.
        records = compat.audit(until=lambda rs: sum(_exchange_orders(rs, symbol, 1).values()) >= 5, timeout_s=15.0)
        killed_at.append(sum(_exchange_orders(records, symbol, 1).values()))
        gateway.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_when_orders_reach_the_exchange, name="fault-kill", daemon=True)
    proxy.bandwidth(TRICKLE_BPS, direction="upstream")
    try:
        killer.start()
        burst = buyer.insert_burst(symbol=symbol, side="BUY", count=BURST, qty=1, prices=prices)
        killer.join(20.0)
    finally:
        proxy.clear()
    assert killed_at, "the exchange never saw the burst, so the kill never happened"
    compat.stack.restart_gateway()  # the same version, on the same journal
    replayed = _reconnect(buyer)["replayed"]
    _reconnect(seller)
    compat.record("at_exchange_when_killed", killed_at[0])
    compat.record("burst_errors", burst.get("error_count", 0))
    compat.record("replayed", replayed)

    at_exchange = _exchange_orders(read_audit_records(audit_path), symbol, 1)
    duplicated = {p: n for p, n in at_exchange.items() if n > 1}
    assert not duplicated, f"orders duplicated at the exchange after the restart (price ticks: count): {duplicated}"
    accepted = _collect(buyer, ["accepted"])
    told = Counter(_ticks(e["price"]) for e in accepted if e.get("price") and not e.get("poss_dup"))
    told_any = {_ticks(e["price"]) for e in accepted if e.get("price")}
    assert not {p: n for p, n in told.items() if n > 1}, f"acks delivered twice (not marked poss_dup): {told}"
    lost = sorted(set(at_exchange) - told_any)
    assert not lost, f"orders at the exchange whose ack never reached the client: {lost}; told {sorted(told_any)}"
    phantom = sorted(told_any - set(at_exchange))
    assert not phantom, f"orders the client was told are accepted but the exchange never saw: {phantom}"

    # The client resends what it was never told about; afterwards every order is there exactly once.
    for price in prices:
        if _ticks(price) not in told_any:
            buyer.place(symbol, "BUY", 1, price)
    at_exchange = _exchange_orders(compat.audit(
        until=lambda rs: len(_exchange_orders(rs, symbol, 1)) >= BURST), symbol, 1)
    assert at_exchange == Counter({_ticks(p): 1 for p in prices}), f"after the resend: {at_exchange}"

    # The restarted gateway still routes fills of the pre-kill orders to their owner.
    total = sum(at_exchange.values())
    seller.insert(symbol=symbol, **_limit("SELL", total, prices[0]))
    compat.audit(until=lambda rs: _exchange_fill_qty(rs, symbol, 1) >= total)
    fills = _collect(buyer, ["fill"])
    assert _delivered_fill_qty(fills) == total, fills
    assert _exchange_fill_qty(read_audit_records(audit_path), symbol, 1) == total


@pytest.mark.compat_disruptive
def test_stall_gateway(compat: Scenario) -> None:
    """SIGSTOP the gateway for a few seconds: the session recovers and nothing is lost."""
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    _fresh_users_only(compat, maker, taker)
    resting = maker.insert(symbol=symbol, **_limit("SELL", 5, "20.00"))
    maker.next_event(["accepted"], resting["client_order_id"])
    with compat.stack.paused_gateway():
        # The insert cannot be answered while the gateway is stopped: the client's own timeout
        # is the stall's duration, not a sleep.
        stalled = taker.expect_error("insert", symbol=symbol, **_limit("BUY", 5, "20.00"))
        compat.record("stalled_insert_error", f"{stalled.type}: {stalled.error.get('message')}")
    # Resumed: whether the stalled order went through or not, the books must agree.
    for session in (maker, taker):
        try:
            session.call("instruments")
        except DriverCallError:
            _reconnect(session)
    records = compat.audit(until=lambda rs: _exchange_fill_qty(rs, symbol, 2) > 0, timeout_s=3.0)
    filled_at_exchange = _exchange_fill_qty(records, symbol, 2)
    maker_fills = _collect(maker, ["fill"])
    assert _delivered_fill_qty(maker_fills) == filled_at_exchange, (maker_fills, filled_at_exchange)
    # And the session works: a new order is acknowledged.
    after = taker.place(symbol, "BUY", 1, "19.00")
    assert after["kind"] == "accepted", after
    records = compat.audit(until=lambda rs: _ticks("19.00") in _exchange_orders(rs, symbol, 1))
    assert _ticks("19.00") in _exchange_orders(records, symbol, 1), (
        "the gateway acknowledged an order after the stall that the exchange never received")


def test_orders_under_latency_and_jitter(compat: Scenario) -> None:
    """20 ms ± 5 ms each way between client and gateway: insert, fill, cancel all still hold."""
    proxy = compat.stack.gateway_proxy
    assert proxy is not None
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    proxy.latency(20.0, 5.0)
    try:
        resting = maker.insert(symbol=symbol, **_limit("SELL", 10, "30.00"))
        maker.next_event(["accepted"], resting["client_order_id"])
        taker.insert(symbol=symbol, **_limit("BUY", 4, "30.00"))
        fill = maker.next_event(["fill"], resting["client_order_id"])
        assert (fill["qty"], fill["price"]) == (4, "30.00"), fill
        maker.cancel(client_order_id=resting["client_order_id"])
        done = maker.next_event(["cancelled", "rejected"], resting["client_order_id"])
        assert done["kind"] == "cancelled", done
    finally:
        proxy.clear()
    records = compat.audit(until=lambda rs: _exchange_fill_qty(rs, symbol, 2) >= 4)
    assert _exchange_fill_qty(records, symbol, 2) == 4


def test_connection_reset_mid_stream(compat: Scenario) -> None:
    """RST on every client connection with an order resting: resume, and its fill arrives once."""
    proxy = compat.stack.gateway_proxy
    assert proxy is not None
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    _fresh_users_only(compat, maker, taker)
    resting = maker.insert(symbol=symbol, **_limit("SELL", 3, "40.00"))
    maker.next_event(["accepted"], resting["client_order_id"])
    assert proxy.reset() >= 2  # both sessions' connections
    _reconnect(taker)
    taker.insert(symbol=symbol, **_limit("BUY", 3, "40.00"))
    compat.audit(until=lambda rs: _exchange_fill_qty(rs, symbol, 2) >= 3)
    _reconnect(maker)  # the fill happened while maker was disconnected: replayed on resume
    fills = _collect(maker, ["fill"])
    assert _delivered_fill_qty(fills) == 3, fills


def _exchange_link(compat: Scenario) -> FaultProxy:
    host = compat.stack.hosts["gateway"]
    relay = getattr(host, "relay", None)
    if relay is None or compat.stack.exchange_address is None:
        raise OperationUnsupported(
            "scenario", "link.gateway-exchange",
            f"the gateway runs on {host.spec}: no fault proxy on its exchange link "
            "(use --compat-host gateway=netns:gw)")
    link: FaultProxy = relay(compat.stack.exchange_address)
    return link


@pytest.mark.compat_disruptive
def test_exchange_drop_rejects_then_recovers(compat: Scenario) -> None:
    """The exchange link drops: new orders are rejected with a reason; it recovers when the link returns."""
    link = _exchange_link(compat)
    symbol = compat.symbol()
    s = compat.session()
    link.cut()  # new connections wait, nothing moves
    link.reset()  # and the live one goes
    try:
        try:
            during = s.place(symbol, "BUY", 1, "50.00", timeout_s=10.0)
        except DriverCallError as error:
            raise AssertionError(
                f"gateway {compat.gateway_version} did not reject an order while its exchange link was down: "
                f"{error.type}: {error.error.get('message')}") from None
        assert during["kind"] == "rejected", during
        assert during.get("reason") or during.get("code"), f"a reject must say why: {during}"
    finally:
        link.heal()
    after = s.place(symbol, "BUY", 1, "50.00", timeout_s=15.0)
    assert after["kind"] == "accepted", after


@pytest.mark.compat_disruptive
def test_partition_gateway_exchange_heals(compat: Scenario) -> None:
    """A partition between gateway and exchange with an order resting: after healing, the state agrees."""
    link = _exchange_link(compat)
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    resting = maker.insert(symbol=symbol, **_limit("SELL", 2, "60.00"))
    maker.next_event(["accepted"], resting["client_order_id"])
    link.cut()
    try:
        cut_off = taker.place(symbol, "BUY", 2, "60.00", timeout_s=3.0)
        assert cut_off["kind"] in ("rejected", "accepted"), cut_off
    except DriverCallError as error:  # no answer while cut off is fine; what counts is the state after
        compat.record("during_partition", f"{error.type}: {error.error.get('message')}")
    finally:
        link.heal()
    records = compat.audit(until=lambda rs: _exchange_fill_qty(rs, symbol, 2) >= 2, timeout_s=15.0)
    at_exchange = _exchange_fill_qty(records, symbol, 2)
    maker_fills = _collect(maker, ["fill"])
    assert _delivered_fill_qty(maker_fills) == at_exchange, (maker_fills, at_exchange)
