"""Order scenarios: insert, cancel, amend, IOC, market, fills checked against the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from compat import DriverCallError, Scenario, Session

pytestmark = pytest.mark.compat

# S29: 2**40 + 7 keeps 7 in its low 32 bits, so an int32 reader truncates it to a small, valid
# looking order; 2**63 - 1 is the largest int64. Both are far above any max_order_qty.
WIDE_QUANTITIES = (2**40 + 7, 2**63 - 1)
QTY_REJECT_CODES = frozenset({"QTY_OUT_OF_RANGE", "INVALID_QUANTITY", "RISK_MAX_QUANTITY", "RISK_REJECT"})
# A client whose quantity field is int32 cannot even encode the number: it refuses locally
# (protobuf's "Value out of range"), which sends nothing, so nothing can be truncated.
LOCAL_REFUSALS = frozenset({"ValueError", "OverflowError"})


def _limit(side: str, qty: int, price: str, **extra: object) -> dict[str, object]:
    return {"side": side, "qty": qty, "price": price, "tif": "GTC", "order_type": "LIMIT", **extra}


def test_insert_ack(compat: Scenario) -> None:
    s = compat.session()
    event = s.place(compat.symbol(), "BUY", 10, "99.50")
    assert event["kind"] == "accepted", event


def test_cancel(compat: Scenario) -> None:
    s = compat.session()
    order = s.insert(symbol=compat.symbol(), **_limit("BUY", 10, "99.50"))
    assert s.next_event(["accepted"], order["client_order_id"])["kind"] == "accepted"
    s.cancel(client_order_id=order["client_order_id"])
    event = s.next_event(["cancelled", "rejected"], order["client_order_id"])
    assert event["kind"] == "cancelled", event


def test_amend_qty_down(compat: Scenario) -> None:
    s = compat.session()
    compat.require(s, "order.amend")
    order = s.insert(symbol=compat.symbol(), **_limit("BUY", 10, "99.50"))
    s.next_event(["accepted"], order["client_order_id"])
    s.amend(client_order_id=order["client_order_id"], qty=6)
    event = s.next_event(["replaced", "rejected"], order["client_order_id"])
    assert event["kind"] == "replaced", event
    assert event.get("leaves_qty") in (6, None), event


def test_partial_then_full_fill(compat: Scenario) -> None:
    compat.require_builtin_exchange("reconciling fills with the exchange's audit log")
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    resting = maker.insert(symbol=symbol, **_limit("SELL", 10, "101.25"))
    maker.next_event(["accepted"], resting["client_order_id"])
    taker.insert(symbol=symbol, **_limit("BUY", 4, "101.25"))
    first = maker.next_event(["fill"], resting["client_order_id"])
    assert (first["qty"], first["price"], first.get("leaves_qty")) == (4, "101.25", 6), first
    taker.insert(symbol=symbol, **_limit("BUY", 6, "101.30"))
    second = maker.next_event(["fill"], resting["client_order_id"])
    # Trades happen at the resting order's price, never the aggressor's.
    assert (second["qty"], second["price"], second.get("leaves_qty")) == (6, "101.25", 0), second

    def maker_fills(records: list[dict[str, object]]) -> list[int]:
        return sorted(int(str(r["qty"])) for r in records
                      if r.get("kind") == "fill" and r.get("symbol") == symbol and r.get("liquidity") in (1, "MAKER"))

    records = compat.audit(until=lambda rs: len(maker_fills(rs)) >= 2)
    assert maker_fills(records) == [4, 6], "the exchange's audit log disagrees with what the client saw"


def test_ioc_remainder(compat: Scenario) -> None:
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    compat.require(taker, "tif.ioc")
    resting = maker.insert(symbol=symbol, **_limit("SELL", 4, "50.00"))
    maker.next_event(["accepted"], resting["client_order_id"])
    ioc = taker.insert(symbol=symbol, side="BUY", qty=10, price="50.00", tif="IOC", order_type="LIMIT")
    fill = taker.next_event(["fill"], ioc["client_order_id"])
    assert fill["qty"] == 4, fill
    done = taker.next_event(["cancelled"], ioc["client_order_id"])
    assert done["kind"] == "cancelled", done


def test_fok_killed_when_short(compat: Scenario) -> None:
    symbol = compat.symbol()
    maker, taker = compat.session("maker"), compat.session("taker")
    compat.require(taker, "tif.fok")
    resting = maker.insert(symbol=symbol, **_limit("SELL", 4, "50.00"))
    maker.next_event(["accepted"], resting["client_order_id"])
    fok = taker.insert(symbol=symbol, side="BUY", qty=10, price="50.00", tif="FOK", order_type="LIMIT")
    event = taker.next_event(["cancelled", "fill"], fok["client_order_id"])
    assert event["kind"] == "cancelled", f"a short FOK must be killed with no trade, got {event}"


def test_market_order_no_liquidity(compat: Scenario) -> None:
    s = compat.session()
    compat.require(s, "tif.ioc")
    event = s.place(compat.symbol(), "BUY", 5, None, tif="IOC", order_type="MARKET")
    if event["kind"] == "accepted":  # some versions ack first, then kill the order
        event = s.next_event(["rejected", "cancelled", "fill"], event["client_order_id"])
    assert event["kind"] in ("rejected", "cancelled"), event


def test_cancel_other_sessions_order(compat: Scenario) -> None:
    symbol = compat.symbol()
    owner, intruder = compat.session("owner"), compat.session("intruder")
    order = owner.insert(symbol=symbol, **_limit("BUY", 3, "20.00"))
    owner.next_event(["accepted"], order["client_order_id"])
    try:
        intruder.cancel(client_order_id=order["client_order_id"])
        event = intruder.next_event(["rejected", "cancelled"], order["client_order_id"])
        assert event["kind"] == "rejected", event
    except DriverCallError as error:
        # Clients that track ids per session refuse locally (KeyError); others let the gateway reject.
        assert error.type in ("OrderRejected", "UnknownOrder", "KeyError"), error.error
    # The owner's order must stay alive: nothing may reach the owner about it. Shown without a
    # quiet period: the gateway forwards a cancel to the exchange as it reads it, on its one
    # venue link, the exchange answers in order, and the gateway relays each answer as it reads
    # it. So a report of the intruder's cancel, had it gone through, would reach the owner
    # before the answer to an order the owner sends now.
    marker = owner.place(symbol, "BUY", 1, "19.00")
    assert marker["kind"] == "accepted", marker
    told = [e for e in owner.drain_events()["events"] if e.get("client_order_id") == order["client_order_id"]]
    assert not told, f"the owner's order must stay alive, but the owner was told: {told}"


def test_throttle(compat: Scenario) -> None:
    s = compat.session()
    symbol = compat.symbol()
    throttle = s.connect_info.get("throttle") or {}
    burst = int(throttle.get("burst") or 0) or 50
    # Sent back to back inside the driver: the burst outruns the limit however slow the
    # machine makes each control round trip (one insert per round trip did not, under load).
    sent = s.insert_burst(symbol=symbol, side="BUY", count=burst * 3, qty=1,
                          prices=[f"{10 + i % 50}.00" for i in range(50)])
    rejected: list[dict[str, object]] = list(sent["failures"])  # clients that raise Throttled/OrderRejected
    assert all(f["type"] in ("Throttled", "OrderRejected") for f in rejected), rejected
    answers = [e for e in s.drain_events()["events"] if e["kind"] in ("accepted", "rejected")]
    assert len(answers) == burst * 3, f"{burst * 3} orders got {len(answers)} answers: each must get one"
    rejected += [e for e in answers if e["kind"] == "rejected"]
    assert rejected, f"{burst * 3} inserts in a burst were all accepted: no throttle"
    assert all("thrott" in str(r).lower() for r in rejected[:3]), rejected[:3]
    # The session survives a throttle.
    assert s.instruments()["instruments"], "session unusable after throttling"


def test_risk_max_quantity(compat: Scenario) -> None:
    s = compat.session()
    event = s.place(compat.symbol(), "BUY", 5_000_000, "10.00")
    assert event["kind"] == "rejected", event
    assert event.get("reason") or event.get("code"), "a risk reject must carry a reason or code"


def _wide_order(s: Session, symbol: str, qty: int) -> dict[str, Any]:
    """The gateway's answer to an order of ``qty``, or the client's local refusal to send it."""
    try:
        return s.place(symbol, "BUY", qty, "10.00")
    except DriverCallError as error:
        if error.type not in LOCAL_REFUSALS:
            raise
        return {"kind": "refused", "reason": error.error.get("message"), "raised": error.type}


def test_int64_quantity(compat: Scenario) -> None:
    """S29: a quantity wider than int32 (and above max_order_qty) gets a clear reject, never
    truncation, on the default session and, for v3 pairs, on a session pinned to protocol 2."""
    compat.require_builtin_exchange("reading the exchange's audit log")
    symbol = compat.symbol()
    s = compat.session()
    sessions = [s]
    if s.negotiated_version >= 3:  # both sides speak v2 too: where int32 quantities meet int64 ones
        sessions.append(compat.session("v2", protocol_min=2, protocol_max=2))
    for session in sessions:
        for qty in WIDE_QUANTITIES:
            answer = _wide_order(session, symbol, qty)
            where = f"qty {qty} on a v{session.negotiated_version} session"
            assert answer["kind"] in ("rejected", "refused"), f"{where} was not refused: {answer}"
            # Clients put a reject's words in the event's text, or in the raised error's message.
            reason = " ".join(str(answer.get(key) or "") for key in ("reason", "text")).strip()
            assert reason, f"{where}: a refusal must say why: {answer}"
            if answer["kind"] == "refused":
                assert "range" in reason.lower() or str(qty) in reason, f"{where}: unclear refusal {answer}"
                continue
            assert answer.get("code") in QTY_REJECT_CODES, f"{where}: not a quantity reject: {answer}"
            # The reason must not name what an int32 reader makes of the number (7, -1).
            truncated = (qty + 2**31) % 2**32 - 2**31
            assert not re.search(rf"quantity {truncated}\b", reason), \
                f"{where}: the gateway saw the quantity truncated to {truncated}: {answer}"
    # A control order the exchange must see; the audit log is written in order, so once it is
    # there any earlier order that got through (truncated) would be there too.
    control = s.place(symbol, "SELL", 3, "11.00")
    assert control["kind"] == "accepted", control

    def orders(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("symbol") == symbol and r.get("kind") in ("accepted", "rejected")]

    seen = orders(compat.audit(until=lambda rs: any(r.get("kind") == "accepted" for r in orders(rs))))
    assert [(r["kind"], r.get("qty")) for r in seen] == [("accepted", 3)], \
        f"orders other than the control reached the exchange for {symbol}: {seen}"
