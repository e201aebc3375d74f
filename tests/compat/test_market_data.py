"""Market data scenarios: snapshot then incrementals, the subscription race, trade reports."""

from __future__ import annotations

from typing import Any

import pytest

from compat import Scenario, Session

pytestmark = pytest.mark.compat


def _rest(s: Session, symbol: str, side: str, qty: int, price: str) -> None:
    order = s.insert(symbol=symbol, side=side, qty=qty, price=price, tif="GTC", order_type="LIMIT")
    s.next_event(["accepted"], order["client_order_id"])


def _wait_book(s: Session, symbol: str, target: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    return s.call("wait_book", symbol=symbol, timeout_s=timeout_s, **target)


def test_snapshot_then_incrementals(compat: Scenario) -> None:
    symbol = compat.symbol()
    trader, watcher = compat.session("trader"), compat.session("watcher")
    compat.require(watcher, "md.incremental")
    _rest(trader, symbol, "BUY", 5, "10.00")
    watcher.subscribe(symbol=symbol)
    book = _wait_book(watcher, symbol, {"bids": [["10.00", 5]], "asks": []})
    assert book["bids"] == [["10.00", 5]], book
    _rest(trader, symbol, "SELL", 7, "10.50")
    _rest(trader, symbol, "BUY", 2, "10.00")
    book = _wait_book(watcher, symbol, {"bids": [["10.00", 7]], "asks": [["10.50", 7]]})
    assert (book["bids"], book["asks"]) == ([["10.00", 7]], [["10.50", 7]]), book
    assert book.get("gaps", 0) == 0, f"sequence gaps seen on a clean feed: {book}"


def test_subscribe_under_load(compat: Scenario) -> None:
    """Updates racing the subscription are neither lost nor doubled (the Optivex race)."""
    symbol = compat.symbol()
    trader, watcher = compat.session("trader"), compat.session("watcher")
    compat.require(watcher, "md.incremental")
    # 30 orders stay under the reference throttle (40 per second per session).
    count = 30
    result = trader.call("insert_burst", symbol=symbol, side="BUY", count=count, qty=1,
                         prices=[f"{10 + i % 6}.00" for i in range(count)], subscribe_session=watcher.name,
                         subscribe_after=10, host_timeout_s=30.0)
    # The sender's answers first: an order the gateway answered with an error must not count
    # as placed just because the watcher's book shows it.
    assert result["error_count"] == 0, f"the burst's orders were answered with errors: {result}"
    acks = [e for e in trader.drain_events()["events"] if e["kind"] in ("accepted", "rejected")]
    assert [e["kind"] for e in acks] == ["accepted"] * count, f"the burst's answers: {acks}"
    expected = {f"{10 + p}.00": sum(1 for i in range(count) if i % 6 == p) for p in range(6)}
    want = sorted(([price, qty] for price, qty in expected.items()), key=lambda lv: -float(str(lv[0])))
    book = _wait_book(watcher, symbol, {"bids": want, "asks": []})
    assert book["bids"] == want, f"book diverged from the exchange after the race: {book} (burst {result})"


def test_trade_report(compat: Scenario) -> None:
    symbol = compat.symbol()
    maker, taker, watcher = compat.session("maker"), compat.session("taker"), compat.session("watcher")
    compat.require(watcher, "md.trades")  # public trade reports: refgw 3.1+
    watcher.subscribe(symbol=symbol)
    _rest(maker, symbol, "SELL", 4, "12.00")
    taker.insert(symbol=symbol, side="BUY", qty=4, price="12.00", tif="GTC", order_type="LIMIT")
    trade = watcher.next_event(["trade"], timeout_s=5.0)
    assert (trade["qty"], trade["price"], trade.get("aggressor_side")) == (4, "12.00", "BUY"), trade
