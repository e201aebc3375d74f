"""OBX: the exchange's native protobuf venue (docs/exchange-protocol.md §1)."""

from __future__ import annotations

import asyncio
import itertools
import struct
import sys
from typing import Any

from refgw.model import BookEvent, InstrumentDef, VenueNotice, VenueOrderEvent, accepted_event, fill_event
from refgw.venues import Venue, VenueError
from refgw.venues import obx_pb2 as pb

_HEADER = struct.Struct(">II")
_MAX_FRAME = 1 << 20
_SIDES = {"BUY": pb.BUY, "SELL": pb.SELL}
_SIDE_NAMES = {pb.BUY: "BUY", pb.SELL: "SELL"}
_TIFS = {"GTC": pb.GTC, "DAY": pb.DAY, "IOC": pb.IOC, "FOK": pb.FOK}
_TYPES = {"LIMIT": pb.LIMIT, "MARKET": pb.MARKET}
_STATUS = {pb.PRE_OPEN: "PRE_OPEN", pb.OPEN: "OPEN", pb.HALTED: "HALTED", pb.CLOSED: "CLOSED"}

# message type -> (message class, handler name)
_INBOUND: dict[int, tuple[Any, str]] = {
    pb.LOGON_RESPONSE: (pb.LogonResponse, "_on_logon"),
    pb.LOGOUT: (pb.Logout, "_on_logout"),
    pb.HEARTBEAT: (pb.Heartbeat, "_on_ignore"),
    pb.REJECT: (pb.Reject, "_on_reject"),
    pb.INSTRUMENT_LIST: (pb.InstrumentList, "_on_instruments"),
    pb.INSTRUMENT_STATUS_UPDATE: (pb.InstrumentStatusUpdate, "_on_status"),
    pb.ORDER_ACCEPTED: (pb.OrderAccepted, "_on_accepted"),
    pb.ORDER_REJECTED: (pb.OrderRejected, "_on_rejected"),
    pb.ORDER_FILL: (pb.OrderFill, "_on_fill"),
    pb.ORDER_CANCELLED: (pb.OrderCancelled, "_on_cancelled"),
    pb.ORDER_REPLACED: (pb.OrderReplaced, "_on_replaced"),
    pb.REPLACE_REJECTED: (pb.ReplaceRejected, "_on_replace_rejected"),
    pb.CANCEL_REJECTED: (pb.CancelRejected, "_on_cancel_rejected"),
    pb.MASS_CANCEL_RESPONSE: (pb.MassCancelResponse, "_on_ignore"),
    pb.ORDER_STATUS_RESPONSE: (pb.OrderStatusResponse, "_on_ignore"),
    pb.MARKET_DATA_SNAPSHOT: (pb.MarketDataSnapshot, "_on_snapshot"),
    pb.MARKET_DATA_INCREMENTAL: (pb.MarketDataIncremental, "_on_incremental"),
    pb.TRADE_PRINT: (pb.TradePrint, "_on_trade"),
}


