"""The matching engine: pure, single-threaded, integer ticks end to end.

Every public mutating method is one sequencer command: it reads the injected clock once,
validates, matches, and appends the resulting events to ``self.events`` in order. The caller
(the exchange's sequencer, a test, the benchmark) takes them with :meth:`Engine.take_events`.
The same commands with the same clock and seed give the same events, hence a byte-identical
audit journal.

Book layout, chosen for speed (benchmarks/engine_bench.py):
- one ``BookSide`` per side: ``levels`` maps price -> ``Level``; ``keys`` is a sorted list of
  ``price * sign`` (sign +1 for bids, -1 for asks) so the best price is always ``keys[-1]``
  and removing it is a cheap ``pop()``; a new level is placed with ``bisect.insort``;
- a ``Level`` is a FIFO ``deque`` of orders plus its live quantity and order count. Cancels
  are lazy: the order is marked dead (``leaves == 0``) and dropped when matching reaches it
  or when its level empties, so a cancel never scans a queue. Re-queueing on amend removes
  eagerly (rare).
Events are immutable NamedTuples built by the factory next to each class in ``events``
(``new_order_fill((...))``): ``tuple.__new__`` bound to the class, so no Python call, and
typed, so mypy checks every build's fields.
"""

from __future__ import annotations

import random
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVarTuple

from compat.exchange import codes
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
    STATE_OPEN,
    STATE_PARTIALLY_FILLED,
    TAKER,
    BookSnapshot,
    Event,
    MemberEvent,
    OrderView,
    new_book_update,
    new_cancel_rejected,
    new_instrument_created,
    new_order_accepted,
    new_order_cancelled,
    new_order_fill,
    new_order_rejected,
    new_order_replaced,
    new_replace_rejected,
    new_status_change,
    new_trade_print,
)
from compat.exchange.instruments import CLOSED, HALTED, OPEN, PRE_OPEN, InstrumentSpec

Clock = Callable[[], int]
_Rest = TypeVarTuple("_Rest")  # a member event factory's fields after (member, member_seq, exch_seq, time_ns)

_STATUS_REJECT = {
    HALTED: (codes.INSTRUMENT_HALTED, "instrument is halted"),
    CLOSED: (codes.INSTRUMENT_CLOSED, "instrument is closed"),
    PRE_OPEN: (codes.INSTRUMENT_NOT_OPEN, "instrument is not open yet (pre-open)"),
}


class Order:
    __slots__ = (
        "client_order_id",
        "cum",
        "leaves",
        "member",
        "order_id",
        "order_type",
        "price",
        "qty",
        "side",
        "state",
        "symbol",
        "tif",
    )

    def __init__(
        self,
        order_id: int,
        member: str,
        client_order_id: str,
        symbol: str,
        side: int,
        order_type: int,
        tif: int,
        qty: int,
        price: int,
    ) -> None:
        self.order_id = order_id
        self.member = member
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.qty = qty
        self.price = price
        self.leaves = qty
        self.cum = 0
        self.state = STATE_OPEN

    def view(self) -> OrderView:
        state = self.state
        if state == STATE_OPEN and self.cum:
            state = STATE_PARTIALLY_FILLED
        return OrderView(
            self.order_id,
            self.client_order_id,
            self.symbol,
            self.side,
            self.order_type,
            self.tif,
            self.qty,
            self.price,
            self.leaves,
            self.cum,
            state,
            self.member,
        )


