"""The gateway core: sessions, orders, id maps, risk checks, routing, the journal.

Ids: ``client`` (the session's request/order ids) <-> ``gateway order id`` (an integer this
process assigns) <-> ``exchange order id`` (the venue's). The venue-side client_order_id
is ``<boot>-<gateway order id>`` so a restarted gateway never collides with its own live
orders at the exchange.

Sessions outlive connections (protocol v2): every execution report gets the session's next
``seq``, is journaled as raw bytes and kept in a bounded resend ring, and is written to the
session's connection if it has one. A reconnect with the session id replays from a seq.

Exchange link (3.1): when the venue connection drops, client sessions stay up and new
requests are rejected (EXCHANGE_REJECT, "exchange link down ..."); the gateway reconnects with
bounded backoff (50 ms doubling to 1 s, each attempt at most 10 s), logs on again resuming the
member stream from its cursor (OBX ``resume_from_seq``; TLX session resume), so events made while
it was down reach their sessions once (resent events at or below the cursor are skipped). An
order sent but not acknowledged when the link dropped, that the replay does not mention, never
reached the exchange: it is rejected; an unanswered cancel/amend likewise. A logout because the
member logged on elsewhere (SUPERSEDED) is final: the gateway stops (exit 3).

Retention (3.1): a finished order stays in the maps (duplicate client_order_id answers, cancel
rejects, resume status) until it is beyond the retention of refgw.retention, checked whenever an
order finishes and at recovery; then it leaves every map. A late exchange event for it is logged
and dropped. Live orders are never forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from refgw import journal as jr
from refgw import refgw_pb2 as pb
from refgw.book import Book
from refgw.config import Config, Limits
from refgw.framing import HEADER, encode
from refgw.model import BookEvent, InstrumentDef, VenueNotice, VenueOrderEvent
from refgw.retention import FinishedOrders, Retention
from refgw.venues import Venue

# ExecutionReport.poss_dup (field 19, varint true), appended to a stored frame on replay:
# concatenated encodings merge, so replay never needs to decode the message.
_POSS_DUP = bytes((0x98, 0x01, 0x01))  # key (19 << 3 | 0) as a varint, then true


# Below this many units (|price_ticks * tick_size_units * qty|) the Decimal notional (28
# digits) is exact, so the integer comparison decides the same way.
_EXACT_UNITS = 10**27

# Exchange logout code when the same member logged on from elsewhere: never fight it.
SUPERSEDED = -4009
RECONNECT_FIRST_S = 0.05  # first retry delay after a failed reconnect; doubles each time
RECONNECT_MAX_S = 1.0  # the backoff's bound
RECONNECT_ATTEMPT_S = 10.0  # one attempt (connect, logon, replay, instruments) at most
_new_object = object.__new__  # a GwOrder without calling the class (see new_gw_order)


def mark_poss_dup(frame: bytes) -> bytes:
    length, msg_type = HEADER.unpack_from(frame)
    return HEADER.pack(length + len(_POSS_DUP), msg_type) + frame[HEADER.size :] + _POSS_DUP


class Connection(Protocol):
    """What the core needs of a client connection; ``refgw.session.Session`` is the one. A
    protocol, so the core never imports the session module (which imports the core)."""

    closing: bool
    negotiated_version: int
    state: SessionState | None

    def write(self, frame: bytes) -> None: ...

    def send(self, msg_type: int, msg: Any) -> None: ...

    def book_event(self, book: Book, ev: BookEvent) -> None: ...

    def close(self) -> None: ...


@dataclass
class SessionState:
    """A client session: survives its connections; owns a seq space and a resend ring."""

    sid: str
    username: str
    version: int
    ring: deque[tuple[int, bytes]]
    next_seq: int = 1
    conn: Connection | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)  # one per order: slots make it smaller and quicker to build and read
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
    session: SessionState | None
    request_id: int = 0
    client_order_id: str = ""
    extensions: bytes = b""  # raw request fields 1000-1999, echoed on every report
    exch_order_id: str = ""
    leaves_qty: int = 0
    cum_qty: int = 0
    state: str = "PENDING"  # PENDING OPEN FILLED CANCELLED REJECTED
    mass_cancelled: bool = False  # a cancel this gateway sent for a MassCancel
    pending: str = ""  # "cancel" or "amend" sent and not yet answered by the exchange

    @property
    def live(self) -> bool:
        return self.state in ("PENDING", "OPEN")


def new_gw_order(
    *,
    gw_id: int,
    venue_coid: str,
    username: str,
    symbol: str,
    side: str,
    order_type: str,
    tif: str,
    qty: int,
    price_ticks: int,
    session: SessionState,
    request_id: int,
    client_order_id: str,
    extensions: bytes,
) -> GwOrder:
    """A new PENDING order (nothing at the exchange yet, leaves = qty), built field by field:
    keyword-only, so no positional order to get wrong, and cheaper than calling the class. A
    new GwOrder field must be set here too (the hot-path test compares with the class call)."""
    order = _new_object(GwOrder)
    order.gw_id = gw_id
    order.venue_coid = venue_coid
    order.username = username
    order.symbol = symbol
    order.side = side
    order.order_type = order_type
    order.tif = tif
    order.qty = qty
    order.price_ticks = price_ticks
    order.session = session
    order.request_id = request_id
    order.client_order_id = client_order_id
    order.extensions = extensions
    order.exch_order_id = ""
    order.leaves_qty = qty
    order.cum_qty = 0
    order.state = "PENDING"
    order.mass_cancelled = False
    order.pending = ""
    return order


class Reject(Exception):
    """A gateway-side rejection: a RejectCode name and a reason."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Gateway:
    def __init__(
        self,
        venue: Venue,
        config: Config,
        journal: jr.Journal | None = None,
        resend_window: int = 100_000,
        retention: Retention | None = None,
    ) -> None:
        self.venue = venue
        self.journal = journal
        self.resend_window = resend_window
        self.retention = retention or Retention()
        self.finished = FinishedOrders(self.retention)  # finished orders still remembered
        self.clock: Callable[[], float] = time.time  # wall seconds: journal record times are wall time
        self.forgotten_events = 0  # exchange events dropped: their order was already forgotten
        self.states: dict[str, SessionState] = {}
        self.cursor = 0  # newest venue member_seq processed
        self.venue_cursor = 0  # TLX: newest exchange MsgSeqNum of a processed order event
        self.venue_lost: str | None = None  # final: the gateway stops
        self.link_down: str | None = None  # why the exchange link is down while reconnecting
        self.reconnect_enabled = False  # set by the server once serving (tests may leave it off)
        self._unconfirmed: set[int] = set()  # gw ids awaiting the exchange when the link dropped
        self._reconnect_task: asyncio.Task[None] | None = None
        self.on_fatal: Callable[[str], None] | None = None
        self.config = config
        self.limits = config.limits
        self._notional_caps: dict[int, int] = {}  # price_scale -> max_notional in its units
        self._caps_limits: Limits | None = None  # the limits those caps were computed from
        self.boot = format(time.time_ns() // 1_000_000 % 36**6, "x")
        self._boots = {self.boot}  # venue_coid prefixes of this gateway's orders (this boot, recovered ones)
        self.next_gw_id = 1
        self.orders: dict[int, GwOrder] = {}
        self.by_client_id: dict[tuple[str, str], GwOrder] = {}  # (username, client_order_id)
        self.by_venue_coid: dict[str, GwOrder] = {}
        self.outstanding: dict[str, int] = {}  # username -> sum of leaves of live orders
        self.books: dict[str, Book] = {}
        # Last trade price per symbol, from this member's fills and from subscribed trade prints
        # (the price collar's reference; before 3.1 only subscribed symbols had one).
        self.last_trade: dict[str, int] = {}
        self.subscribers: dict[str, set[Connection]] = {}
        self.sessions: set[Connection] = set()  # live connections
        venue.on_order = self.on_venue_order
        venue.on_book = self.on_venue_book
        venue.on_notice = self.on_venue_notice

    @property
    def instruments(self) -> dict[str, InstrumentDef]:
        return self.venue.instruments

    # ------------------------------------------------------------------ sessions
    def open_session(self, username: str, version: int) -> SessionState:
        state = SessionState(uuid.uuid4().hex[:16], username, version, deque(maxlen=self.resend_window))
        self.states[state.sid] = state
        if self.journal is not None:
            self.journal.append_json(jr.SESSION, {"sid": state.sid, "user": username, "v": version})
        return state

    def deliver(self, state: SessionState, order: GwOrder | None, rep: Any) -> None:
        """Sequence, journal, keep for resend, and send one execution report."""
        seq = state.next_seq
        state.next_seq += 1
        rep.seq = seq
        frame = encode(pb.EXECUTION_REPORT, rep.SerializeToString() + (order.extensions if order else b""))
        state.ring.append((seq, frame))
        if self.journal is not None:
            self.journal.append(jr.OUTBOUND, jr.outbound_body(state.sid, seq, frame))
        conn = state.conn
        if conn is not None and not conn.closing:
            conn.write(frame)

    def replay(self, state: SessionState, from_seq: int) -> tuple[int, bool]:
        """Resend stored reports with seq >= from_seq marked poss_dup; (count, gap)."""
        conn = state.conn
        assert conn is not None
        oldest = state.ring[0][0] if state.ring else state.next_seq
        gap = from_seq < oldest and from_seq < state.next_seq
        count = 0
        for seq, frame in state.ring:
            if seq >= from_seq:
                conn.write(mark_poss_dup(frame))
                count += 1
        return count, gap

    # ------------------------------------------------------------------ journal recovery
    def recover(self) -> None:
        """Rebuild sessions, orders, id maps and the venue cursor from the journal."""
        journal = self.journal
        if journal is None:
            return
        now = self.clock()
        for rec in journal:
            if rec.type == jr.SESSION:
                d = rec.json()
                self.states[d["sid"]] = SessionState(d["sid"], d["user"], d["v"], deque(maxlen=self.resend_window))
            elif rec.type == jr.ORDER_MAP:
                d = rec.json()
                order = GwOrder(
                    gw_id=d["gw"],
                    venue_coid=d["vc"],
                    username=d["user"],
                    symbol=d["sym"],
                    side=d["side"],
                    order_type=d["type"],
                    tif=d["tif"],
                    qty=d["qty"],
                    price_ticks=d["px"],
                    session=self.states.get(d["sid"]),
                    request_id=d.get("rid", 0),
                    client_order_id=d.get("coid", ""),
                    extensions=bytes.fromhex(d.get("ext", "")),
                    leaves_qty=d["qty"],
                )
                self._index(order)
                self._boots.add(order.venue_coid.rpartition("-")[0])
                self.next_gw_id = max(self.next_gw_id, order.gw_id + 1)
            elif rec.type == jr.ORDER_STATE:
                d = rec.json()
                known = self.orders.get(d["gw"])  # None: finished and already beyond retention
                if known is not None:
                    was_live = known.live
                    known.state, known.leaves_qty, known.cum_qty = d["st"], d["lv"], d["cq"]
                    known.exch_order_id = d.get("ex", known.exch_order_id)
                    if was_live and not known.live:
                        # When it finished: the record's write time (format 3); a migrated or
                        # older record has none, so it counts as finished now (kept longest).
                        self.finished.add(known.gw_id, rec.time_ns / 1e9 if rec.time_ns else now)
                        self._forget_expired(now)
            elif rec.type == jr.OUTBOUND:
                sid, seq, frame = jr.parse_outbound(rec.body)
                state = self.states.get(sid)
                if state is not None:
                    state.ring.append((seq, frame))
                    state.next_seq = seq + 1
            elif rec.type == jr.AMEND:
                d = rec.json()
                amended = self.orders.get(d["gw"])
                if amended is not None:
                    amended.qty, amended.price_ticks = d["qty"], d["px"]
            elif rec.type == jr.EXCH_CURSOR:
                self.cursor = max(self.cursor, jr.parse_cursor(rec.body))
            elif rec.type == jr.VENUE_CURSOR:
                self.venue_cursor = max(self.venue_cursor, jr.parse_cursor(rec.body))
        journal.release_records()
        self.outstanding = {}
        for order in self.orders.values():
            if order.live:
                self.outstanding[order.username] = self.outstanding.get(order.username, 0) + order.leaves_qty
        if journal.migrated_from:
            print(
                f"refgw: journal {journal.path}: migrated from format {journal.migrated_from} to format 3",
                file=sys.stderr,
                flush=True,
            )
        if journal.truncated_bytes:
            print(
                f"refgw: journal {journal.path}: truncated a torn tail of {journal.truncated_bytes} bytes",
                file=sys.stderr,
                flush=True,
            )

    def memory_counts(self) -> dict[str, int]:
        """What the gateway holds per order and per session (the SIGUSR1 line of refgw.cli)."""
        live = sum(1 for order in self.orders.values() if order.live)
        return {
            "orders": len(self.orders),
            "live": live,
            "finished": len(self.finished),
            "client_ids": len(self.by_client_id),
            "venue_ids": len(self.by_venue_coid),
            "sessions": len(self.states),
            "resend_frames": sum(len(state.ring) for state in self.states.values()),
            "forgotten_events": self.forgotten_events,
        }

    def _index(self, order: GwOrder) -> None:
        self.orders[order.gw_id] = order
        if order.client_order_id:
            self.by_client_id[(order.username, order.client_order_id)] = order
        self.by_venue_coid[order.venue_coid] = order

    # ------------------------------------------------------------------ retention
    def _forget_expired(self, now: float) -> None:
        """Forget the finished orders beyond retention (refgw.retention): out of every map."""
        orders, by_client_id, by_venue_coid = self.orders, self.by_client_id, self.by_venue_coid
        for gw_id in self.finished.expired(now):
            order = orders.pop(gw_id, None)
            if order is None:
                continue
            # Identity checks: a forgotten order's client_order_id may already name a newer order.
            key = (order.username, order.client_order_id)
            if order.client_order_id and by_client_id.get(key) is order:
                del by_client_id[key]
            if by_venue_coid.get(order.venue_coid) is order:
                del by_venue_coid[order.venue_coid]

    def _forgotten_event(self, ev: VenueOrderEvent) -> None:
        """An exchange event for an order of this gateway it no longer knows (finished and
        beyond retention, or lost with a torn journal tail): nothing to update or tell a
        session, so it is dropped, and said so."""
        self.forgotten_events += 1
        print(
            f"refgw: exchange event {ev.kind!r} for order {ev.venue_coid} (member_seq {ev.member_seq}) dropped: "
            f"the order is unknown to this gateway (finished and beyond retention: the newest "
            f"{self.retention.finished_orders} finished orders, at most {self.retention.finished_age_s:g}s)",
            file=sys.stderr,
            flush=True,
        )

    # ------------------------------------------------------------------ requests
    def _notional_cap(self, price_scale: int) -> int:
        """The largest notional in units of 10**-price_scale within ``max_notional`` (floor);
        -1 (never proves anything) for a limit that is not a finite number."""
        lim = self.limits
        if lim is not self._caps_limits:
            self._notional_caps = {}
            self._caps_limits = lim
        cap = lim.max_notional
        if not cap.is_finite():
            units = -1 - _EXACT_UNITS
        else:
            sign, digits, exponent = cap.as_tuple()
            assert isinstance(exponent, int)
            units = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
            shift = exponent + price_scale
            units = units * 10**shift if shift >= 0 else units // 10**-shift
        self._notional_caps[price_scale] = units
        return units

    def check_risk(self, username: str, instr: InstrumentDef, qty: int, price_ticks: int, market: bool) -> None:
        lim = self.limits
        if qty <= 0:
            raise Reject("INVALID_QUANTITY", f"quantity {qty} must be positive")
        if qty > lim.max_order_qty:
            raise Reject("RISK_MAX_QUANTITY", f"quantity {qty} exceeds the maximum order quantity {lim.max_order_qty}")
        if not market:
            # Integer maths in units of 10**-price_scale when that proves the notional within
            # the limit; otherwise (over it, or too large to be exact) the Decimal check decides.
            units = price_ticks * instr.tick_size_units * qty
            cap = self._notional_caps.get(instr.price_scale) if lim is self._caps_limits else None
            if cap is None:
                cap = self._notional_cap(instr.price_scale)
            if not (-_EXACT_UNITS < units < _EXACT_UNITS and units <= cap):
                notional = instr.ticks_to_decimal(price_ticks) * qty
                if notional > lim.max_notional:
                    raise Reject("RISK_NOTIONAL", f"notional {notional} exceeds the limit {lim.max_notional}")
        outstanding = self.outstanding.get(username, 0) + qty
        if outstanding > lim.max_outstanding_qty:
            raise Reject(
                "RISK_OUTSTANDING_QUANTITY",
                f"outstanding quantity would be {outstanding}, above the limit {lim.max_outstanding_qty}",
            )
        last = self.last_trade.get(instr.symbol, 0)
        if lim.price_collar_ticks and not market and last and abs(price_ticks - last) > lim.price_collar_ticks:
            raise Reject(
                "RISK_PRICE_COLLAR",
                f"price is {abs(price_ticks - last)} ticks from the last trade {last}, "
                f"collar is {lim.price_collar_ticks}",
            )

    def insert(
        self,
        session: SessionState,
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
        if self.link_down is not None:
            self._require_link()
        instr = self.venue.instruments.get(symbol)
        if instr is None:
            raise Reject("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}")
        market = order_type == "MARKET"
        if not market and price_ticks <= 0:
            raise Reject("INVALID_PRICE", f"limit price must be positive, got {price_ticks} ticks")
        username = session.username
        self.check_risk(username, instr, qty, price_ticks, market)
        gw_id = self.next_gw_id
        self.next_gw_id += 1
        venue_coid = f"{self.boot}-{gw_id}"
        if market:
            price_ticks = 0
        order = new_gw_order(
            gw_id=gw_id, venue_coid=venue_coid, username=username, symbol=symbol, side=side,
            order_type=order_type, tif=tif, qty=qty, price_ticks=price_ticks, session=session,
            request_id=request_id, client_order_id=client_order_id, extensions=extensions,
        )  # fmt: skip
        self._index(order)
        if self.journal is not None:
            self.journal.append(
                jr.ORDER_MAP,
                jr.order_map_body(
                    gw_id, venue_coid, session.sid, username, client_order_id, symbol, side,
                    order_type, tif, qty, price_ticks, request_id, extensions.hex() if extensions else "",
                ),
            )
        outstanding = self.outstanding
        outstanding[username] = outstanding.get(username, 0) + qty
        self.venue.new_order(venue_coid, symbol, side, order_type, tif, qty, price_ticks)
        return order

    def existing(self, username: str, client_order_id: str) -> GwOrder | None:
        """The order a repeated client_order_id refers to (idempotent inserts)."""
        if not client_order_id:
            return None
        return self.by_client_id.get((username, client_order_id))

    def find(self, session: SessionState, gw_id: int, client_order_id: str) -> GwOrder:
        order = self.orders.get(gw_id) if gw_id else self.existing(session.username, client_order_id)
        if order is None or order.username != session.username:
            ref = gw_id or repr(client_order_id)
            raise Reject("UNKNOWN_ORDER", f"no order {ref} for user {session.username!r}")
        return order

    def cancel(self, session: SessionState, request_id: int, gw_id: int, client_order_id: str = "") -> GwOrder:
        order = self.find(session, gw_id, client_order_id)
        if not order.live:
            raise Reject("UNKNOWN_ORDER", f"order {order.gw_id} is {order.state}, not live")
        self._require_link()
        order.request_id = request_id
        order.pending = "cancel"
        self.venue.cancel(order.venue_coid, order.symbol, order.exch_order_id)
        return order

    def amend(
        self,
        session: SessionState,
        request_id: int,
        gw_id: int,
        client_order_id: str,
        qty: int | None,
        price_ticks: int | None,
    ) -> GwOrder:
        order = self.find(session, gw_id, client_order_id)
        if not order.live:
            raise Reject("UNKNOWN_ORDER", f"order {order.gw_id} is {order.state}, not live")
        if qty is not None and qty <= order.cum_qty:
            raise Reject("INVALID_QUANTITY", f"new total quantity {qty} must exceed the filled {order.cum_qty}")
        if price_ticks is not None and price_ticks <= 0:
            raise Reject("INVALID_PRICE", f"price must be positive, got {price_ticks} ticks")
        if qty is not None and qty > order.qty:
            instr = self.instruments[order.symbol]
            self.check_risk(order.username, instr, qty - order.qty, price_ticks or order.price_ticks, False)
        self._require_link()
        order.request_id = request_id
        order.pending = "amend"
        self.venue.amend(order.venue_coid, order.symbol, order.side, qty, price_ticks, order.exch_order_id)
        return order

    def mass_cancel(self, session: SessionState, symbol: str) -> int:
        """Cancel this user's live orders (not the whole member's): returns how many were sent."""
        self._require_link()
        count = 0
        for order in self.orders.values():
            if order.username == session.username and order.live and (not symbol or order.symbol == symbol):
                order.mass_cancelled = True
                order.pending = "cancel"
                self.venue.cancel(order.venue_coid, order.symbol, order.exch_order_id)
                count += 1
        return count

    def subscribe(self, session: Connection, symbol: str) -> Book:
        if symbol not in self.instruments:
            raise Reject("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}")
        subs = self.subscribers.setdefault(symbol, set())
        subs.add(session)
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = Book(symbol)
            if self.link_down is None:  # else the reconnect subscribes every book
                self.venue.subscribe(symbol)
        return book

    def drop_session(self, session: Connection) -> None:
        """A connection ended; its SessionState stays for a resume."""
        self.sessions.discard(session)
        for subs in self.subscribers.values():
            subs.discard(session)
        state = session.state
        if state is not None and state.conn is session:
            state.conn = None

    # ------------------------------------------------------------------ venue events
    def _release(self, order: GwOrder) -> None:
        self.outstanding[order.username] = self.outstanding.get(order.username, 0) - order.leaves_qty
        order.leaves_qty = 0

    def on_venue_order(self, ev: VenueOrderEvent) -> None:
        if ev.poss_dup and ev.member_seq and ev.member_seq <= self.cursor:
            return  # a venue resend of an event this gateway already journaled
        order = self.by_venue_coid.get(ev.venue_coid)
        if order is None:
            if ev.venue_coid.rpartition("-")[0] in self._boots:
                self._forgotten_event(ev)
            return  # else not ours (another gateway instance of the same member)
        was_live = order.state in ("PENDING", "OPEN")
        kind = ev.kind
        if kind in ("cancelled", "replaced", "cancel_rejected", "replace_rejected"):
            order.pending = ""
        if kind == "accepted":
            order.exch_order_id = ev.exch_order_id
            order.state = "OPEN"
        elif kind == "fill":
            self.last_trade[order.symbol] = ev.last_price_ticks
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
        elif kind == "replaced":
            delta = ev.leaves_qty - order.leaves_qty
            self.outstanding[order.username] = self.outstanding.get(order.username, 0) + delta
            order.qty, order.price_ticks = ev.qty, ev.price_ticks
            order.leaves_qty, order.cum_qty = ev.leaves_qty, ev.cum_qty
            if self.journal is not None:
                self.journal.require_incompat(jr.INCOMPAT_AMEND, 2)
                self.journal.append_json(jr.AMEND, {"gw": order.gw_id, "qty": order.qty, "px": order.price_ticks})
        # The event's records are staged and written in one call: with the report's OUTBOUND
        # record in deliver() (before the frame goes out), or by the flush below.
        journal = self.journal
        if journal is not None:
            journal.stage(
                jr.ORDER_STATE,
                jr.order_state_body(order.gw_id, order.state, order.leaves_qty, order.cum_qty, order.exch_order_id),
            )
        if ev.member_seq > self.cursor:
            self.cursor = ev.member_seq
            if journal is not None:
                journal.stage(jr.EXCH_CURSOR, jr.cursor_body(ev.member_seq))
        if ev.venue_seq > self.venue_cursor:
            self.venue_cursor = ev.venue_seq
            if journal is not None:
                journal.stage(jr.VENUE_CURSOR, jr.cursor_body(ev.venue_seq))
        if order.session is not None:
            rep = build_report(self.venue.instruments[order.symbol], order, ev)
            if rep is not None:
                if ev.liquidity and order.session.version >= 3:
                    rep.liquidity = pb.MAKER if ev.liquidity == "MAKER" else pb.TAKER
                self.deliver(order.session, order, rep)
        if journal is not None:
            journal.flush()
        if was_live and order.state not in ("PENDING", "OPEN"):
            now = self.clock()
            self.finished.add(order.gw_id, now)
            self._forget_expired(now)

    def on_venue_book(self, ev: BookEvent) -> None:
        book = self.books.get(ev.symbol)
        if book is None:
            book = self.books[ev.symbol] = Book(ev.symbol)
        book.apply(ev)
        if ev.trades:
            self.last_trade[ev.symbol] = ev.trades[-1][1]
        for session in self.subscribers.get(ev.symbol, ()):
            session.book_event(book, ev)

    def on_venue_notice(self, notice: VenueNotice) -> None:
        if notice.kind == "status":
            msg = pb.InstrumentStatus(symbol=notice.symbol, status=notice.status)
            for session in self.sessions:
                if session.negotiated_version >= 3:  # a v3 message: never sent to v2 sessions
                    session.send(pb.INSTRUMENT_STATUS, msg)
        elif notice.kind == "closed" and self.venue_lost is None and self.link_down is None:
            if self.reconnect_enabled and notice.code != SUPERSEDED:
                self._link_lost(notice.text)
                return
            # Another gateway took the member over: reconnecting would only fight it. Stop (the
            # journal keeps everything for a restart) rather than accept orders it cannot route.
            self.venue_lost = notice.text
            print(f"refgw: venue connection lost: {notice.text}; stopping", file=sys.stderr, flush=True)
            if self.on_fatal is not None:
                self.on_fatal(notice.text)


    # ------------------------------------------------------------------ exchange link
    def _require_link(self) -> None:
        if self.link_down is not None:
            raise Reject(
                "EXCHANGE_REJECT",
                f"exchange link down ({self.link_down}): refgw is reconnecting; not sent, retry later",
            )

    def _link_lost(self, reason: str) -> None:
        self.link_down = reason
        self._unconfirmed = {o.gw_id for o in self.orders.values() if o.live and (o.state == "PENDING" or o.pending)}
        print(
            f"refgw: exchange link down: {reason}; rejecting new requests, client sessions stay up, "
            f"{len(self._unconfirmed)} order(s) await the replay; reconnecting",
            file=sys.stderr,
            flush=True,
        )
        self._reconnect_task = asyncio.get_running_loop().create_task(self._restore_link())

    async def _restore_link(self) -> None:
        delay = RECONNECT_FIRST_S
        attempt = 0
        began = time.monotonic()
        self.venue.after_replay = self._link_restored
        try:
            while self.link_down is not None:
                attempt += 1
                try:
                    await asyncio.wait_for(
                        self.venue.reconnect(self.cursor + 1, self.venue_cursor), RECONNECT_ATTEMPT_S
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self.link_down is None:
                        break  # restored (after_replay ran) just as the attempt timed out
                    print(
                        f"refgw: exchange reconnect attempt {attempt} failed: {exc!r}; next in {delay:.2f}s",
                        file=sys.stderr,
                        flush=True,
                    )
                    with contextlib.suppress(Exception):
                        await self.venue.drop()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_MAX_S)
        finally:
            self.venue.after_replay = None
        print(
            f"refgw: exchange link restored after {attempt} attempt(s) in {time.monotonic() - began:.2f}s",
            file=sys.stderr,
            flush=True,
        )

    def _link_restored(self) -> None:
        """The replay of a reconnect was processed: settle what it did not answer, then accept
        requests again, in this same loop step."""
        for symbol in self.books:  # fresh snapshots replace what the outage made stale
            self.venue.subscribe(symbol)
        settled = self._settle_unconfirmed()
        was, self.link_down = self.link_down, None
        print(
            f"refgw: exchange link up again (was down: {was}); member stream resumed after {self.cursor}; "
            f"{settled} unanswered request(s) never reached the exchange and were rejected",
            file=sys.stderr,
            flush=True,
        )

    def _settle_unconfirmed(self) -> int:
        """After the replay: what is still unanswered never reached the exchange; say so."""
        settled = 0
        for gw_id in sorted(self._unconfirmed):
            order = self.orders.get(gw_id)
            if order is None or not order.live or (order.state != "PENDING" and not order.pending):
                continue
            instr = self.instruments.get(order.symbol)
            if instr is None:
                continue
            if order.state == "PENDING":
                self._release(order)
                order.state = "REJECTED"
                self.finished.add(gw_id, self.clock())
                text = "exchange link lost before the exchange received the order: it was not placed"
            else:
                text = f"exchange link lost before the exchange answered the {order.pending}: the order is unchanged"
            order.pending = ""
            settled += 1
            journal = self.journal
            if journal is not None:
                journal.stage(
                    jr.ORDER_STATE,
                    jr.order_state_body(order.gw_id, order.state, order.leaves_qty, order.cum_qty, order.exch_order_id),
                )
            if order.session is not None:
                rep = base_report(instr, order)
                rep.exec_type = pb.REJECTED
                rep.reject_code = pb.EXCHANGE_REJECT
                rep.text = text
                self.deliver(order.session, order, rep)
            if journal is not None:
                journal.flush()
        self._unconfirmed = set()
        self._forget_expired(self.clock())
        return settled

    def stop_reconnecting(self) -> None:
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()


def to_decimal(instr: InstrumentDef, ticks: int) -> Decimal:
    return instr.ticks_to_decimal(ticks)


_CANCEL: dict[str, Any] = dict(pb.CancelReason.items())
_EXCH_CODES = {
    -1201: pb.UNKNOWN_INSTRUMENT,
    -2001: pb.INVALID_QUANTITY,
    -2002: pb.INVALID_QUANTITY,
    -2003: pb.INVALID_QUANTITY,
    -2004: pb.INVALID_PRICE,
    -2005: pb.PRICE_NOT_ON_TICK,
    -3001: pb.NO_LIQUIDITY,
    -3002: pb.UNKNOWN_ORDER,
    -3004: pb.INVALID_QUANTITY,
    -1202: pb.INSTRUMENT_HALTED,
    -1203: pb.INSTRUMENT_HALTED,
    -1204: pb.INSTRUMENT_HALTED,
}


def base_report(instr: InstrumentDef, order: GwOrder) -> Any:
    """An ExecutionReport with the order's ids and state; prices in ticks."""
    # Fields set one by one: a keyword call builds a dict the message constructor then walks.
    rep = pb.ExecutionReport()
    rep.request_id = order.request_id
    rep.order_id = order.gw_id
    rep.symbol = order.symbol
    rep.side = pb.BUY if order.side == "BUY" else pb.SELL
    rep.price_ticks = order.price_ticks
    rep.qty = order.qty
    rep.leaves_qty = order.leaves_qty
    rep.cum_qty = order.cum_qty
    rep.exchange_order_id = order.exch_order_id
    rep.client_order_id = order.client_order_id
    return rep


def build_report(instr: InstrumentDef, order: GwOrder, ev: VenueOrderEvent) -> Any | None:
    rep = base_report(instr, order)
    kind = ev.kind
    if kind == "accepted":
        rep.exec_type = pb.ACCEPTED
    elif kind == "fill":
        rep.exec_type = pb.FILL
        rep.last_qty = ev.last_qty
        rep.last_price_ticks = ev.last_price_ticks
        rep.trade_id = ev.trade_id
        rep.request_id = 0
    elif kind == "cancelled":
        rep.exec_type = pb.CANCELLED
        rep.cancel_reason = pb.MASS if order.mass_cancelled else _CANCEL.get(ev.reason, pb.EXCHANGE)
    elif kind == "replaced":
        rep.exec_type = pb.REPLACED
        rep.priority_kept = ev.priority_kept
    elif kind in ("rejected", "cancel_rejected", "replace_rejected"):
        rep.exec_type = pb.REJECTED
        rep.reject_code = _EXCH_CODES.get(ev.code, pb.EXCHANGE_REJECT)
        rep.text = f"exchange: {ev.text} ({ev.code})"
    else:
        return None
    return rep