class ObxVenue(Venue):
    name = "obx"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport: asyncio.Transport | None = None
        self._ids = itertools.count(1)
        self._logon: asyncio.Future[Any] | None = None
        self._instr: asyncio.Future[Any] | None = None
        self._closing = False
        self._lost = False
        self._pending_trades: dict[str, list[tuple[str, int, int, str]]] = {}

    async def start(self, resume_from_seq: int = 0, venue_cursor: int = 0) -> None:
        self._closing = self._lost = False
        self._pending_trades.clear()
        loop = asyncio.get_running_loop()
        self._logon = loop.create_future()
        self._instr = loop.create_future()
        try:
            transport, _ = await loop.create_connection(lambda: _ObxProtocol(self), self.host, self.port)
        except OSError as exc:
            raise VenueError(f"cannot connect to OBX at {self.host}:{self.port}: {exc}") from None
        self._transport = transport
        self._send(
            pb.LOGON_REQUEST,
            pb.LogonRequest(
                request_id=next(self._ids),
                member_id=self.member,
                token=self.token,
                resume_from_seq=resume_from_seq,
                client_name=self.client_name,
                heartbeat_interval_ms=self.heartbeat_ms,
            ),
        )
        self.logon_pending = True
        resp = await asyncio.wait_for(self._logon, 10.0)
        if resp.result_code != 0:
            raise VenueError(f"OBX refused logon of member {self.member!r}: {resp.result_code} {resp.text}")
        self._send(pb.INSTRUMENT_LIST_REQUEST, pb.InstrumentListRequest(request_id=next(self._ids)))
        await asyncio.wait_for(self._instr, 10.0)
        self.release_held_events()
        self.start_watch()

    async def reconnect(self, resume_from_seq: int, venue_cursor: int) -> None:
        await self.drop()
        self._held_events = []  # the replay waits for the instrument list, as at start
        # The member stream replays everything from the cursor on, synchronously after the
        # LogonResponse and before the InstrumentList answer: start() returns after it.
        await self.start(resume_from_seq=max(1, resume_from_seq))

    async def drop(self) -> None:
        self.stop_watch()
        self.abandon_connection()
        transport, self._transport = self._transport, None
        if transport is not None:
            self._closing = True  # this connection's loss is no news
            transport.abort()

    async def close(self) -> None:
        self._closing = True
        self.stop_watch()
        if self._transport is not None:
            try:
                self._send(pb.LOGOUT_REQUEST, pb.LogoutRequest(reason="gateway stopping"))
                self._transport.close()
            except (OSError, RuntimeError):
                pass

    # ------------------------------------------------------------------ sends
    def _send(self, msg_type: int, msg: Any) -> None:
        payload = msg.SerializeToString()
        assert self._transport is not None
        self._transport.write(_HEADER.pack(len(payload) + 4, msg_type) + payload)

    def new_order(
        self, coid: str, symbol: str, side: str, order_type: str, tif: str, qty: int, price_ticks: int
    ) -> None:
        # Fields set one by one: a keyword call builds a dict the message constructor then walks.
        msg = pb.NewOrder()
        msg.request_id = next(self._ids)
        msg.client_order_id = coid
        msg.symbol = symbol
        msg.side = _SIDES[side]
        msg.order_type = _TYPES[order_type]
        msg.tif = _TIFS[tif]
        msg.qty = qty
        msg.price_ticks = price_ticks
        self._send(pb.NEW_ORDER, msg)

    def cancel(self, coid: str, symbol: str, exch_order_id: str = "") -> None:
        self._send(pb.CANCEL_ORDER, pb.CancelOrder(request_id=next(self._ids), orig_client_order_id=coid))

    def amend(
        self, coid: str, symbol: str, side: str, qty: int | None, price_ticks: int | None, exch_order_id: str = ""
    ) -> None:
        msg = pb.AmendOrder(request_id=next(self._ids), orig_client_order_id=coid)
        if qty is not None:
            msg.qty = qty
        if price_ticks is not None:
            msg.price_ticks = price_ticks
        self._send(pb.AMEND_ORDER, msg)

    def mass_cancel(self, symbol: str) -> None:
        self._send(pb.MASS_CANCEL, pb.MassCancel(request_id=next(self._ids), symbol=symbol))

    def subscribe(self, symbol: str) -> None:
        self._send(pb.MARKET_DATA_SUBSCRIBE, pb.MarketDataSubscribe(request_id=next(self._ids), symbol=symbol))

    def send_heartbeat(self, probe: bool) -> None:
        # The exchange echoes every Heartbeat, so each one is also a probe.
        self._send(pb.HEARTBEAT, pb.Heartbeat(request_id=next(self._ids)))

    def link_silent(self, reason: str) -> None:
        self._on_lost(reason)  # the core drops this connection and reconnects

    # ------------------------------------------------------------------ receive
    def _on_frame(self, msg_type: int, payload: bytes) -> None:
        entry = _INBOUND.get(msg_type)
        if entry is None:
            return
        cls, handler = entry
        msg = cls()
        try:
            msg.ParseFromString(payload)
            getattr(self, handler)(msg)
        except Exception as exc:  # one bad message must not stop the venue stream
            print(f"refgw: OBX message type {msg_type} not handled: {exc!r}", file=sys.stderr, flush=True)

    def _on_lost(self, reason: str, transport: asyncio.BaseTransport | None = None) -> None:
        if transport is not None and transport is not self._transport:
            return  # an abandoned connection (dropped before a reconnect) ending late
        if self._closing or self._lost:
            return  # close() ended it, or the loss was already reported
        self._lost = True
        self.stop_watch()
        self.logon_pending = False  # the connection is gone: nothing more arrives from it
        for fut in (self._logon, self._instr):
            if fut is not None and not fut.done():
                fut.set_exception(VenueError(f"OBX at {self.host}:{self.port}: {reason}"))
        self.on_notice(VenueNotice(kind="closed", text=reason))

    def _on_ignore(self, msg: Any) -> None:
        pass

    def _on_logon(self, msg: Any) -> None:
        self.logon_pending = False
        if self._logon is not None and not self._logon.done():
            self._logon.set_result(msg)

    def _on_logout(self, msg: Any) -> None:
        if not self._lost:
            self._lost = True
            self.stop_watch()
            self.on_notice(self.logout_notice(msg.code, f"OBX logout: {msg.reason}"))

    def _on_reject(self, msg: Any) -> None:
        self.on_notice(VenueNotice(kind="reject", code=msg.code, text=msg.text))

    def _on_instruments(self, msg: Any) -> None:
        for i in msg.instruments:
            self.instruments[i.symbol] = InstrumentDef(
                symbol=i.symbol,
                description=i.description,
                currency=i.currency,
                price_scale=i.price_scale,
                tick_size_units=i.tick_size_units,
                lot_size=i.lot_size,
                max_order_qty=i.max_order_qty,
                status=_STATUS.get(i.status, "OPEN"),
            )
        if self._instr is not None and not self._instr.done():
            self._instr.set_result(msg)

    def _on_status(self, msg: Any) -> None:
        status = _STATUS.get(msg.status, "OPEN")
        old = self.instruments.get(msg.symbol)
        if old is not None:
            from dataclasses import replace

            self.instruments[msg.symbol] = replace(old, status=status)
        self.on_notice(VenueNotice(kind="status", symbol=msg.symbol, status=status))

    def _seq(self, msg: Any) -> int:
        """Advance the member cursor; the event's member_seq (read once: each protobuf read
        builds a new object)."""
        member_seq: int = msg.member_seq
        if member_seq > self.last_member_seq:
            self.last_member_seq = member_seq
        return member_seq

    def _on_accepted(self, m: Any) -> None:
        member_seq = self._seq(m)
        self.emit_order(
            accepted_event(
                venue_coid=m.client_order_id, exch_order_id=str(m.order_id), symbol=m.symbol, qty=m.qty,
                price_ticks=m.price_ticks, leaves_qty=m.leaves_qty, member_seq=member_seq, poss_dup=m.poss_dup,
            )
        )  # fmt: skip

    def _on_rejected(self, m: Any) -> None:
        self._seq(m)
        self.emit_order(
            VenueOrderEvent(
                kind="rejected",
                venue_coid=m.client_order_id,
                symbol=m.symbol,
                code=m.code,
                text=m.text,
                member_seq=m.member_seq,
                poss_dup=m.poss_dup,
            )
        )

    def _on_fill(self, m: Any) -> None:
        member_seq = self._seq(m)
        self.emit_order(
            fill_event(
                venue_coid=m.client_order_id, exch_order_id=str(m.order_id), symbol=m.symbol,
                leaves_qty=m.leaves_qty, cum_qty=m.cum_qty, last_qty=m.qty, last_price_ticks=m.price_ticks,
                trade_id=str(m.trade_id), liquidity="MAKER" if m.liquidity == pb.MAKER else "TAKER",
                member_seq=member_seq, poss_dup=m.poss_dup,
            )
        )  # fmt: skip

    def _on_cancelled(self, m: Any) -> None:
        self._seq(m)
        self.emit_order(
            VenueOrderEvent(
                kind="cancelled",
                venue_coid=m.client_order_id,
                exch_order_id=str(m.order_id),
                symbol=m.symbol,
                reason=pb.CancelReason.Name(m.reason) if m.reason in pb.CancelReason.values() else "USER",
                leaves_qty=0,
                cum_qty=m.cum_qty,
                member_seq=m.member_seq,
                poss_dup=m.poss_dup,
            )
        )

    def _on_replaced(self, m: Any) -> None:
        self._seq(m)
        self.emit_order(
            VenueOrderEvent(
                kind="replaced",
                venue_coid=m.orig_client_order_id or m.client_order_id,
                exch_order_id=str(m.order_id),
                symbol=m.symbol,
                qty=m.qty,
                price_ticks=m.price_ticks,
                leaves_qty=m.leaves_qty,
                cum_qty=m.cum_qty,
                priority_kept=m.priority_kept,
                member_seq=m.member_seq,
                poss_dup=m.poss_dup,
            )
        )

    def _on_replace_rejected(self, m: Any) -> None:
        self._seq(m)
        self.emit_order(
            VenueOrderEvent(
                kind="replace_rejected",
                venue_coid=m.client_order_id,
                exch_order_id=str(m.order_id),
                code=m.code,
                text=m.text,
                member_seq=m.member_seq,
                poss_dup=m.poss_dup,
            )
        )

    def _on_cancel_rejected(self, m: Any) -> None:
        self._seq(m)
        self.emit_order(
            VenueOrderEvent(
                kind="cancel_rejected",
                venue_coid=m.client_order_id,
                exch_order_id=str(m.order_id),
                code=m.code,
                text=m.text,
                member_seq=m.member_seq,
                poss_dup=m.poss_dup,
            )
        )

    def _on_snapshot(self, m: Any) -> None:
        self.on_book(
            BookEvent(
                symbol=m.symbol,
                book_seq=m.book_seq,
                snapshot=True,
                bids=[(lv.price_ticks, lv.qty, lv.order_count) for lv in m.bids],
                asks=[(lv.price_ticks, lv.qty, lv.order_count) for lv in m.asks],
            )
        )

    def _on_trade(self, m: Any) -> None:
        # A trade print precedes the incremental of the same command: hold it until then.
        self._pending_trades.setdefault(m.symbol, []).append(
            (str(m.trade_id), m.price_ticks, m.qty, _SIDE_NAMES.get(m.aggressor_side, ""))
        )

    def _on_incremental(self, m: Any) -> None:
        self.on_book(
            BookEvent(
                symbol=m.symbol,
                book_seq=m.book_seq,
                snapshot=False,
                changes=[(_SIDE_NAMES.get(c.side, "BUY"), c.price_ticks, c.qty, c.order_count) for c in m.changes],
                trades=self._pending_trades.pop(m.symbol, []),
            )
        )


