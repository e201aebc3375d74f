"""Price scenarios: float vs fixed-point ticks across versions; exact decimal round trips."""

from __future__ import annotations

import pytest

from compat import Scenario

pytestmark = pytest.mark.compat


def _cross(compat: Scenario, pool: str, price: str, qty: int = 3) -> tuple[dict[str, object], dict[str, object]]:
    symbol = compat.symbol(pool)
    maker, taker = compat.session("maker"), compat.session("taker")
    accepted = maker.place(symbol, "SELL", qty, price)
    assert accepted["kind"] == "accepted", f"{price} on a {pool} instrument was not accepted: {accepted}"
    taker.insert(symbol=symbol, side="BUY", qty=qty, price=price, tif="GTC", order_type="LIMIT")
    return accepted, maker.next_event(["fill"], accepted["client_order_id"])


@pytest.mark.parametrize("pool,price", [("FLT", "0.3"), ("FLT", "0.7"), ("XYZ", "2.675"), ("ABC", "1234.57")])
def test_price_exact_fill(compat: Scenario, pool: str, price: str) -> None:
    """A fill at a price no binary float represents exactly must come back exact."""
    _, fill = _cross(compat, pool, price)
    assert fill["price"] == price, f"sent {price}, filled at {fill['price']}"


def test_price_not_on_tick(compat: Scenario) -> None:
    s = compat.session()
    event = s.place(compat.symbol("ABC"), "BUY", 1, "10.005")
    assert event["kind"] == "rejected", f"10.005 is off the 0.01 tick but was {event['kind']}"


def test_instruments_tick_sizes(compat: Scenario) -> None:
    s = compat.session()
    by_symbol = {i["symbol"]: i for i in s.instruments()["instruments"]}
    for symbol, tick in (("ABC001", "0.01"), ("XYZ001", "0.005"), ("FLT001", "0.1")):
        assert symbol in by_symbol, f"{symbol} missing from the instrument list"
        assert str(by_symbol[symbol]["tick_size"]) == tick, by_symbol[symbol]
