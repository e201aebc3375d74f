"""One client connection: framing, logon and negotiation, dispatch of requests.

Bad input gets a session-level Reject and the session goes on: an unknown message type
(UNSUPPORTED_MESSAGE_TYPE), a payload that does not parse or an oversize frame
(MALFORMED_MESSAGE; the oversize payload is skipped unread). A frame that cannot be
resynchronised (length below 4, EOF inside a frame) is rejected and the connection closed.

Execution reports belong to the connection's ``SessionState`` (see core): they are
sequenced, journaled and resent on resume. New message types (book snapshot/incremental)
go only to sessions that negotiated v2.

Slow consumers (3.1, limits in refgw.config ``outbound``): above ``high_water`` unsent bytes
the session's requests are not read and its market data is conflated (a fresh snapshot per
symbol once drained); at ``max_buffered`` the connection is closed with a logged reason.
One slow reader never delays the others: every write is non-blocking.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any

from google.protobuf.unknown_fields import UnknownFieldSet

from refgw import refgw_pb2 as pb
from refgw._version import PROTOCOL_MAX, PROTOCOL_MIN, __version__
from refgw.book import Book
from refgw.core import Gateway, GwOrder, Reject, SessionState, base_report
from refgw.framing import HEADER, MAX_FRAME, encode, truncated_at_eof
from refgw.model import BookEvent
from refgw.throttle import RollingWindow
from refgw.wire import extension_bytes

CAPABILITIES_V1 = ("tif.ioc", "tif.day", "order.client_order_id", "ext.passthrough")
CAPABILITIES_V2 = (
    *CAPABILITIES_V1,
    "price.ticks",
    "session.resume",
    "md.incremental",
    "session.heartbeat",
    "order.amend",
    "order.masscancel",
    "tif.fok",
    "amend.keeps_priority_on_qty_down",
    "reject.throttled",
)
_TIFS = {pb.GTC: "GTC", pb.DAY: "DAY", pb.IOC: "IOC", pb.FOK: "FOK"}
_SIDES = {pb.BUY: "BUY", pb.SELL: "SELL"}
_AGGRESSOR = {"BUY": pb.BUY, "SELL": pb.SELL}
_INT32_MAX = 2**31 - 1


CAPABILITIES_V3 = (*CAPABILITIES_V2, "qty.int64", "md.instrument_status", "md.trades", "exec.liquidity")


def capabilities(version: int) -> tuple[str, ...]:
    return CAPABILITIES_V3 if version >= 3 else CAPABILITIES_V2


class Session(asyncio.Protocol):
    """One connection, as a Protocol: frames are cut from the byte stream and handled inside
    data_received (a StreamReader costs a future and an extra event-loop turn per message)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.writer: Any = None  # the transport (write/close); uvloop's is duck-compatible
        self._buf = bytearray()
        self._skip = 0  # payload bytes of an oversize frame still to discard
        self.username = ""
        self.logged_on = False
        self.state: SessionState | None = None
        self.throttle = RollingWindow(gw.limits.throttle_limit, gw.limits.throttle_window_s)
        self.handlers: dict[int, tuple[Any, Any]] = {
            pb.LOGON_REQUEST: (pb.LogonRequest, self.on_logon),
            pb.LOGOUT: (pb.Logout, self.on_logout),
            pb.HEARTBEAT: (pb.Heartbeat, self.on_heartbeat),
            pb.INSTRUMENTS_REQUEST: (pb.InstrumentsRequest, self.on_instruments),
            pb.INSERT_ORDER: (pb.InsertOrder, self.on_insert),
            pb.CANCEL_ORDER: (pb.CancelOrder, self.on_cancel),
            pb.SUBSCRIBE: (pb.Subscribe, self.on_subscribe),
        }
        self.v2_handlers: dict[int, tuple[Any, Any]] = {
            pb.AMEND_ORDER: (pb.AmendOrder, self.on_amend),
            pb.MASS_CANCEL: (pb.MassCancel, self.on_mass_cancel),
        }
        self.closing = False
        self.negotiated_version = 1
        self.heartbeat_ms = 0
        self.last_rx = time.monotonic()
        self._hb_handle: asyncio.TimerHandle | None = None
        self.snapshotted: set[str] = set()
        self.subscribed: set[str] = set()
        self.conflating = False  # above the outbound high-water mark: market data is dropped
        self.conflated = 0  # market data messages dropped since conflating began

    def _describe(self) -> str:
        sid = self.state.sid if self.state is not None else "-"
        return f"session {sid} (user {self.username!r})"

    # ------------------------------------------------------------------ plumbing
    def send(self, msg_type: int, msg: Any) -> None:
        if not self.closing:
            self.write(encode(msg_type, msg.SerializeToString()))

    def write(self, frame: bytes) -> None:
        if self.closing:
            return
        self.writer.write(frame)
        if self.conflating:
            unsent = self.writer.get_write_buffer_size()
            limit = self.gw.limits.max_buffered
            if unsent >= limit:
                print(
                    f"refgw: {self._describe()} disconnected: slow consumer, {unsent} bytes unsent "
                    f"reached the {limit}-byte limit",
                    file=sys.stderr,
                    flush=True,
                )
                self.closing = True
                if self._hb_handle is not None:
                    self._hb_handle.cancel()
                self.writer.abort()

    def close(self) -> None:
        self.closing = True
        if self._hb_handle is not None:
            self._hb_handle.cancel()
        self.writer.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.writer = transport
        limits = self.gw.limits
        if limits.sndbuf:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.sndbuf)
        self.writer.set_write_buffer_limits(high=limits.high_water)
        self.gw.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gw.drop_session(self)
        if not self.closing:
            self.close()

    def pause_writing(self) -> None:
        # The client is not reading: stop reading its requests and conflate its market data
        # until it has drained (execution reports still queue, up to max_buffered).
        self.writer.pause_reading()
        self.conflating = True
        self.conflated = 0
        print(
            f"refgw: {self._describe()} is a slow consumer: {self.writer.get_write_buffer_size()} bytes unsent "
            f"above the {self.gw.limits.high_water}-byte high-water mark; conflating its market data",
            file=sys.stderr,
            flush=True,
        )

    def resume_writing(self) -> None:
        self.conflating = False
        if self.closing:
            return
        self.writer.resume_reading()
        stale = sorted(self.subscribed - self.snapshotted)
        print(
            f"refgw: {self._describe()} drained: {self.conflated} market data message(s) conflated, "
            f"fresh snapshots for {stale}",
            file=sys.stderr,
            flush=True,
        )
        for symbol in stale:
            book = self.gw.books.get(symbol)
            if book is not None and book.ready:
                self.push(book)

    def eof_received(self) -> bool:
        reason = truncated_at_eof(self._buf)  # None: EOF between frames, a clean close
        if reason is not None and not self.closing:
            print(f"refgw: {self._describe()}: {reason}; closing", file=sys.stderr, flush=True)
            self.session_reject(0, pb.MALFORMED_MESSAGE, reason)
        self.close()
        return False

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        # Frames are sliced straight from the read; only a frame cut across reads is buffered
        # (joining every read into the bytearray would copy each payload twice). A cut frame is
        # taken out of the buffer once it is complete (a large one arriving in many reads is
        # not copied out at each read).
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < HEADER.size:
                return
            length = HEADER.unpack_from(buf)[0]
            if 4 <= length <= MAX_FRAME + 4 and len(buf) < 4 + length:
                return
            data = bytes(buf)
            buf.clear()
        pos = 0
        end = len(data)
        while not self.closing and end - pos >= HEADER.size:
            length, msg_type = HEADER.unpack_from(data, pos)
            if length < 4:
                self.session_reject(0, pb.MALFORMED_MESSAGE, f"frame length {length} is below the 4-byte type")
                self.close()
                break
            if length - 4 > MAX_FRAME:
                # Refused without buffering it: discard the payload as it arrives.
                self.session_reject(
                    0,
                    pb.MALFORMED_MESSAGE,
                    f"frame of {length - 4} payload bytes exceeds the {MAX_FRAME}-byte cap",
                )
                pos += HEADER.size
                available = end - pos
                if available >= length - 4:
                    pos += length - 4
                    continue
                self._skip = length - 4 - available
                pos = end
                break
            stop = pos + 4 + length
            if stop > end:
                break
            payload = data[pos + HEADER.size : stop]
            pos = stop
            self.on_frame(msg_type, payload)
        if pos < end and not self.closing:
            buf += data[pos:]

    def on_frame(self, msg_type: int, payload: bytes) -> None:
        self.last_rx = time.monotonic()
        entry = self.handlers.get(msg_type)
        if entry is None:
            self.session_reject(
                request_id_of(payload),
                pb.UNSUPPORTED_MESSAGE_TYPE,
                f"message type {msg_type} is not supported",
                msg_type,
            )
            return
        cls, handler = entry
        msg = cls()
        try:
            msg.ParseFromString(payload)
        except Exception as exc:
            self.session_reject(
                request_id_of(payload), pb.MALFORMED_MESSAGE, f"payload does not parse: {exc}", msg_type
            )
            return
        if not self.logged_on and msg_type not in (pb.LOGON_REQUEST, pb.HEARTBEAT):
            self.send(pb.LOGOUT, pb.Logout(reason="not logged on: send LogonRequest first"))
            self.close()
            return
        try:
            if msg_type == pb.INSERT_ORDER:
                self.on_insert(msg, payload)
            else:
                handler(msg)
        except Exception as exc:  # one bad request must not end the session
            self.session_reject(
                getattr(msg, "request_id", 0),
                pb.MALFORMED_MESSAGE,
                f"cannot process: {exc}",
                msg_type,
            )

    def session_reject(self, request_id: int, code: Any, text: str, ref_type: int = 0) -> None:
        self.send(pb.REJECT, pb.Reject(request_id=request_id, code=code, text=text, ref_message_type=ref_type))

    # ------------------------------------------------------------------ logon
    def logon_error(self, m: Any, code: Any, text: str) -> None:
        self.send(
            pb.LOGON_RESPONSE,
            pb.LogonResponse(
                request_id=m.request_id,
                error_code=code,
                error_message=text,
                gateway_version=__version__,
                supported_min=PROTOCOL_MIN,
                supported_max=PROTOCOL_MAX,
            ),
        )
        self.close()

    def on_logon(self, m: Any) -> None:
        if self.logged_on:
            self.session_reject(m.request_id, pb.MALFORMED_MESSAGE, "already logged on", pb.LOGON_REQUEST)
            return
        if not self.gw.config.check_token(m.username, m.password):
            self.logon_error(m, pb.AUTH_FAILED, f"authentication failed for user {m.username!r}")
            return
        low, high = (m.protocol_min or 1), (m.protocol_max or 1)
        version = min(high, PROTOCOL_MAX)
        if version < max(low, PROTOCOL_MIN):
            self.logon_error(
                m,
                pb.UNSUPPORTED_PROTOCOL_VERSION,
                f"unsupported protocol version: client offers {low}..{high}, "
                f"refgw {__version__} supports {PROTOCOL_MIN}..{PROTOCOL_MAX}",
            )
            return
        resumed = False
        if m.session_id and version >= 2:
            state = self.gw.states.get(m.session_id)
            if state is None or state.username != m.username:
                self.logon_error(
                    m,
                    pb.UNKNOWN_SESSION,
                    f"session {m.session_id!r} is unknown to this gateway for user {m.username!r} "
                    f"(it may have restarted without its journal): log on without session_id",
                )
                return
            old = state.conn
            if old is not None and old is not self:
                old.send(pb.LOGOUT, pb.Logout(reason="session resumed on another connection"))
                old.close()
            resumed = True
        else:
            state = self.gw.open_session(m.username, version)
        state.conn = self
        state.version = version
        self.state = state
        self.username = m.username
        self.logged_on = True
        self.negotiated_version = version
        lim = self.gw.limits
        resp = pb.LogonResponse(
            request_id=m.request_id,
            negotiated_version=version,
            gateway_version=__version__,
            capabilities=capabilities(version),
            supported_min=PROTOCOL_MIN,
            supported_max=PROTOCOL_MAX,
        )
        if version >= 2:
            resp.session_id = state.sid
            resp.next_outbound_seq = state.next_seq
            resp.throttle_limit = lim.throttle_limit
            resp.throttle_window_ms = int(lim.throttle_window_s * 1000)
            resp.heartbeat_ms = m.heartbeat_ms
            resp.resumed = resumed
        if not resumed:
            self.send(pb.LOGON_RESPONSE, resp)
        else:
            # Count what will be replayed first, so the response can announce it.
            from_seq = max(1, m.resume_from_seq)
            pending = sum(1 for seq, _ in state.ring if seq >= from_seq)
            oldest = state.ring[0][0] if state.ring else state.next_seq
            resp.replay_count = pending
            resp.resume_gap = from_seq < oldest
            self.send(pb.LOGON_RESPONSE, resp)
            _, gap = self.gw.replay(state, from_seq)
            if gap:
                self.status_snapshot(state)
        if version >= 2:
            self.handlers.update(self.v2_handlers)  # message types new in v2 exist only for v2 sessions
        if m.heartbeat_ms and version >= 2:
            self.heartbeat_ms = m.heartbeat_ms
            self._arm_heartbeat()

    def status_snapshot(self, state: SessionState) -> None:
        """After a resume gap: the current state of every order of the session."""
        for order in self.gw.orders.values():
            if order.session is state:
                rep = base_report(self.gw.instruments[order.symbol], order)
                rep.exec_type = pb.ORDER_STATUS
                rep.reject_code = pb.RESUME_GAP
                rep.text = f"order status after a resume gap: {order.state}"
                self.gw.deliver(state, order, rep)

    def _arm_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        self._hb_handle = loop.call_later(self.heartbeat_ms / 1000, self._check_heartbeat)

    def _check_heartbeat(self) -> None:
        if self.closing:
            return
        silent_ms = (time.monotonic() - self.last_rx) * 1000
        if silent_ms > 2 * self.heartbeat_ms:
            self.send(
                pb.LOGOUT,
                pb.Logout(
                    reason=f"heartbeat timeout: nothing received for {silent_ms:.0f} ms "
                    f"(heartbeat {self.heartbeat_ms} ms)"
                ),
            )
            self.close()
            return
        self._arm_heartbeat()

    def on_logout(self, m: Any) -> None:
        self.send(pb.LOGOUT, pb.Logout(reason="logout acknowledged"))
        self.close()

    def on_heartbeat(self, m: Any) -> None:
        self.send(pb.HEARTBEAT, pb.Heartbeat(request_id=m.request_id))

    def on_instruments(self, m: Any) -> None:
        resp = pb.InstrumentsResponse(request_id=m.request_id)
        for i in self.gw.instruments.values():
            resp.instruments.add(
                symbol=i.symbol,
                description=i.description,
                lot_size=i.lot_size,
                max_order_qty=i.max_order_qty if self.negotiated_version >= 3 else min(i.max_order_qty, _INT32_MAX),
                status=pb.InstrumentState.Value(i.status),
                currency=i.currency,
                tick_size_units=i.tick_size_units,
                price_scale=i.price_scale,
            )
        self.send(pb.INSTRUMENTS_RESPONSE, resp)

    # ------------------------------------------------------------------ orders
    def reject(
        self,
        request_id: int,
        code: Any,
        text: str,
        order_id: int = 0,
        symbol: str = "",
        client_order_id: str = "",
    ) -> None:
        rep = pb.ExecutionReport(
            request_id=request_id,
            order_id=order_id,
            exec_type=pb.REJECTED,
            reject_code=code,
            text=text,
            symbol=symbol,
            client_order_id=client_order_id,
        )
        assert self.state is not None
        self.gw.deliver(self.state, None, rep)

    def throttled(self, m: Any) -> bool:
        wait_ms = self.throttle.admit()
        if wait_ms:
            # THROTTLED is new in 2.1: v1 sessions keep the code they know.
            code = pb.THROTTLED if self.negotiated_version >= 2 else pb.RISK_REJECT
            rep = pb.ExecutionReport(
                request_id=m.request_id,
                exec_type=pb.REJECTED,
                reject_code=code,
                text=f"throttled: message rate limit, retry in {wait_ms} ms",
                symbol=getattr(m, "symbol", ""),
                client_order_id=m.client_order_id,
                retry_after_ms=wait_ms,
            )
            assert self.state is not None
            self.gw.deliver(self.state, None, rep)
            return True
        return False

    def qty_out_of_range(self, m: Any, qty: int) -> bool:
        """v2 sessions have int32 quantities: refuse a wider one rather than let a client truncate."""
        if self.negotiated_version < 3 and qty > _INT32_MAX:
            self.reject(
                m.request_id,
                pb.QTY_OUT_OF_RANGE,
                f"quantity {qty} does not fit a v2 session's int32 quantities (max {_INT32_MAX}); use protocol 3",
                symbol=getattr(m, "symbol", ""),
                client_order_id=m.client_order_id,
            )
            return True
        return False

    def on_insert(self, m: Any, payload: bytes = b"") -> None:
        if self.throttled(m):
            return
        # Each field read once: a protobuf attribute read looks the name up and builds a new
        # Python object every time.
        request_id = m.request_id
        client_order_id = m.client_order_id
        gw = self.gw
        existing = gw.existing(self.username, client_order_id)
        if existing is not None:
            self.replay_duplicate(existing, request_id)
            return
        symbol = m.symbol
        tif = _TIFS.get(m.time_in_force)
        if tif is None:
            self.reject(
                request_id,
                pb.UNSUPPORTED_TIME_IN_FORCE,
                f"time in force {m.time_in_force} is not supported by refgw {__version__}",
                symbol=symbol,
                client_order_id=client_order_id,
            )
            return
        instr = gw.venue.instruments.get(symbol)
        side = _SIDES.get(m.side)
        if side is None:
            self.reject(
                request_id,
                pb.INVALID_QUANTITY,
                "side must be BUY or SELL",
                symbol=symbol,
                client_order_id=client_order_id,
            )
            return
        order_type = "MARKET" if m.order_type == pb.MARKET else "LIMIT"
        qty = m.qty
        if qty > _INT32_MAX and self.qty_out_of_range(m, qty):
            return
        ticks = 0
        if instr is not None and order_type == "LIMIT":
            if not m.HasField("price_ticks"):
                self.reject(
                    request_id,
                    pb.INVALID_PRICE,
                    f"a limit order needs price_ticks (refgw {__version__} has no double price)",
                    symbol=symbol,
                    client_order_id=client_order_id,
                )
                return
            ticks = m.price_ticks
        if order_type == "MARKET" and tif in ("GTC", "DAY"):
            tif = "IOC"
        assert self.state is not None
        try:
            gw.insert(
                self.state,
                request_id,
                symbol,
                side,
                qty,
                ticks,
                order_type,
                tif,
                client_order_id=client_order_id,
                # Extension fields (1000-1999) are unknown to InsertOrder: skip the byte-level
                # scan when the parser saw no unknown field at all (the common case).
                extensions=extension_bytes(payload) if UnknownFieldSet(m) else b"",
            )
        except Reject as rej:
            self.reject(
                request_id,
                pb.RejectCode.Value(rej.code),
                rej.text,
                symbol=symbol,
                client_order_id=client_order_id,
            )

    def replay_duplicate(self, order: GwOrder, request_id: int) -> None:
        """A repeated client_order_id: answer with the existing order's status, never a new order."""
        exec_type = {"FILLED": pb.FILL, "CANCELLED": pb.CANCELLED, "REJECTED": pb.REJECTED}.get(
            order.state, pb.ACCEPTED
        )
        rep = base_report(self.gw.instruments[order.symbol], order)
        rep.request_id = request_id
        rep.exec_type = exec_type
        rep.reject_code = pb.DUPLICATE_CLORDID_REPLAYED
        rep.text = f"duplicate client_order_id {order.client_order_id!r}: existing order {order.gw_id} replayed"
        assert self.state is not None
        self.gw.deliver(self.state, order, rep)

    def on_cancel(self, m: Any) -> None:
        if self.throttled(m):
            return
        assert self.state is not None
        try:
            self.gw.cancel(self.state, m.request_id, m.order_id, m.client_order_id)
        except Reject as rej:
            self.reject(
                m.request_id,
                pb.RejectCode.Value(rej.code),
                rej.text,
                order_id=m.order_id,
                client_order_id=m.client_order_id,
            )

    def on_amend(self, m: Any) -> None:
        if self.throttled(m):
            return
        if m.HasField("qty") and self.qty_out_of_range(m, m.qty):
            return
        assert self.state is not None
        try:
            self.gw.amend(
                self.state,
                m.request_id,
                m.order_id,
                m.client_order_id,
                m.qty if m.HasField("qty") else None,
                m.price_ticks if m.HasField("price_ticks") else None,
            )
        except Reject as rej:
            self.reject(
                m.request_id,
                pb.RejectCode.Value(rej.code),
                rej.text,
                order_id=m.order_id,
                client_order_id=m.client_order_id,
            )

    def on_mass_cancel(self, m: Any) -> None:
        assert self.state is not None
        try:
            count = self.gw.mass_cancel(self.state, m.symbol)
        except Reject as rej:
            self.session_reject(m.request_id, pb.RejectCode.Value(rej.code), rej.text, pb.MASS_CANCEL)
            return
        self.send(pb.MASS_CANCEL_ACK, pb.MassCancelAck(request_id=m.request_id, cancelled_count=count))

    # ------------------------------------------------------------------ market data
    def on_subscribe(self, m: Any) -> None:
        try:
            book = self.gw.subscribe(self, m.symbol)
        except Reject as rej:
            self.session_reject(m.request_id, pb.RejectCode.Value(rej.code), rej.text, pb.SUBSCRIBE)
            return
        self.snapshotted.discard(m.symbol)
        self.subscribed.add(m.symbol)
        if book.ready:
            self.push(book, m.request_id)

    def book_event(self, book: Book, ev: BookEvent) -> None:
        if self.conflating:
            self.conflated += 1
            self.snapshotted.discard(book.symbol)  # a snapshot follows once drained
            return
        if ev.trades and self.negotiated_version >= 3 and book.symbol in self.snapshotted:
            for trade_id, ticks, qty, aggressor in ev.trades:
                aggressor_side = _AGGRESSOR.get(aggressor, pb.SIDE_UNSPECIFIED)
                self.send(
                    pb.TRADE_REPORT,
                    pb.TradeReport(
                        symbol=book.symbol,
                        trade_id=trade_id,
                        price_ticks=ticks,
                        qty=qty,
                        aggressor_side=aggressor_side,
                        book_seq=ev.book_seq,
                    ),
                )
        if ev.snapshot or book.symbol not in self.snapshotted:
            self.push(book)
            return
        msg = pb.BookIncremental(symbol=book.symbol, book_seq=ev.book_seq)
        for side, ticks, qty, count in ev.changes:
            msg.changes.add(side=pb.BUY if side == "BUY" else pb.SELL, price_ticks=ticks, qty=qty, order_count=count)
        self.send(pb.BOOK_INCREMENTAL, msg)

    def push(self, book: Book, request_id: int = 0) -> None:
        """A full snapshot as of the gateway's book_seq; incrementals continue from there."""
        snap = pb.BookSnapshot(request_id=request_id, symbol=book.symbol, book_seq=book.book_seq)
        for ticks in sorted(book.bids, reverse=True):
            qty, count = book.bids[ticks]
            snap.bids.add(price_ticks=ticks, qty=qty, order_count=count)
        for ticks in sorted(book.asks):
            qty, count = book.asks[ticks]
            snap.asks.add(price_ticks=ticks, qty=qty, order_count=count)
        self.send(pb.BOOK_SNAPSHOT, snap)
        self.snapshotted.add(book.symbol)


def request_id_of(payload: bytes) -> int:
    """Field 1 (request_id in every request) of a payload we cannot or will not decode."""
    probe = pb.Heartbeat()
    try:
        probe.ParseFromString(payload)
    except Exception:
        return 0
    return int(probe.request_id)
