"""The OBX venue: its framing (``obx_codec``) and message handlers over the venue-session base.

Rules (docs/exchange-protocol.md §1): the first frame must be a LogonRequest; a bad payload
or an unknown type gets a Reject and the session continues; a frame that breaks the framing
(oversize, length < 4) gets a Logout with the reason and the connection closes (the base
does that). A handler exception is caught, logged and answered with a Reject: one member's
bad input never takes the exchange or another member down. A member that declared a
heartbeat interval at logon gets a Heartbeat after each interval of the exchange's silence
and is logged out after ``HEARTBEAT_MISSES`` intervals of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from compat.errors import PayloadError
from compat.exchange import codes
from compat.exchange.events import (
    BookUpdate,
    CancelRejected,
    MemberEvent,
    OrderAccepted,
    OrderCancelled,
    OrderFill,
    OrderRejected,
    OrderReplaced,
    ReplaceRejected,
    StatusChange,
    TradePrint,
)
from compat.exchange.hub import EXCHANGE_VERSION
from compat.exchange.instruments import OPEN, InstrumentSpec
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues.base import Venue, VenueSession, heartbeat_interval_problem
from compat.exchange.venues.obx_codec import Frame, FrameDecoder, decode_payload, encode, enum_value

log = logging.getLogger("compat.exchange.obx")

HEARTBEAT_MISSES = 3  # intervals of a member's silence before it is logged out


_e = enum_value


def instrument_message(spec: InstrumentSpec, status: int) -> pb.Instrument:
    return pb.Instrument(
        symbol=spec.symbol,
        description=spec.description,
        currency=spec.currency,
        price_scale=spec.price_scale,
        tick_size_units=spec.tick_size_units,
        lot_size=spec.lot_size,
        max_order_qty=spec.max_order_qty,
        status=_e(status),
        tick_size=str(spec.tick_size),
    )


def event_message(event: MemberEvent, poss_dup: bool) -> Message:
    """The OBX message for one member event."""
    if isinstance(event, OrderAccepted):
        return pb.OrderAccepted(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            request_id=event.request_id,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            symbol=event.symbol,
            side=_e(event.side),
            order_type=_e(event.order_type),
            tif=_e(event.tif),
            qty=event.qty,
            price_ticks=event.price_ticks,
            leaves_qty=event.leaves_qty,
        )
    if isinstance(event, OrderFill):
        return pb.OrderFill(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            symbol=event.symbol,
            side=_e(event.side),
            trade_id=event.trade_id,
            qty=event.qty,
            price_ticks=event.price_ticks,
            liquidity=_e(event.liquidity),
            leaves_qty=event.leaves_qty,
            cum_qty=event.cum_qty,
        )
    if isinstance(event, OrderCancelled):
        return pb.OrderCancelled(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            request_id=event.request_id,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            symbol=event.symbol,
            reason=_e(event.reason),
            cancelled_qty=event.cancelled_qty,
            cum_qty=event.cum_qty,
        )
    if isinstance(event, OrderRejected):
        return pb.OrderRejected(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            request_id=event.request_id,
            client_order_id=event.client_order_id,
            symbol=event.symbol,
            code=event.code,
            text=event.text,
        )
    if isinstance(event, OrderReplaced):
        return pb.OrderReplaced(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            request_id=event.request_id,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            orig_client_order_id=event.orig_client_order_id,
            symbol=event.symbol,
            qty=event.qty,
            price_ticks=event.price_ticks,
            leaves_qty=event.leaves_qty,
            cum_qty=event.cum_qty,
            priority_kept=event.priority_kept,
        )
    if isinstance(event, ReplaceRejected):
        return pb.ReplaceRejected(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            request_id=event.request_id,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            new_client_order_id=event.new_client_order_id,
            code=event.code,
            text=event.text,
        )
    if isinstance(event, CancelRejected):
        return pb.CancelRejected(
            member_seq=event.member_seq,
            poss_dup=poss_dup,
            time_ns=event.time_ns,
            request_id=event.request_id,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            code=event.code,
            text=event.text,
        )
    raise TypeError(f"not a member event: {event!r}")


class ObxVenue(Venue["ObxSession"]):
    """Tracks live OBX sessions (for supersede, status pushes and shutdown)."""

    def protocol_factory(self) -> ObxSession:
        return ObxSession(self)


class ObxSession(VenueSession[Frame]):
    dialect = "obx"
    log = log

    def __init__(self, venue: ObxVenue) -> None:
        super().__init__(venue, FrameDecoder())
        self._handlers: dict[int, Callable[[Any], None]] = {
            pb.HEARTBEAT: self._on_heartbeat,
            pb.LOGOUT_REQUEST: self._on_logout_request,
            pb.INSTRUMENT_LIST_REQUEST: self._on_instrument_list,
            pb.ADMIN_SET_INSTRUMENT_STATUS: self._on_admin_status,
            pb.ADMIN_CREATE_INSTRUMENT: self._on_admin_create,
            pb.NEW_ORDER: self._on_new_order,
            pb.CANCEL_ORDER: self._on_cancel,
            pb.AMEND_ORDER: self._on_amend,
            pb.MASS_CANCEL: self._on_mass_cancel,
            pb.ORDER_STATUS_REQUEST: self._on_order_status,
            pb.MARKET_DATA_SUBSCRIBE: self._on_subscribe,
            pb.MARKET_DATA_UNSUBSCRIBE: self._on_unsubscribe,
        }

    # ------------------------------------------------------------------ sending

    def send(self, message: Message) -> None:
        self._write(encode(message))

    def _send_logout(self, code: int, reason: str) -> None:
        self.send(pb.Logout(code=code, reason=reason))

    def reject(self, code: int, text: str, msg_type: int, request_id: int = 0) -> None:
        self.send(pb.Reject(request_id=request_id, code=code, text=text, ref_message_type=msg_type))

    # ------------------------------------------------------------------ dispatch

    def _on_unit(self, frame: Frame) -> None:
        try:
            message = decode_payload(frame)
        except PayloadError as exc:
            self.reject(exc.code, exc.reason, exc.msg_type)
            return
        request_id = int(getattr(message, "request_id", 0))
        if isinstance(message, pb.LogonRequest):
            self._on_logon(message)
            return
        handler = self._handlers.get(frame.msg_type)
        if handler is None:
            self.reject(
                codes.UNEXPECTED_MESSAGE,
                f"{type(message).__name__} is sent by the exchange, not to it",
                frame.msg_type,
                request_id,
            )
            return
        if self.member is None and frame.msg_type != pb.HEARTBEAT:
            self.reject(codes.NOT_LOGGED_ON, "log on first (LogonRequest, type 1)", frame.msg_type, request_id)
            return
        try:
            handler(message)
        except Exception as exc:  # a bug must cost one request, never the exchange
            log.exception("obx %s (%s): handler for type %d failed", self.peer, self.member, frame.msg_type)
            self.reject(codes.MALFORMED_MESSAGE, f"request could not be processed: {exc}", frame.msg_type, request_id)

    # ------------------------------------------------------------------ session

    def _on_logon(self, msg: pb.LogonRequest) -> None:
        if self.member is not None:
            self.reject(
                codes.ALREADY_LOGGED_ON,
                f"already logged on as {self.member!r}",
                pb.LOGON_REQUEST,
                msg.request_id,
            )
            return
        code, text = self.hub.authenticate(msg.member_id, msg.token)
        interval_ms = msg.heartbeat_interval_ms
        problem = heartbeat_interval_problem(interval_ms)
        if not code and problem:
            code, text = codes.MALFORMED_MESSAGE, f"heartbeat_interval_ms {problem}"
        if code:
            self.send(pb.LogonResponse(request_id=msg.request_id, result_code=code, text=text, member_id=msg.member_id))
            self.logout(code, text)
            return
        self._supersede(msg.member_id)
        replay = self._attach(msg.member_id, msg.resume_from_seq)
        self.send(
            pb.LogonResponse(
                request_id=msg.request_id,
                result_code=codes.OK,
                member_id=msg.member_id,
                next_member_seq=self.hub.next_member_seq(msg.member_id),
                replay_from_seq=replay[0].member_seq if replay else 0,
                replay_count=len(replay),
                exchange_version=EXCHANGE_VERSION,
                heartbeat_interval_ms=interval_ms,
            )
        )
        for event in replay:
            self.send(event_message(event, poss_dup=True))
        self.start_heartbeats(interval_ms / 1000)
        log.info(
            "obx %s: member %s logged on (%s), replayed %d",
            self.peer,
            self.member,
            msg.client_name,
            len(replay),
        )

    def _on_heartbeat(self, msg: pb.Heartbeat) -> None:
        self.send(pb.Heartbeat(request_id=msg.request_id, time_ns=self.hub.now()))

    def _on_heartbeat_tick(self, now: float) -> None:
        interval = self.heartbeat_s
        silent = now - self.last_in
        if silent >= HEARTBEAT_MISSES * interval:
            self.logout(
                codes.HEARTBEAT_TIMEOUT,
                f"heartbeat timeout: nothing received for {silent * 1000:.0f} ms "
                f"({HEARTBEAT_MISSES} intervals of {interval * 1000:.0f} ms)",
            )
        elif now - self.last_out >= interval:
            self.send(pb.Heartbeat(time_ns=self.hub.now()))

    def _on_logout_request(self, msg: pb.LogoutRequest) -> None:
        self.logout(codes.OK, "logout acknowledged")

    # ------------------------------------------------------------------ reference data

    def _on_instrument_list(self, msg: pb.InstrumentListRequest) -> None:
        self.send(
            pb.InstrumentList(
                request_id=msg.request_id,
                instruments=[instrument_message(spec, status) for spec, status in self.hub.instruments()],
            )
        )

    def _on_admin_status(self, msg: pb.AdminSetInstrumentStatus) -> None:
        assert self.member is not None
        if not self.hub.is_admin(self.member):
            self.send(
                pb.AdminResponse(
                    request_id=msg.request_id,
                    result_code=codes.NOT_AUTHORISED,
                    text=f"member {self.member!r} is not an admin",
                )
            )
            return
        code = self.hub.set_status(msg.symbol, int(msg.status), msg.cancel_resting)
        self.send(
            pb.AdminResponse(
                request_id=msg.request_id,
                result_code=code,
                text="" if code == codes.OK else codes.name_of(code),
            )
        )

    def _on_admin_create(self, msg: pb.AdminCreateInstrument) -> None:
        assert self.member is not None
        if not self.hub.is_admin(self.member):
            self.send(
                pb.AdminResponse(
                    request_id=msg.request_id,
                    result_code=codes.NOT_AUTHORISED,
                    text=f"member {self.member!r} is not an admin",
                )
            )
            return
        ins = msg.instrument
        if (
            not ins.symbol
            or ins.tick_size_units <= 0
            or ins.lot_size < 0
            or ins.max_order_qty < 0
            or ins.price_scale > 18
            or not 0 <= ins.status <= 4
        ):
            self.send(
                pb.AdminResponse(
                    request_id=msg.request_id,
                    result_code=codes.INVALID_INSTRUMENT,
                    text="symbol and a positive tick_size_units are required",
                )
            )
            return
        spec = InstrumentSpec(
            symbol=ins.symbol,
            tick_size_units=ins.tick_size_units,
            price_scale=ins.price_scale,
            lot_size=ins.lot_size or 1,
            max_order_qty=ins.max_order_qty or 1_000_000,
            description=ins.description,
            currency=ins.currency or "EUR",
            initial_status=int(ins.status) or OPEN,
        )
        code = self.hub.create_instrument(spec)
        self.send(
            pb.AdminResponse(
                request_id=msg.request_id,
                result_code=code,
                text="" if code == codes.OK else codes.name_of(code),
            )
        )

    # ------------------------------------------------------------------ orders

    def _on_new_order(self, msg: pb.NewOrder) -> None:
        assert self.member is not None
        self.hub.new_order(
            self.member,
            msg.request_id,
            msg.client_order_id,
            msg.symbol,
            int(msg.side),
            int(msg.order_type),
            int(msg.tif),
            msg.qty,
            msg.price_ticks,
        )

    def _on_cancel(self, msg: pb.CancelOrder) -> None:
        assert self.member is not None
        self.hub.cancel(self.member, msg.request_id, msg.order_id, msg.orig_client_order_id, msg.symbol)

    def _on_amend(self, msg: pb.AmendOrder) -> None:
        assert self.member is not None
        self.hub.amend(
            self.member,
            msg.request_id,
            msg.order_id,
            msg.orig_client_order_id,
            msg.new_client_order_id,
            msg.qty if msg.HasField("qty") else None,
            msg.price_ticks if msg.HasField("price_ticks") else None,
        )

    def _on_mass_cancel(self, msg: pb.MassCancel) -> None:
        assert self.member is not None
        code, count = self.hub.mass_cancel(self.member, msg.request_id, msg.symbol)
        self.send(
            pb.MassCancelResponse(
                request_id=msg.request_id,
                result_code=code,
                cancelled_count=count,
                text="" if code == codes.OK else f"unknown instrument {msg.symbol!r}",
            )
        )

    def _on_order_status(self, msg: pb.OrderStatusRequest) -> None:
        assert self.member is not None
        views = self.hub.order_status(self.member, msg.order_id, msg.client_order_id, msg.symbol)
        code = codes.OK if views or not (msg.order_id or msg.client_order_id) else codes.UNKNOWN_ORDER
        self.send(
            pb.OrderStatusResponse(
                request_id=msg.request_id,
                result_code=code,
                text="" if code == codes.OK else "no such order for this member",
                last_member_seq=self.hub.next_member_seq(self.member) - 1,
                orders=[
                    pb.OrderStatus(
                        order_id=v.order_id,
                        client_order_id=v.client_order_id,
                        symbol=v.symbol,
                        side=_e(v.side),
                        order_type=_e(v.order_type),
                        tif=_e(v.tif),
                        qty=v.qty,
                        price_ticks=v.price_ticks,
                        leaves_qty=v.leaves_qty,
                        cum_qty=v.cum_qty,
                        state=_e(v.state),
                    )
                    for v in views
                ],
            )
        )

    # ------------------------------------------------------------------ market data

    def _on_subscribe(self, msg: pb.MarketDataSubscribe) -> None:
        snapshot = self.hub.subscribe(msg.symbol, self)
        if snapshot is None:
            self.reject(
                codes.UNKNOWN_INSTRUMENT,
                f"unknown instrument {msg.symbol!r}",
                pb.MARKET_DATA_SUBSCRIBE,
                msg.request_id,
            )
            return
        self.send(
            pb.MarketDataSnapshot(
                request_id=msg.request_id,
                symbol=snapshot.symbol,
                book_seq=snapshot.book_seq,
                status=_e(snapshot.status),
                bids=[pb.Level(price_ticks=p, qty=q, order_count=n) for p, q, n in snapshot.bids],
                asks=[pb.Level(price_ticks=p, qty=q, order_count=n) for p, q, n in snapshot.asks],
            )
        )

    def _on_unsubscribe(self, msg: pb.MarketDataUnsubscribe) -> None:
        self.hub.unsubscribe(msg.symbol, self)

    # ------------------------------------------------------------------ hub callbacks

    def on_member_event(self, event: MemberEvent) -> None:
        self._write(encode(event_message(event, False)))  # send() inlined: every order's ack

    def on_trade(self, event: TradePrint) -> None:
        self.send(
            pb.TradePrint(
                symbol=event.symbol,
                trade_id=event.trade_id,
                price_ticks=event.price_ticks,
                qty=event.qty,
                aggressor_side=_e(event.aggressor_side),
                book_seq=event.book_seq,
                time_ns=event.time_ns,
            )
        )

    def on_book_update(self, event: BookUpdate) -> None:
        self.send(
            pb.MarketDataIncremental(
                symbol=event.symbol,
                book_seq=event.book_seq,
                time_ns=event.time_ns,
                changes=[
                    pb.LevelChange(side=_e(side), price_ticks=price, qty=qty, order_count=count)
                    for side, price, qty, count in event.changes
                ],
            )
        )

    def on_status(self, event: StatusChange) -> None:
        self.send(
            pb.InstrumentStatusUpdate(
                symbol=event.symbol,
                status=_e(event.status),
                time_ns=event.time_ns,
            )
        )