class _ObxProtocol(asyncio.Protocol):
    """Frames are cut from the byte stream and handled inside data_received: no reader task,
    no future and no extra event-loop turn per venue message (a StreamReader needs all three)."""

    def __init__(self, venue: ObxVenue) -> None:
        self.venue = venue
        self.buf = bytearray()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        # Frames are sliced straight from the read; only a frame cut across reads is buffered
        # (joining every read into the bytearray would copy each payload twice). A cut frame is
        # taken out of the buffer once it is complete (a large one arriving in many reads is
        # not copied out at each read).
        self.venue.heard = True
        buf = self.buf
        if buf:
            buf += data
            if len(buf) < 8:
                return
            length = _HEADER.unpack_from(buf)[0]
            if 4 <= length <= _MAX_FRAME and len(buf) < 4 + length:
                return
            data = bytes(buf)
            buf.clear()
        pos = 0
        end = len(data)
        venue = self.venue
        while end - pos >= 8:
            length, msg_type = _HEADER.unpack_from(data, pos)
            if length < 4 or length > _MAX_FRAME:
                venue._on_lost(f"bad OBX frame length {length}")
                if self.transport is not None:
                    self.transport.close()
                return
            stop = pos + 4 + length
            if stop > end:
                break
            venue._on_frame(msg_type, data[pos + 8 : stop])
            pos = stop
        if pos < end:
            buf += data[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.venue._on_lost("exchange closed the connection", self.transport)