class Level:
    __slots__ = ("count", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.count = 0
        self.orders: deque[Order] = deque()


class BookSide:
    __slots__ = ("keys", "levels", "side", "sign")

    def __init__(self, side: int) -> None:
        self.side = side
        self.sign = 1 if side == BUY else -1
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []  # price * sign, ascending: the best price is keys[-1]

    def remove_level(self, price: int) -> None:
        del self.levels[price]
        key = price * self.sign
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            keys.remove(key)

    def best_first(self) -> Iterator[Level]:
        levels = self.levels
        sign = self.sign
        for key in reversed(self.keys):
            yield levels[key * sign]


class Book:
    __slots__ = ("asks", "bids", "book_seq", "lot_size", "max_order_qty", "spec", "status")

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.lot_size = spec.lot_size  # copies of spec fields: one attribute hop less per order
        self.max_order_qty = spec.max_order_qty
        self.status = spec.initial_status
        self.bids = BookSide(BUY)
        self.asks = BookSide(SELL)
        self.book_seq = 0


class MemberState:
    """A member's live orders and its event stream (member_seq = trimmed + index + 1)."""

    __slots__ = ("by_clordid", "live", "stream", "trimmed")

    def __init__(self) -> None:
        self.live: dict[int, Order] = {}
        self.by_clordid: dict[str, Order] = {}
        self.stream: list[MemberEvent] = []
        self.trimmed = 0  # events dropped from the front of ``stream`` by retention

    @property
    def last_seq(self) -> int:
        return self.trimmed + len(self.stream)

    def events_from(self, seq: int) -> list[MemberEvent]:
        """Retained events with member_seq >= seq."""
        return self.stream[max(0, seq - 1 - self.trimmed) :]


def id_base_for_seed(seed: int) -> int:
    """Order and trade ids start at 1 for seed 0; any other seed starts them at a
    reproducible pseudo-random base, so gateways cannot get away with assuming small ids."""
    if seed == 0:
        return 1
    return random.Random(seed).randrange(1, 1 << 40)


Dirty = dict[tuple[int, int], None]  # (side, price) of every level a command touched, in order


class Engine:
    def __init__(
        self,
        instruments: Iterable[InstrumentSpec],
        clock: Clock,
        seed: int = 0,
        stream_retention: int | None = None,
        finished_retention: int = 100_000,
    ) -> None:
        self.books: dict[str, Book] = {spec.symbol: Book(spec) for spec in instruments}
        self.members: dict[str, MemberState] = {}
        self.events: list[Event] = []
        self.seed = seed
        self._clock = clock
        base = id_base_for_seed(seed)
        self._next_order_id = base
        self._next_trade_id = base
        self._exch_seq = 0
        self._stream_retention = stream_retention
        self._finished: dict[int, Order] = {}
        self._finished_retention = finished_retention
        self._live_count = 0

    # ------------------------------------------------------------------ plumbing

    def take_events(self) -> list[Event]:
        events = self.events
        self.events = []
        return events

    def trim(self) -> None:
        """Apply the retention limits (called periodically, off the hot path)."""
        # Trim only past twice the limit, so the cost per event stays O(1) amortised.
        finished = self._finished
        keep = self._finished_retention
        if len(finished) > 2 * keep:
            self._finished = dict(islice(finished.items(), len(finished) - keep, None))
        retention = self._stream_retention
        if retention is not None:
            for state in self.members.values():
                drop = len(state.stream) - retention
                if drop > retention:
                    del state.stream[:drop]
                    state.trimmed += drop

    def member(self, member: str) -> MemberState:
        state = self.members.get(member)
        if state is None:
            state = self.members[member] = MemberState()
        return state

    def _emit(
        self,
        state: MemberState,
        factory: Callable[[tuple[str, int, int, int, *_Rest]], MemberEvent],
        member: str,
        now: int,
        *rest: *_Rest,
    ) -> None:
        """Sequence one member event: ``factory`` (an events ``new_*``) gets the member, its
        next member_seq, the next exch_seq and the time, then ``rest``: mypy checks them."""
        stream = state.stream
        self._exch_seq = exch_seq = self._exch_seq + 1
        event = factory((member, state.trimmed + len(stream) + 1, exch_seq, now, *rest))
        stream.append(event)
        self.events.append(event)

    def _publish(self, book: Book, dirty: Dirty, now: int) -> None:
        if not dirty:
            return
        book.book_seq += 1
        bids = book.bids.levels
        asks = book.asks.levels
        changes = []
        for side, price in dirty:
            level = (bids if side == BUY else asks).get(price)
            changes.append((side, price, 0, 0) if level is None else (side, price, level.qty, level.count))
        self.events.append(new_book_update((now, book.spec.symbol, book.book_seq, tuple(changes))))

    # ------------------------------------------------------------------ new order

    def new_order(
        self,
        member: str,
        request_id: int,
        client_order_id: str,
        symbol: str,
        side: int,
        order_type: int,
        tif: int,
        qty: int,
        price_ticks: int,
    ) -> int:
        """One new order. Returns its order id, or 0 when it was rejected.

        Steps: validate (one cheap test; :meth:`_why_rejected` names the failure), accept
        (order id, ``Order``, OrderAccepted), then: nothing crosses (the common passive
        insert) -> rest it and publish its one level, or kill an IOC/FOK; a FOK that cannot
        fill whole -> kill it; otherwise :meth:`_aggress`.
        """
        now = self._clock()
        mstate = self.members.get(member) or self.member(member)
        book = self.books.get(symbol)
        if (
            book is None
            or book.status != OPEN
            or not client_order_id
            or (side != BUY and side != SELL)
            or (order_type != LIMIT and order_type != MARKET)
            or not 0 <= tif <= FOK
            or qty <= 0
            or qty % book.lot_size
            or qty > book.max_order_qty
            or (order_type == LIMIT and price_ticks <= 0)
            or client_order_id in mstate.by_clordid
            or (order_type == MARKET and not (book.asks if side == BUY else book.bids).keys)
        ):
            code, text = self._why_rejected(
                mstate, book, client_order_id, symbol, side, order_type, tif, qty, price_ticks
            )
            self._emit(mstate, new_order_rejected, member, now, request_id, client_order_id, symbol, code, text)
            return 0
        if order_type == MARKET:
            price_ticks = 0
            if tif != FOK:
                tif = IOC
        elif not tif:
            tif = GTC
        # Accept (inline, not _emit: this is every order).
        order_id = self._next_order_id
        self._next_order_id = order_id + 1
        order = Order(order_id, member, client_order_id, symbol, side, order_type, tif, qty, price_ticks)
        stream = mstate.stream
        self._exch_seq = exch_seq = self._exch_seq + 1
        event = new_order_accepted((
            member, mstate.trimmed + len(stream) + 1, exch_seq, now, request_id, order_id, client_order_id,
            symbol, side, order_type, tif, qty, price_ticks, qty,
        ))  # fmt: skip
        stream.append(event)
        self.events.append(event)
        opposite = book.asks if side == BUY else book.bids
        okeys = opposite.keys
        if not okeys or (
            order_type == LIMIT and (price_ticks < -okeys[-1] if side == BUY else price_ticks > okeys[-1])
        ):
            # Nothing crosses: no dirty set, the one level the order joined is the update.
            if tif <= DAY:  # GTC (1) or DAY (2); a tuple test would build a tuple per order
                level = self._rest(book, order, mstate)
                book.book_seq = book_seq = book.book_seq + 1
                self.events.append(
                    new_book_update((now, symbol, book_seq, ((side, price_ticks, level.qty, level.count),)))
                )
            else:
                self._kill(mstate, order, request_id, REASON_FOK_KILL if tif == FOK else REASON_IOC_REMAINDER, now)
        elif tif == FOK and not self._fillable(opposite, order):
            self._kill(mstate, order, request_id, REASON_FOK_KILL, now)
        else:
            self._aggress(book, opposite, order, mstate, request_id, now)
        return order_id

    def _aggress(
        self, book: Book, opposite: BookSide, order: Order, mstate: MemberState, request_id: int, now: int
    ) -> None:
        """Match a crossing new order, then rest (GTC/DAY) or kill (IOC/FOK) what is left."""
        dirty: Dirty = {}
        self._match(book, opposite, order, mstate, now, dirty)
        if not order.leaves:
            order.state = STATE_FILLED
            self._finished[order.order_id] = order
        elif order.tif <= DAY:  # GTC (1) or DAY (2)
            self._rest(book, order, mstate)
            dirty[(order.side, order.price)] = None
        else:
            self._kill(mstate, order, request_id, REASON_IOC_REMAINDER, now)
        self._publish(book, dirty, now)

    def _kill(self, mstate: MemberState, order: Order, request_id: int, reason: int, now: int) -> None:
        """Cancel what is left of a new IOC/FOK order that was never booked."""
        self._emit(
            mstate, new_order_cancelled, order.member, now,
            request_id, order.order_id, order.client_order_id, order.symbol, reason, order.leaves, order.cum,
        )  # fmt: skip
        order.leaves = 0
        order.state = STATE_CANCELLED
        self._finished[order.order_id] = order

    def _why_rejected(
        self,
        mstate: MemberState,
        book: Book | None,
        client_order_id: str,
        symbol: str,
        side: int,
        order_type: int,
        tif: int,
        qty: int,
        price_ticks: int,
    ) -> tuple[int, str]:
        """The first failed check of a new order, as (code, text); the order matters."""
        if not client_order_id:
            return codes.MISSING_CLIENT_ORDER_ID, "client_order_id is required"
        if book is None:
            return codes.UNKNOWN_INSTRUMENT, f"unknown instrument {symbol!r}"
        if book.status != OPEN:
            return _STATUS_REJECT[book.status]
        if side != BUY and side != SELL:
            return codes.INVALID_SIDE, f"side must be BUY(1) or SELL(2), got {side}"
        if order_type != LIMIT and order_type != MARKET:
            return codes.INVALID_ORDER_TYPE, f"order type must be LIMIT(1) or MARKET(2), got {order_type}"
        if not 0 <= tif <= FOK:
            return codes.INVALID_TIF, f"time in force must be GTC(1), DAY(2), IOC(3) or FOK(4), got {tif}"
        spec = book.spec
        if qty <= 0:
            return codes.INVALID_QTY, f"qty must be positive, got {qty}"
        if qty % spec.lot_size:
            return codes.QTY_NOT_LOT_MULTIPLE, f"qty {qty} is not a multiple of lot size {spec.lot_size}"
        if qty > spec.max_order_qty:
            return codes.QTY_ABOVE_MAX, f"qty {qty} exceeds max order qty {spec.max_order_qty}"
        if order_type == LIMIT and price_ticks <= 0:
            return codes.INVALID_PRICE, f"limit price must be a positive number of ticks, got {price_ticks}"
        if client_order_id in mstate.by_clordid:
            return codes.DUPLICATE_CLIENT_ORDER_ID, f"client_order_id {client_order_id!r} is already live"
        return codes.NO_LIQUIDITY, "market order and the opposite side of the book is empty"

    def _rest(self, book: Book, order: Order, mstate: MemberState) -> Level:
        """Book ``order`` at the tail of its level (made if new) and index it live; returns the
        level. The caller reports the change (a dirty entry, or the passive insert's update)."""
        side = book.bids if order.side == BUY else book.asks
        price = order.price
        level = side.levels.get(price)
        if level is None:
            level = side.levels[price] = Level(price)
            key = price * side.sign
            keys = side.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.orders.append(order)
        level.qty += order.leaves
        level.count += 1
        mstate.live[order.order_id] = order
        mstate.by_clordid[order.client_order_id] = order
        self._live_count += 1
        return level

    @staticmethod
    def _fillable(opposite: BookSide, order: Order) -> bool:
        """FOK: can the whole order fill right now? Checked before any matching."""
        need = order.leaves
        limit = order.price
        is_market = order.order_type == MARKET
        buy = order.side == BUY
        sign = opposite.sign
        for key in reversed(opposite.keys):
            price = key * sign
            if not is_market and (price > limit if buy else price < limit):
                return False
            need -= opposite.levels[price].qty
            if need <= 0:
                return True
        return False

    def _match(
        self, book: Book, opposite: BookSide, taker: Order, taker_state: MemberState, now: int, dirty: Dirty
    ) -> None:
        """Fill ``taker`` against the opposite side at the resting prices, best first, FIFO."""
        buy = taker.side == BUY
        keys = opposite.keys
        levels = opposite.levels
        sign = opposite.sign
        opposite_side = opposite.side
        is_market = taker.order_type == MARKET
        limit = taker.price
        members = self.members
        events = self.events
        finished = self._finished
        symbol = taker.symbol
        taker_stream = taker_state.stream
        book_seq = book.book_seq + 1
        while taker.leaves and keys:
            price = keys[-1] * sign
            if not is_market and (price > limit if buy else price < limit):
                break
            level = levels[price]
            queue = level.orders
            while taker.leaves and queue:
                maker = queue[0]
                if not maker.leaves:  # cancelled earlier: lazy removal
                    queue.popleft()
                    continue
                qty = maker.leaves if maker.leaves < taker.leaves else taker.leaves
                trade_id = self._next_trade_id
                self._next_trade_id = trade_id + 1
                maker.leaves -= qty
                maker.cum += qty
                taker.leaves -= qty
                taker.cum += qty
                level.qty -= qty
                maker_state = members[maker.member]
                maker_stream = maker_state.stream
                seq = self._exch_seq
                event = new_order_fill((
                    maker.member, maker_state.trimmed + len(maker_stream) + 1, seq + 1, now, maker.order_id,
                    maker.client_order_id, symbol, maker.side, trade_id, qty, price, MAKER, maker.leaves, maker.cum,
                ))  # fmt: skip
                maker_stream.append(event)
                events.append(event)
                event = new_order_fill((
                    taker.member, taker_state.trimmed + len(taker_stream) + 1, seq + 2, now, taker.order_id,
                    taker.client_order_id, symbol, taker.side, trade_id, qty, price, TAKER, taker.leaves, taker.cum,
                ))  # fmt: skip
                taker_stream.append(event)
                events.append(event)
                trade = new_trade_print((
                    seq + 3, now, symbol, trade_id, price, qty, taker.side, book_seq, maker.order_id, taker.order_id
                ))  # fmt: skip
                events.append(trade)
                self._exch_seq = seq + 3
                if not maker.leaves:
                    queue.popleft()
                    level.count -= 1
                    maker.state = STATE_FILLED
                    del maker_state.live[maker.order_id]
                    if maker_state.by_clordid.get(maker.client_order_id) is maker:
                        del maker_state.by_clordid[maker.client_order_id]
                    finished[maker.order_id] = maker
                    self._live_count -= 1
            dirty[(opposite_side, price)] = None
            if not level.count:
                opposite.remove_level(price)

    # ------------------------------------------------------------------ cancel / amend

    def _find(self, mstate: MemberState, order_id: int, client_order_id: str) -> Order | None:
        if order_id:
            return mstate.live.get(order_id)
        if client_order_id:
            return mstate.by_clordid.get(client_order_id)
        return None

    def _unbook(self, book: Book, order: Order, mstate: MemberState, dirty: Dirty, requeue: bool) -> None:
        """Take a live order off the book and out of the live indexes. Without ``requeue`` the
        queue entry stays behind as a dead entry (lazy removal); with it the entry is removed
        now because the same object goes back in at the tail."""
        side = book.bids if order.side == BUY else book.asks
        level = side.levels[order.price]
        level.qty -= order.leaves
        level.count -= 1
        if requeue:
            level.orders.remove(order)
        if not level.count:
            side.remove_level(order.price)
        dirty[(order.side, order.price)] = None
        del mstate.live[order.order_id]
        if mstate.by_clordid.get(order.client_order_id) is order:
            del mstate.by_clordid[order.client_order_id]
        self._live_count -= 1

    def cancel(
        self, member: str, request_id: int, order_id: int = 0, client_order_id: str = "", symbol: str = ""
    ) -> bool:
        """Cancel one live order, identified by order id or else by client order id."""
        now = self._clock()
        mstate = self.members.get(member) or self.member(member)
        order = mstate.live.get(order_id) if order_id else mstate.by_clordid.get(client_order_id)
        if order is None or (symbol and order.symbol != symbol):
            self._emit(
                mstate, new_cancel_rejected, member, now, request_id, order_id, client_order_id, codes.UNKNOWN_ORDER,
                f"no live order {order_id or client_order_id!r} for member {member!r}",
            )  # fmt: skip
            return False
        # Inlined single-order cancel (a fifth of the benchmark mix); mass cancels and
        # halts go through _cancel_order.
        book = self.books[order.symbol]
        side = order.side
        price = order.price
        own = book.bids if side == BUY else book.asks
        level = own.levels[price]
        leaves = order.leaves
        level.qty -= leaves
        level.count -= 1
        if not level.count:
            own.remove_level(price)
        order_id = order.order_id
        del mstate.live[order_id]
        if mstate.by_clordid.get(order.client_order_id) is order:
            del mstate.by_clordid[order.client_order_id]
        self._live_count -= 1
        order.leaves = 0
        order.state = STATE_CANCELLED
        self._finished[order_id] = order
        self._emit(
            mstate, new_order_cancelled, member, now,
            request_id, order_id, order.client_order_id, order.symbol, REASON_USER, leaves, order.cum,
        )  # fmt: skip
        book.book_seq = book_seq = book.book_seq + 1
        self.events.append(new_book_update((now, order.symbol, book_seq, ((side, price, level.qty, level.count),))))
        return True

    def _cancel_order(
        self,
        book: Book,
        order: Order,
        mstate: MemberState,
        request_id: int,
        reason: int,
        now: int,
        dirty: Dirty,
    ) -> None:
        self._unbook(book, order, mstate, dirty, requeue=False)
        leaves = order.leaves
        order.leaves = 0
        order.state = STATE_CANCELLED
        self._finished[order.order_id] = order
        self._emit(
            mstate, new_order_cancelled, order.member, now,
            request_id, order.order_id, order.client_order_id, order.symbol, reason, leaves, order.cum,
        )  # fmt: skip

    def amend(
        self,
        member: str,
        request_id: int,
        order_id: int = 0,
        orig_client_order_id: str = "",
        new_client_order_id: str = "",
        qty: int | None = None,
        price_ticks: int | None = None,
    ) -> bool:
        """Change a live order's total quantity and/or price. Quantity down at the same price
        keeps time priority; a price change or a quantity increase re-queues at the tail of
        the level (and trades first if the new price crosses)."""
        now = self._clock()
        mstate = self.members.get(member) or self.member(member)
        order = self._find(mstate, order_id, orig_client_order_id)
        problem = self._amend_problem(mstate, order, new_client_order_id, qty, price_ticks)
        if problem is not None:
            self._emit(
                mstate, new_replace_rejected, member, now, request_id, order.order_id if order else order_id,
                order.client_order_id if order else orig_client_order_id, new_client_order_id, *problem,
            )  # fmt: skip
            return False
        assert order is not None
        book = self.books[order.symbol]
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price_ticks is None else price_ticks
        new_leaves = new_qty - order.cum
        old_clordid = order.client_order_id
        dirty: Dirty = {}
        keep = new_price == order.price and new_qty <= order.qty
        if keep:
            if new_leaves != order.leaves:
                side = book.bids if order.side == BUY else book.asks
                side.levels[order.price].qty -= order.leaves - new_leaves
                dirty[(order.side, order.price)] = None
            if new_client_order_id and new_client_order_id != old_clordid:
                del mstate.by_clordid[old_clordid]
                mstate.by_clordid[new_client_order_id] = order
                order.client_order_id = new_client_order_id
            order.leaves = new_leaves
            order.qty = new_qty
        else:
            self._unbook(book, order, mstate, dirty, requeue=True)
            if new_client_order_id:
                order.client_order_id = new_client_order_id
            order.qty = new_qty
            order.leaves = new_leaves
            order.price = new_price
        self._emit(
            mstate, new_order_replaced, member, now, request_id, order.order_id, order.client_order_id, old_clordid,
            order.symbol, order.qty, order.price, order.leaves, order.cum, keep,
        )  # fmt: skip
        if not keep:
            # Like a new aggressor: trade what crosses, then rest the remainder at the tail.
            opposite = book.asks if order.side == BUY else book.bids
            self._match(book, opposite, order, mstate, now, dirty)
            if order.leaves:
                self._rest(book, order, mstate)
                dirty[(order.side, order.price)] = None
            else:
                order.state = STATE_FILLED
                self._finished[order.order_id] = order
        self._publish(book, dirty, now)
        return True

    def _amend_problem(
        self,
        mstate: MemberState,
        order: Order | None,
        new_client_order_id: str,
        qty: int | None,
        price_ticks: int | None,
    ) -> tuple[int, str] | None:
        if order is None:
            return codes.UNKNOWN_ORDER, "no such live order for this member"
        book = self.books[order.symbol]
        spec = book.spec
        if book.status != OPEN:
            return _STATUS_REJECT[book.status]
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price_ticks is None else price_ticks
        if (
            new_client_order_id
            and new_client_order_id != order.client_order_id
            and new_client_order_id in mstate.by_clordid
        ):
            return codes.DUPLICATE_CLIENT_ORDER_ID, f"client_order_id {new_client_order_id!r} is already live"
        if new_qty <= 0 or new_qty <= order.cum:
            return codes.AMEND_QTY_TOO_LOW, f"new total qty {new_qty} must exceed the filled qty {order.cum}"
        if new_qty % spec.lot_size:
            return codes.QTY_NOT_LOT_MULTIPLE, f"qty {new_qty} is not a multiple of lot size {spec.lot_size}"
        if new_qty > spec.max_order_qty:
            return codes.QTY_ABOVE_MAX, f"qty {new_qty} exceeds max order qty {spec.max_order_qty}"
        if new_price <= 0:
            return codes.INVALID_PRICE, f"limit price must be a positive number of ticks, got {new_price}"
        return None

    def mass_cancel(self, member: str, request_id: int, symbol: str = "") -> tuple[int, int]:
        """Cancel the member's resting orders (on one symbol, or all). Returns (code, count)."""
        now = self._clock()
        mstate = self.members.get(member) or self.member(member)
        if symbol and symbol not in self.books:
            return codes.UNKNOWN_INSTRUMENT, 0
        targets = [o for o in mstate.live.values() if not symbol or o.symbol == symbol]
        self._cancel_many(targets, request_id, REASON_MASS, now)
        return codes.OK, len(targets)

    def _cancel_many(self, targets: list[Order], request_id: int, reason: int, now: int) -> None:
        dirty_by_book: dict[str, Dirty] = {}
        for order in targets:
            dirty = dirty_by_book.setdefault(order.symbol, {})
            self._cancel_order(
                self.books[order.symbol], order, self.members[order.member], request_id, reason, now, dirty
            )
        for symbol, dirty in dirty_by_book.items():
            self._publish(self.books[symbol], dirty, now)

    def reject_order(
        self, member: str, request_id: int, client_order_id: str, symbol: str, code: int, text: str
    ) -> None:
        """A new order refused by a venue before it reached matching (e.g. a TLX price not on
        tick): still one sequenced OrderRejected, so the stream and the audit log show it."""
        now = self._clock()
        mstate = self.member(member)
        self._emit(mstate, new_order_rejected, member, now, request_id, client_order_id, symbol, code, text)

    def reject_amend(
        self,
        member: str,
        request_id: int,
        order_id: int,
        orig_client_order_id: str,
        new_client_order_id: str,
        code: int,
        text: str,
    ) -> None:
        now = self._clock()
        self._emit(
            self.member(member), new_replace_rejected, member, now,
            request_id, order_id, orig_client_order_id, new_client_order_id, code, text,
        )  # fmt: skip

    # ------------------------------------------------------------------ instruments

    def set_status(self, symbol: str, status: int, cancel_resting: bool = False) -> int:
        """Change an instrument's status. CLOSED expires DAY orders; ``cancel_resting``
        cancels every resting order (reason HALT)."""
        now = self._clock()
        book = self.books.get(symbol)
        if book is None:
            return codes.UNKNOWN_INSTRUMENT
        if status not in (PRE_OPEN, OPEN, HALTED, CLOSED):
            return codes.INVALID_INSTRUMENT
        book.status = status
        self._exch_seq += 1
        self.events.append(new_status_change((self._exch_seq, now, symbol, status)))
        resting = [
            o for side in (book.bids, book.asks) for level in side.best_first() for o in level.orders if o.leaves
        ]
        if cancel_resting:
            self._cancel_many(resting, 0, REASON_HALT, now)
        elif status == CLOSED:
            self._cancel_many([o for o in resting if o.tif == DAY], 0, REASON_EXPIRED, now)
        return codes.OK

    def create_instrument(self, spec: InstrumentSpec) -> int:
        now = self._clock()
        if spec.symbol in self.books:
            return codes.INSTRUMENT_EXISTS
        self.books[spec.symbol] = book = Book(spec)
        self._exch_seq += 1
        event = new_instrument_created((
            self._exch_seq, now, spec.symbol, spec.tick_size_units, spec.price_scale, spec.lot_size,
            spec.max_order_qty, book.status,
        ))  # fmt: skip
        self.events.append(event)
        return codes.OK

    # ------------------------------------------------------------------ queries (not sequenced)

    def order_status(
        self, member: str, order_id: int = 0, client_order_id: str = "", symbol: str = ""
    ) -> list[OrderView]:
        """No filter: the member's live orders. An id: that order, live or finished (while
        retained). A symbol: live orders on it."""
        mstate = self.member(member)
        if order_id or client_order_id:
            live = self._find(mstate, order_id, client_order_id)
            if live is not None:
                return [live.view()]
            if order_id:
                done = self._finished.get(order_id)
                return [done.view()] if done is not None and done.member == member else []
            for done in reversed(self._finished.values()):
                if done.member == member and done.client_order_id == client_order_id:
                    return [done.view()]
            return []
        return [o.view() for o in mstate.live.values() if not symbol or o.symbol == symbol]

    def snapshot(self, symbol: str) -> BookSnapshot | None:
        book = self.books.get(symbol)
        if book is None:
            return None
        return BookSnapshot(
            symbol,
            book.book_seq,
            book.status,
            tuple((lv.price, lv.qty, lv.count) for lv in book.bids.best_first()),
            tuple((lv.price, lv.qty, lv.count) for lv in book.asks.best_first()),
        )

    def live_order_count(self) -> int:
        return self._live_count


__all__ = ["Book", "BookSide", "Clock", "Engine", "Level", "MemberState", "Order", "id_base_for_seed"]
