"""The gateway core: orders, id maps, risk checks, routing to the venue, fan-out of events.

Ids: ``client`` (the session's request/order ids) <-> ``gateway order id`` (an integer this
process assigns) <-> ``exchange order id`` (the venue's). The venue-side client_order_id
is ``<boot>-<gateway order id>`` so a restarted gateway never collides with its own live
orders at the exchange.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from refgw.book import Book
from refgw.config import Config
from refgw.model import BookEvent, InstrumentDef, VenueNotice, VenueOrderEvent
from refgw.venues import Venue

if TYPE_CHECKING:
    from refgw.session import Session


@dataclass
class GwOrder:
    gw_id: int
    venue_coid: str
    username: str
    symbol: str
    side: str
    order_type: str
    tif: str
    qty: int
    price_ticks: int
    session: Session | None
    request_id: int = 0
    client_order_id: str = ""
    extensions: bytes = b""  # raw request fields 1000-1999, echoed on every report
    exch_order_id: str = ""
    leaves_qty: int = 0
    cum_qty: int = 0
    state: str = "PENDING"  # PENDING OPEN FILLED CANCELLED REJECTED

    @property
    def live(self) -> bool:
        return self.state in ("PENDING", "OPEN")


class Reject(Exception):
    """A gateway-side rejection: a RejectCode name and a reason."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Gateway:
    def __init__(self, venue: Venue, config: Config) -> None:
        self.venue = venue
        self.config = config
        self.limits = config.limits
        self.boot = format(time.time_ns() // 1_000_000 % 36**6, "x")
        self.next_gw_id = 1
        self.orders: dict[int, GwOrder] = {}
        self.by_client_id: dict[tuple[str, str], GwOrder] = {}  # (username, client_order_id)
        self.by_venue_coid: dict[str, GwOrder] = {}
        self.outstanding: dict[str, int] = {}  # username -> sum of leaves of live orders
        self.books: dict[str, Book] = {}
        self.subscribers: dict[str, set[Session]] = {}
        self.sessions: set[Session] = set()
        venue.on_order = self.on_venue_order
        venue.on_book = self.on_venue_book
        venue.on_notice = self.on_venue_notice

    @property
    def instruments(self) -> dict[str, InstrumentDef]:
        return self.venue.instruments

    # ------------------------------------------------------------------ requests
    def check_risk(
        self, username: str, instr: InstrumentDef, qty: int, price_ticks: int, market: bool
    ) -> None:
        lim = self.limits
        if qty <= 0:
            raise Reject("INVALID_QUANTITY", f"quantity {qty} must be positive")
        if qty > lim.max_order_qty:
            raise Reject(
                "RISK_MAX_QUANTITY", f"quantity {qty} exceeds the maximum order quantity {lim.max_order_qty}"
            )
        if not market:
            notional = instr.ticks_to_decimal(price_ticks) * qty
            if notional > lim.max_notional:
                raise Reject("RISK_NOTIONAL", f"notional {notional} exceeds the limit {lim.max_notional}")
        outstanding = self.outstanding.get(username, 0) + qty
        if outstanding > lim.max_outstanding_qty:
            raise Reject(
                "RISK_OUTSTANDING_QUANTITY",
                f"outstanding quantity would be {outstanding}, above the limit {lim.max_outstanding_qty}",
            )
        book = self.books.get(instr.symbol)
        last = book.last_trade_ticks if book is not None else 0
        if (
            lim.price_collar_ticks
            and not market
            and last
            and abs(price_ticks - last) > lim.price_collar_ticks
        ):
            raise Reject(
                "RISK_PRICE_COLLAR",
                f"price is {abs(price_ticks - last)} ticks from the last trade {last}, "
                f"collar is {lim.price_collar_ticks}",
            )

    def insert(
        self,
        session: Session,
        request_id: int,
        symbol: str,
        side: str,
        qty: int,
        price_ticks: int,
        order_type: str,
        tif: str,
        client_order_id: str = "",
        extensions: bytes = b"",
    ) -> GwOrder:
        """Route a validated order (risk checked here); raises Reject."""
        instr = self.instruments.get(symbol)
        if instr is None:
            raise Reject("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}")
        market = order_type == "MARKET"
        if not market and price_ticks <= 0:
            raise Reject("INVALID_PRICE", f"limit price must be positive, got {price_ticks} ticks")
        self.check_risk(session.username, instr, qty, price_ticks, market)
        gw_id = self.next_gw_id
        self.next_gw_id += 1
        order = GwOrder(
            gw_id=gw_id,
            venue_coid=f"{self.boot}-{gw_id}",
            username=session.username,
            symbol=symbol,
            side=side,
            order_type=order_type,
            tif=tif,
            qty=qty,
            price_ticks=0 if market else price_ticks,
            session=session,
            request_id=request_id,
            leaves_qty=qty,
            client_order_id=client_order_id,
            extensions=extensions,
        )
        self.orders[gw_id] = order
        if client_order_id:
            self.by_client_id[(order.username, client_order_id)] = order
        self.by_venue_coid[order.venue_coid] = order
        self.outstanding[order.username] = self.outstanding.get(order.username, 0) + qty
        self.venue.new_order(order.venue_coid, symbol, side, order_type, tif, qty, order.price_ticks)
        return order

    def existing(self, username: str, client_order_id: str) -> GwOrder | None:
        """The order a repeated client_order_id refers to (idempotent inserts)."""
        if not client_order_id:
            return None
        return self.by_client_id.get((username, client_order_id))

    def find(self, session: Session, gw_id: int, client_order_id: str) -> GwOrder:
        order = self.orders.get(gw_id) if gw_id else self.existing(session.username, client_order_id)
        if order is None or order.username != session.username:
            ref = gw_id or repr(client_order_id)
            raise Reject("UNKNOWN_ORDER", f"no order {ref} for user {session.username!r}")
        return order

    def cancel(self, session: Session, request_id: int, gw_id: int, client_order_id: str = "") -> GwOrder:
        order = self.find(session, gw_id, client_order_id)
        if not order.live:
            raise Reject("UNKNOWN_ORDER", f"order {order.gw_id} is {order.state}, not live")
        order.request_id = request_id
        self.venue.cancel(order.venue_coid, order.symbol)
        return order

    def subscribe(self, session: Session, symbol: str) -> Book:
        if symbol not in self.instruments:
            raise Reject("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}")
        subs = self.subscribers.setdefault(symbol, set())
        subs.add(session)
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = Book(symbol)
            self.venue.subscribe(symbol)
        return book

    def drop_session(self, session: Session) -> None:
        self.sessions.discard(session)
        for subs in self.subscribers.values():
            subs.discard(session)
        for order in self.orders.values():
            if order.session is session:
                order.session = None

    # ------------------------------------------------------------------ venue events
    def _release(self, order: GwOrder) -> None:
        self.outstanding[order.username] = self.outstanding.get(order.username, 0) - order.leaves_qty
        order.leaves_qty = 0

    def on_venue_order(self, ev: VenueOrderEvent) -> None:
        order = self.by_venue_coid.get(ev.venue_coid)
        if order is None:
            return  # not ours (another gateway instance of the same member)
        kind = ev.kind
        if kind == "accepted":
            order.exch_order_id = ev.exch_order_id
            order.state = "OPEN"
        elif kind == "fill":
            self.outstanding[order.username] = self.outstanding.get(order.username, 0) - ev.last_qty
            order.leaves_qty = ev.leaves_qty
            order.cum_qty = ev.cum_qty
            if ev.leaves_qty == 0:
                order.state = "FILLED"
        elif kind == "cancelled":
            self._release(order)
            order.state = "CANCELLED"
        elif kind == "rejected":
            self._release(order)
            order.state = "REJECTED"
        if order.session is not None:
            order.session.order_event(order, ev)

    def on_venue_book(self, ev: BookEvent) -> None:
        book = self.books.get(ev.symbol)
        if book is None:
            book = self.books[ev.symbol] = Book(ev.symbol)
        book.apply(ev)
        for session in self.subscribers.get(ev.symbol, ()):
            session.book_event(book, ev)

    def on_venue_notice(self, notice: VenueNotice) -> None:
        if notice.kind == "closed":
            import sys

            print(f"refgw: venue connection lost: {notice.text}", file=sys.stderr, flush=True)


def to_decimal(instr: InstrumentDef, ticks: int) -> Decimal:
    return instr.ticks_to_decimal(ticks)
