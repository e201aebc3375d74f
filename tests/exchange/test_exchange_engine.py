"""Behaviour of the matching engine, one rule per test (integer ticks throughout)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from compat.exchange import codes
from compat.exchange.engine import Engine
from compat.exchange.events import (
    BUY,
    DAY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MAKER,
    MARKET,
    REASON_EXPIRED,
    REASON_FOK_KILL,
    REASON_HALT,
    REASON_IOC_REMAINDER,
    REASON_MASS,
    REASON_USER,
    SELL,
    STATE_CANCELLED,
    STATE_FILLED,
    STATE_PARTIALLY_FILLED,
    TAKER,
    BookUpdate,
    CancelRejected,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderFill,
    OrderRejected,
    OrderReplaced,
    ReplaceRejected,
    StatusChange,
    TradePrint,
)
from compat.exchange.instruments import CLOSED, HALTED, OPEN, PRE_OPEN, InstrumentSpec

ABC = InstrumentSpec(symbol="ABC", tick_size_units=1, price_scale=2, lot_size=1, max_order_qty=1000)
LOT = InstrumentSpec(symbol="LOT", tick_size_units=5, price_scale=3, lot_size=10, max_order_qty=100)


def step_clock(start: int = 1_000, step: int = 1) -> Iterator[int]:
    value = start
    while True:
        yield value
        value += step


@pytest.fixture
def engine() -> Engine:
    clock = step_clock()
    return Engine([ABC, LOT], clock=lambda: next(clock))


def of(events: list[Event], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


def buy(engine: Engine, member: str, clordid: str, qty: int, price: int, tif: int = GTC, symbol: str = "ABC") -> int:
    return engine.new_order(member, 0, clordid, symbol, BUY, LIMIT, tif, qty, price)


def sell(engine: Engine, member: str, clordid: str, qty: int, price: int, tif: int = GTC, symbol: str = "ABC") -> int:
    return engine.new_order(member, 0, clordid, symbol, SELL, LIMIT, tif, qty, price)


def test_passive_order_rests_and_publishes_one_level_change(engine: Engine) -> None:
    order_id = buy(engine, "A", "a1", 10, 100)
    events = engine.take_events()
    accepted, book = events
    assert isinstance(accepted, OrderAccepted) and isinstance(book, BookUpdate)
    assert (accepted.order_id, accepted.member_seq, accepted.leaves_qty, accepted.price_ticks) == (order_id, 1, 10, 100)
    assert (book.book_seq, book.changes) == (1, ((BUY, 100, 10, 1),))
    snap = engine.snapshot("ABC")
    assert snap is not None and (snap.bids, snap.asks) == (((100, 10, 1),), ())


def test_trades_happen_at_the_resting_price_best_price_first_then_time(engine: Engine) -> None:
    sell(engine, "A", "s-late-101", 5, 101)
    sell(engine, "B", "s-early-100", 5, 100)
    sell(engine, "C", "s-later-100", 5, 100)
    engine.take_events()
    buy(engine, "D", "agg", 12, 105)
    fills = [f for f in of(engine.take_events(), OrderFill) if f.liquidity == MAKER]
    assert [(f.client_order_id, f.qty, f.price_ticks) for f in fills] == [
        ("s-early-100", 5, 100),
        ("s-later-100", 5, 100),
        ("s-late-101", 2, 101),
    ]


def test_fill_events_pair_maker_and_taker_with_one_trade_print(engine: Engine) -> None:
    buy(engine, "A", "a1", 10, 100)
    engine.take_events()
    sell(engine, "B", "b1", 4, 99, tif=IOC)
    events = engine.take_events()
    maker, taker = of(events, OrderFill)
    (trade,) = of(events, TradePrint)
    (book,) = of(events, BookUpdate)
    assert (maker.member, maker.liquidity, maker.leaves_qty, maker.cum_qty) == ("A", MAKER, 6, 4)
    assert (taker.member, taker.liquidity, taker.leaves_qty, taker.cum_qty) == ("B", TAKER, 0, 4)
    assert maker.trade_id == taker.trade_id == trade.trade_id
    assert (trade.price_ticks, trade.qty, trade.aggressor_side, trade.book_seq) == (100, 4, SELL, book.book_seq)
    assert events.index(trade) < events.index(book)


def test_ioc_remainder_is_cancelled_and_never_rests(engine: Engine) -> None:
    sell(engine, "A", "a1", 3, 100)
    engine.take_events()
    buy(engine, "B", "b1", 10, 100, tif=IOC)
    (cancelled,) = of(engine.take_events(), OrderCancelled)
    assert (cancelled.reason, cancelled.cancelled_qty, cancelled.cum_qty) == (REASON_IOC_REMAINDER, 7, 3)
    snap = engine.snapshot("ABC")
    assert snap is not None and snap.bids == () and snap.asks == ()


def test_fok_short_liquidity_is_killed_with_no_trade(engine: Engine) -> None:
    sell(engine, "A", "a1", 5, 100)
    sell(engine, "A", "a2", 4, 102)
    engine.take_events()
    buy(engine, "B", "fok", 10, 102, tif=FOK)
    events = engine.take_events()
    assert of(events, OrderFill) == [] and of(events, BookUpdate) == []
    (cancelled,) = of(events, OrderCancelled)
    assert (cancelled.reason, cancelled.cancelled_qty) == (REASON_FOK_KILL, 10)


def test_fok_with_enough_liquidity_fills_completely(engine: Engine) -> None:
    sell(engine, "A", "a1", 5, 100)
    sell(engine, "A", "a2", 5, 101)
    engine.take_events()
    buy(engine, "B", "fok", 9, 101, tif=FOK)
    taker = [f for f in of(engine.take_events(), OrderFill) if f.member == "B"]
    assert sum(f.qty for f in taker) == 9 and taker[-1].leaves_qty == 0


def test_market_order_on_empty_book_is_rejected_no_liquidity(engine: Engine) -> None:
    assert engine.new_order("A", 7, "m1", "ABC", BUY, MARKET, 0, 5, 0) == 0
    (rejected,) = engine.take_events()
    assert isinstance(rejected, OrderRejected)
    assert (rejected.code, rejected.request_id) == (codes.NO_LIQUIDITY, 7)


def test_market_order_sweeps_without_a_cap_and_cancels_the_rest(engine: Engine) -> None:
    sell(engine, "A", "a1", 2, 100)
    sell(engine, "A", "a2", 2, 5000)
    engine.take_events()
    engine.new_order("B", 0, "m1", "ABC", BUY, MARKET, GTC, 10, 0)
    events = engine.take_events()
    assert [f.price_ticks for f in of(events, OrderFill) if f.member == "B"] == [100, 5000]
    assert of(events, OrderAccepted)[0].tif == IOC
    assert of(events, OrderCancelled)[0].reason == REASON_IOC_REMAINDER


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"client_order_id": ""}, codes.MISSING_CLIENT_ORDER_ID),
        ({"symbol": "NOPE"}, codes.UNKNOWN_INSTRUMENT),
        ({"side": 3}, codes.INVALID_SIDE),
        ({"order_type": 9}, codes.INVALID_ORDER_TYPE),
        ({"tif": 7}, codes.INVALID_TIF),
        ({"qty": 0}, codes.INVALID_QTY),
        ({"qty": 15}, codes.QTY_NOT_LOT_MULTIPLE),
        ({"qty": 110}, codes.QTY_ABOVE_MAX),
        ({"price_ticks": 0}, codes.INVALID_PRICE),
        ({"price_ticks": -5}, codes.INVALID_PRICE),
    ],
)
def test_new_order_validation_codes(engine: Engine, kwargs: dict[str, object], code: int) -> None:
    order = {
        "member": "A",
        "request_id": 1,
        "client_order_id": "x",
        "symbol": "LOT",
        "side": BUY,
        "order_type": LIMIT,
        "tif": GTC,
        "qty": 10,
        "price_ticks": 100,
    }
    order.update(kwargs)
    assert engine.new_order(**order) == 0  # type: ignore[arg-type]
    (rejected,) = engine.take_events()
    assert isinstance(rejected, OrderRejected) and rejected.code == code
    assert codes.GATEWAY_RANGE_START < rejected.code < 0 and rejected.text


def test_duplicate_live_client_order_id_is_rejected_but_reusable_after_done(engine: Engine) -> None:
    buy(engine, "A", "dup", 1, 100)
    buy(engine, "A", "dup", 1, 100)
    assert of(engine.take_events(), OrderRejected)[0].code == codes.DUPLICATE_CLIENT_ORDER_ID
    buy(engine, "B", "dup", 1, 100)  # another member may use the same id
    assert of(engine.take_events(), OrderRejected) == []
    engine.cancel("A", 0, client_order_id="dup")
    buy(engine, "A", "dup", 1, 100)
    assert of(engine.take_events(), OrderAccepted)


def test_amend_quantity_down_keeps_priority(engine: Engine) -> None:
    sell(engine, "A", "first", 10, 100)
    sell(engine, "B", "second", 10, 100)
    engine.amend("A", 3, orig_client_order_id="first", qty=4)
    (replaced,) = of(engine.take_events(), OrderReplaced)
    assert (replaced.priority_kept, replaced.leaves_qty, replaced.request_id) == (True, 4, 3)
    buy(engine, "C", "agg", 4, 100)
    maker = [f for f in of(engine.take_events(), OrderFill) if f.liquidity == MAKER]
    assert [f.client_order_id for f in maker] == ["first"]


@pytest.mark.parametrize("change", [{"qty": 12}, {"price_ticks": 101}])
def test_amend_quantity_up_or_price_change_requeues_at_the_tail(engine: Engine, change: dict[str, int]) -> None:
    sell(engine, "A", "first", 10, 100)
    sell(engine, "B", "second", 10, 100)
    sell(engine, "B", "third", 10, 101)
    engine.amend("A", 0, orig_client_order_id="first", **change)  # type: ignore[arg-type]
    assert of(engine.take_events(), OrderReplaced)[0].priority_kept is False
    buy(engine, "C", "agg", 30, 101)
    maker = [f.client_order_id for f in of(engine.take_events(), OrderFill) if f.liquidity == MAKER]
    assert maker.index("second") < maker.index("first")


def test_amend_to_a_crossing_price_trades_immediately(engine: Engine) -> None:
    sell(engine, "A", "ask", 5, 105)
    buy(engine, "B", "bid", 5, 100)
    engine.take_events()
    engine.amend("B", 0, orig_client_order_id="bid", new_client_order_id="bid2", price_ticks=105)
    events = engine.take_events()
    assert isinstance(events[0], OrderReplaced) and events[0].client_order_id == "bid2"
    fills = of(events, OrderFill)
    assert [(f.client_order_id, f.price_ticks) for f in fills] == [("ask", 105), ("bid2", 105)]
    snap = engine.snapshot("ABC")
    assert snap is not None and snap.bids == () and snap.asks == ()


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"orig_client_order_id": "nope"}, codes.UNKNOWN_ORDER),
        ({"orig_client_order_id": "o", "qty": 4}, codes.AMEND_QTY_TOO_LOW),
        ({"orig_client_order_id": "o", "qty": 0}, codes.AMEND_QTY_TOO_LOW),
        ({"orig_client_order_id": "o", "qty": 2000}, codes.QTY_ABOVE_MAX),
        ({"orig_client_order_id": "o", "price_ticks": 0}, codes.INVALID_PRICE),
        ({"orig_client_order_id": "o", "new_client_order_id": "other"}, codes.DUPLICATE_CLIENT_ORDER_ID),
    ],
)
def test_amend_rejections(engine: Engine, kwargs: dict[str, object], code: int) -> None:
    buy(engine, "A", "o", 10, 100)
    buy(engine, "A", "other", 1, 99)
    sell(engine, "B", "s", 4, 100)  # o is now 4 filled
    engine.take_events()
    assert engine.amend("A", 5, **kwargs) is False  # type: ignore[arg-type]
    (rejected,) = engine.take_events()
    assert isinstance(rejected, ReplaceRejected) and rejected.code == code and rejected.request_id == 5


def test_cancel_by_id_or_client_id_and_unknown_order(engine: Engine) -> None:
    order_id = buy(engine, "A", "a1", 10, 100)
    engine.take_events()
    assert engine.cancel("B", 1, order_id=order_id) is False  # not B's order
    assert of(engine.take_events(), CancelRejected)[0].code == codes.UNKNOWN_ORDER
    assert engine.cancel("A", 2, order_id=order_id) is True
    events = engine.take_events()
    (cancelled,) = of(events, OrderCancelled)
    assert (cancelled.reason, cancelled.cancelled_qty, cancelled.request_id) == (REASON_USER, 10, 2)
    assert of(events, BookUpdate)[0].changes == ((BUY, 100, 0, 0),)
    assert engine.cancel("A", 3, client_order_id="a1") is False


def test_lazily_cancelled_orders_are_skipped_by_matching(engine: Engine) -> None:
    sell(engine, "A", "gone", 5, 100)
    sell(engine, "B", "live", 5, 100)
    engine.cancel("A", 0, client_order_id="gone")
    engine.take_events()
    buy(engine, "C", "agg", 5, 100)
    maker = [f.client_order_id for f in of(engine.take_events(), OrderFill) if f.liquidity == MAKER]
    assert maker == ["live"]


def test_mass_cancel_by_symbol_and_all(engine: Engine) -> None:
    buy(engine, "A", "a1", 1, 100)
    buy(engine, "A", "a2", 10, 100, symbol="LOT")
    buy(engine, "B", "b1", 1, 100)
    engine.take_events()
    assert engine.mass_cancel("A", 9, "ABC") == (codes.OK, 1)
    assert [(c.client_order_id, c.reason) for c in of(engine.take_events(), OrderCancelled)] == [("a1", REASON_MASS)]
    assert engine.mass_cancel("A", 9, "") == (codes.OK, 1)
    assert engine.mass_cancel("A", 9, "NOPE") == (codes.UNKNOWN_INSTRUMENT, 0)
    assert [o.client_order_id for o in engine.order_status("B")] == ["b1"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (HALTED, codes.INSTRUMENT_HALTED),
        (CLOSED, codes.INSTRUMENT_CLOSED),
        (PRE_OPEN, codes.INSTRUMENT_NOT_OPEN),
    ],
)
def test_status_gates_new_orders_and_amends_but_not_cancels(engine: Engine, status: int, code: int) -> None:
    buy(engine, "A", "rest", 1, 100, tif=GTC)
    assert engine.set_status("ABC", status) == codes.OK
    engine.take_events()
    buy(engine, "A", "new", 1, 100)
    engine.amend("A", 0, orig_client_order_id="rest", qty=1, price_ticks=99)
    events = engine.take_events()
    assert of(events, OrderRejected)[0].code == code
    assert of(events, ReplaceRejected)[0].code == code
    assert engine.cancel("A", 0, client_order_id="rest") is True
    engine.set_status("ABC", OPEN)
    buy(engine, "A", "again", 1, 100)
    assert of(engine.take_events(), OrderAccepted)


def test_close_expires_day_orders_and_halt_with_cancel_resting_cancels_all(engine: Engine) -> None:
    buy(engine, "A", "day", 1, 100, tif=DAY)
    buy(engine, "A", "gtc", 1, 99, tif=GTC)
    engine.take_events()
    engine.set_status("ABC", CLOSED)
    events = engine.take_events()
    assert isinstance(events[0], StatusChange)
    assert [(c.client_order_id, c.reason) for c in of(events, OrderCancelled)] == [("day", REASON_EXPIRED)]
    engine.set_status("ABC", HALTED, cancel_resting=True)
    assert [(c.client_order_id, c.reason) for c in of(engine.take_events(), OrderCancelled)] == [("gtc", REASON_HALT)]


def test_order_status_live_partial_and_finished(engine: Engine) -> None:
    order_id = buy(engine, "A", "a1", 10, 100)
    sell(engine, "B", "b1", 3, 100)
    (view,) = engine.order_status("A", order_id=order_id)
    assert (view.state, view.leaves_qty, view.cum_qty) == (STATE_PARTIALLY_FILLED, 7, 3)
    (done,) = engine.order_status("B", client_order_id="b1")
    assert done.state == STATE_FILLED
    engine.cancel("A", 0, order_id=order_id)
    assert engine.order_status("A", order_id=order_id)[0].state == STATE_CANCELLED
    assert engine.order_status("B", order_id=order_id) == []


def test_member_stream_is_gapless_and_resumable(engine: Engine) -> None:
    buy(engine, "A", "a1", 10, 100)
    sell(engine, "B", "b1", 3, 100)
    engine.cancel("A", 0, client_order_id="a1")
    engine.take_events()
    state = engine.members["A"]
    assert [e.member_seq for e in state.stream] == [1, 2, 3]
    assert [e.member_seq for e in state.events_from(2)] == [2, 3]
    assert state.events_from(4) == []


def test_stream_retention_keeps_sequence_numbers(engine: Engine) -> None:
    clock = step_clock()
    small = Engine([ABC], clock=lambda: next(clock), stream_retention=2)
    for i in range(6):
        small.new_order("A", 0, f"a{i}", "ABC", BUY, LIMIT, GTC, 1, 100)
    small.trim()
    state = small.members["A"]
    assert state.last_seq == 6 and [e.member_seq for e in state.events_from(1)] == [5, 6]


def test_book_seq_rises_by_one_per_changing_command_only(engine: Engine) -> None:
    buy(engine, "A", "a1", 1, 100)
    buy(engine, "A", "a2", 1, 101)
    engine.new_order("A", 0, "m", "ABC", SELL, MARKET, IOC, 5, 0)  # sweeps both levels: one update
    buy(engine, "A", "bad", 0, 100)  # rejected: no book change
    updates = of(engine.take_events(), BookUpdate)
    assert [u.book_seq for u in updates] == [1, 2, 3]
    assert updates[-1].changes == ((BUY, 101, 0, 0), (BUY, 100, 0, 0))


def test_seed_moves_ids_reproducibly(engine: Engine) -> None:
    def first_id(seed: int) -> int:
        clock = step_clock()
        return Engine([ABC], clock=lambda: next(clock), seed=seed).new_order("A", 0, "x", "ABC", BUY, LIMIT, GTC, 1, 1)

    assert first_id(0) == 1
    assert first_id(42) == first_id(42) != first_id(43)


def test_create_instrument(engine: Engine) -> None:
    new = InstrumentSpec(symbol="NEW", tick_size_units=1, price_scale=0)
    assert engine.create_instrument(new) == codes.OK
    assert engine.create_instrument(new) == codes.INSTRUMENT_EXISTS
    buy(engine, "A", "n1", 1, 5, symbol="NEW")
    assert of(engine.take_events(), OrderAccepted)



def test_every_event_factory_builds_its_class_with_the_fields_in_order() -> None:
    """The engine builds events with ``events.new_*`` (``tuple.__new__`` bound to the class at
    run time); each must give exactly what calling the class with the same fields gives."""
    from compat.exchange import events as ev

    pairs: list[tuple[Any, Any]] = [
        (ev.OrderAccepted, ev.new_order_accepted),
        (ev.OrderRejected, ev.new_order_rejected),
        (ev.OrderFill, ev.new_order_fill),
        (ev.OrderCancelled, ev.new_order_cancelled),
        (ev.OrderReplaced, ev.new_order_replaced),
        (ev.ReplaceRejected, ev.new_replace_rejected),
        (ev.CancelRejected, ev.new_cancel_rejected),
        (ev.TradePrint, ev.new_trade_print),
        (ev.BookUpdate, ev.new_book_update),
        (ev.StatusChange, ev.new_status_change),
        (ev.InstrumentCreated, ev.new_instrument_created),
    ]
    for cls, factory in pairs:
        fields = tuple(range(len(cls._fields)))
        event = factory(fields)
        assert type(event) is cls
        assert event == cls(*fields)
        assert event._asdict() == dict(zip(cls._fields, fields, strict=True))
