"""Property tests of the engine: random command streams against a deliberately naive model.

The model keeps a flat list of resting orders and, for every aggressor, picks the best price
then the earliest arrival by brute force. Agreement on every trade and every book level
after every command is price-time priority; the other invariants are checked directly.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat.exchange.audit import AuditWriter
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
    SELL,
    BookUpdate,
    OrderAccepted,
    OrderCancelled,
    OrderFill,
    OrderReplaced,
)
from compat.exchange.instruments import InstrumentSpec

SPEC = InstrumentSpec(symbol="ABC", tick_size_units=1, price_scale=2, lot_size=1, max_order_qty=1000)
MEMBERS = ("A", "B", "C")


@dataclass
class MOrder:
    member: str
    clordid: str
    side: int
    price: int
    qty: int
    leaves: int
    cum: int = 0
    seq: int = 0


@dataclass
class Model:
    resting: list[MOrder] = field(default_factory=list)
    trades: list[tuple[str, str, int, int]] = field(default_factory=list)  # (maker, taker, qty, price)
    arrival: int = 0

    def live(self, member: str, clordid: str) -> MOrder | None:
        return next((o for o in self.resting if o.member == member and o.clordid == clordid), None)

    def _crosses(self, taker: MOrder, maker: MOrder, market: bool) -> bool:
        if maker.side == taker.side:
            return False
        return market or (maker.price <= taker.price if taker.side == BUY else maker.price >= taker.price)

    def _best(self, taker: MOrder, market: bool) -> MOrder | None:
        candidates = [o for o in self.resting if self._crosses(taker, o, market)]
        if not candidates:
            return None
        sign = 1 if taker.side == BUY else -1
        return min(candidates, key=lambda o: (sign * o.price, o.seq))

    def match(self, taker: MOrder, market: bool) -> None:
        while taker.leaves:
            maker = self._best(taker, market)
            if maker is None:
                return
            qty = min(maker.leaves, taker.leaves)
            maker.leaves -= qty
            maker.cum += qty
            taker.leaves -= qty
            taker.cum += qty
            self.trades.append((maker.clordid, taker.clordid, qty, maker.price))
            if not maker.leaves:
                self.resting.remove(maker)

    def rest(self, order: MOrder) -> None:
        self.arrival += 1
        order.seq = self.arrival
        self.resting.append(order)

    def new(self, member: str, clordid: str, side: int, order_type: int, tif: int, qty: int, price: int) -> None:
        if self.live(member, clordid) is not None:
            return  # engine rejects a duplicate live id
        market = order_type == MARKET
        order = MOrder(member, clordid, side, 0 if market else price, qty, qty)
        if market and not any(o.side != side for o in self.resting):
            return  # NO_LIQUIDITY
        if tif == FOK:
            available = sum(o.leaves for o in self.resting if self._crosses(order, o, market))
            if available < qty:
                return
        self.match(order, market)
        if order.leaves and not market and tif in (GTC, DAY):
            self.rest(order)

    def cancel(self, member: str, clordid: str) -> None:
        order = self.live(member, clordid)
        if order is not None:
            self.resting.remove(order)

    def amend(self, member: str, clordid: str, qty: int | None, price: int | None) -> None:
        order = self.live(member, clordid)
        if order is None:
            return
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        if new_qty <= order.cum or new_qty > SPEC.max_order_qty or new_price <= 0:
            return
        keep = new_price == order.price and new_qty <= order.qty
        order.leaves = new_qty - order.cum
        order.qty = new_qty
        if keep:
            return
        self.resting.remove(order)
        order.price = new_price
        self.match(order, market=False)
        if order.leaves:
            self.rest(order)

    def levels(self, side: int) -> tuple[tuple[int, int, int], ...]:
        by_price: dict[int, list[int]] = {}
        for o in self.resting:
            if o.side == side:
                by_price.setdefault(o.price, []).append(o.leaves)
        prices = sorted(by_price, reverse=side == BUY)
        return tuple((p, sum(by_price[p]), len(by_price[p])) for p in prices)


Command = tuple[Any, ...]  # ("new", member, clordid, side, type, tif, qty, price) | ("cancel", ...) | ...
price = st.integers(98, 102)  # few levels: queues form and priority matters
qty = st.integers(1, 10)
clordid = st.sampled_from([f"o{i}" for i in range(12)])
member = st.sampled_from(MEMBERS)
new_cmd = st.tuples(
    st.just("new"),
    member,
    clordid,
    st.sampled_from((BUY, SELL)),
    st.sampled_from((LIMIT, LIMIT, LIMIT, MARKET)),
    st.sampled_from((GTC, DAY, IOC, FOK)),
    qty,
    price,
)
cancel_cmd = st.tuples(st.just("cancel"), member, clordid)
amend_cmd = st.tuples(st.just("amend"), member, clordid, st.none() | st.integers(0, 15), st.none() | price)
mass_cmd = st.tuples(st.just("mass"), member)
native_commands = st.lists(
    st.one_of(new_cmd, new_cmd, new_cmd, cancel_cmd, amend_cmd, mass_cmd), min_size=5, max_size=80
)


def random_stream(rng: random.Random) -> list[Command]:
    """A long, balanced stream (both sides, crossing prices, queues at every level): shrinking
    is coarser than with native lists, but priority bugs cannot hide in tiny examples."""
    out: list[Command] = []
    for _ in range(rng.randint(40, 120)):
        roll = rng.random()
        m = rng.choice(MEMBERS)
        c = f"o{rng.randrange(6)}"
        if roll < 0.6:
            otype = MARKET if rng.random() < 0.05 else LIMIT
            tif = rng.choice((GTC, GTC, DAY, IOC, FOK))
            out.append(("new", m, c, rng.choice((BUY, SELL)), otype, tif, rng.randint(1, 10), rng.randint(98, 102)))
        elif roll < 0.8:
            out.append(("cancel", m, c))
        elif roll < 0.97:
            q = rng.choice((None, rng.randint(0, 15)))
            p = rng.choice((None, rng.randint(98, 102)))
            out.append(("amend", m, c, q, p))
        else:
            out.append(("mass", m))
    return out


commands = native_commands | st.randoms(use_true_random=False).map(random_stream)


def run_engine(
    cmds: list[Command], model: Model | None = None, journal: bool = False
) -> tuple[Engine, list[object], bytes]:
    ticks = iter(range(1_000, 1 << 40, 7))
    engine = Engine([SPEC], clock=lambda: next(ticks))
    sink = io.BytesIO()
    writer = AuditWriter(sink) if journal else None
    if writer is not None:
        writer.write_header(0, [SPEC])
    all_events: list[object] = []
    trades_before = 0
    for cmd in cmds:
        kind = cmd[0]
        if kind == "new":
            _, m, c, side, otype, tif, q, p = cmd
            engine.new_order(m, 1, c, "ABC", side, otype, tif, q, p)
            if model is not None:
                model.new(m, c, side, otype, tif, q, p)
        elif kind == "cancel":
            _, m, c = cmd
            engine.cancel(m, 2, client_order_id=c)
            if model is not None:
                model.cancel(m, c)
        elif kind == "amend":
            _, m, c, q, p = cmd
            engine.amend(m, 3, orig_client_order_id=c, qty=q, price_ticks=p)
            if model is not None:
                model.amend(m, c, q, p)
        else:
            _, m = cmd
            engine.mass_cancel(m, 4, "ABC")
            if model is not None:
                model.resting = [o for o in model.resting if o.member != m]
        events = engine.take_events()
        if writer is not None:
            writer.write_events(events)
        if model is not None:
            check_against_model(engine, model, events, trades_before)
            trades_before = len(model.trades)
        all_events += events
    if writer is not None:
        writer.flush()
    return engine, all_events, sink.getvalue()


def check_against_model(engine: Engine, model: Model, events: Sequence[object], trades_before: int) -> None:
    """After one command: same book levels, same trades (maker, taker, qty, price) in order."""
    snap = engine.snapshot("ABC")
    assert snap is not None
    assert snap.bids == model.levels(BUY), "bid levels differ from the price-time model"
    assert snap.asks == model.levels(SELL), "ask levels differ from the price-time model"
    if snap.bids and snap.asks:
        assert snap.bids[0][0] < snap.asks[0][0], f"crossed book at rest: {snap.bids[0]} / {snap.asks[0]}"
    fills = [e for e in events if isinstance(e, OrderFill)]
    takers = {f.trade_id: f.client_order_id for f in fills if f.liquidity != MAKER}
    trades = [(f.client_order_id, takers[f.trade_id], f.qty, f.price_ticks) for f in fills if f.liquidity == MAKER]
    assert trades == model.trades[trades_before:], "trades differ from the price-time model"


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_engine_agrees_with_the_naive_price_time_model(cmds: list[Command]) -> None:
    run_engine(cmds, Model())


@SETTINGS
@given(commands)
def test_quantity_is_conserved_per_order(cmds: list[Command]) -> None:
    engine, events, _ = run_engine(cmds)
    total: dict[int, int] = {}
    filled: dict[int, int] = {}
    cancelled: dict[int, int] = {}
    for e in events:
        if isinstance(e, OrderAccepted | OrderReplaced):
            total[e.order_id] = e.qty
        elif isinstance(e, OrderFill):
            filled[e.order_id] = filled.get(e.order_id, 0) + e.qty
        elif isinstance(e, OrderCancelled):
            cancelled[e.order_id] = cancelled.get(e.order_id, 0) + e.cancelled_qty
    resting = {o.order_id: o.leaves_qty for m in MEMBERS for o in engine.order_status(m)}
    for order_id, qty in total.items():
        accounted = filled.get(order_id, 0) + cancelled.get(order_id, 0) + resting.get(order_id, 0)
        assert accounted == qty, f"order {order_id}: qty {qty} != filled+cancelled+resting {accounted}"
    snap = engine.snapshot("ABC")
    assert snap is not None
    assert sum(q for _, q, _ in snap.bids + snap.asks) == sum(resting.values())
    buys = sum(e.qty for e in events if isinstance(e, OrderFill) and e.side == BUY)
    sells = sum(e.qty for e in events if isinstance(e, OrderFill) and e.side == SELL)
    assert buys == sells


@SETTINGS
@given(commands)
def test_fok_is_all_or_nothing(cmds: list[Command]) -> None:
    _, events, _ = run_engine(cmds)
    fok = {e.order_id: e.qty for e in events if isinstance(e, OrderAccepted) and e.tif == FOK}
    done: dict[int, int] = {}
    for e in events:
        if isinstance(e, OrderFill) and e.order_id in fok:
            done[e.order_id] = done.get(e.order_id, 0) + e.qty
    for order_id, qty in fok.items():
        assert done.get(order_id, 0) in (0, qty), f"FOK order {order_id} filled {done.get(order_id)} of {qty}"


@SETTINGS
@given(commands)
def test_book_seq_is_contiguous(cmds: list[Command]) -> None:
    _, events, _ = run_engine(cmds)
    seqs = [e.book_seq for e in events if isinstance(e, BookUpdate)]
    assert seqs == list(range(1, len(seqs) + 1))


@settings(max_examples=40, deadline=None)
@given(commands)
def test_replay_gives_a_byte_identical_journal(cmds: list[Command]) -> None:
    _, _, first = run_engine(cmds, journal=True)
    _, _, second = run_engine(cmds, journal=True)
    assert first == second
    assert first.count(b"\n") >= 1
