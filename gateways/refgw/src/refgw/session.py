"""One client connection: framing, logon, dispatch of requests, execution reports out.

Bad input gets a session-level Reject and the session goes on: an unknown message type
(UNSUPPORTED_MESSAGE_TYPE), a payload that does not parse or an oversize frame
(MALFORMED_MESSAGE; the oversize payload is skipped unread). A frame that cannot be
resynchronised (length below 4, EOF inside a frame) is rejected and the connection closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from refgw import PROTOCOL_MAX, PROTOCOL_MIN, __version__
from refgw import refgw_pb2 as pb
from refgw.book import Book
from refgw.core import Gateway, GwOrder, Reject
from refgw.framing import FrameError, encode, read_frame, skip_bytes
from refgw.model import BookEvent, VenueOrderEvent
from refgw.throttle import RollingWindow
from refgw.wire import extension_bytes

CAPABILITIES = ("tif.ioc", "tif.day", "order.client_order_id", "ext.passthrough")
_TIFS = {pb.GTC: "GTC", pb.DAY: "DAY", pb.IOC: "IOC"}

_SIDES = {pb.BUY: "BUY", pb.SELL: "SELL"}
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
}


class Session:
    def __init__(self, gw: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.gw = gw
        self.reader = reader
        self.writer = writer
        self.username = ""
        self.logged_on = False
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
        self.closing = False
        self.negotiated_version = 1

    # ------------------------------------------------------------------ plumbing
    def send(self, msg_type: int, msg: Any) -> None:
        if not self.closing:
            self.writer.write(encode(msg_type, msg.SerializeToString()))

    def close(self) -> None:
        self.closing = True
        self.writer.close()

    async def run(self) -> None:
        self.gw.sessions.add(self)
        try:
            while not self.closing:
                try:
                    msg_type, payload = await read_frame(self.reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                except FrameError as exc:
                    self.session_reject(0, pb.MALFORMED_MESSAGE, str(exc))
                    if exc.skip is None:
                        break
                    try:
                        await skip_bytes(self.reader, exc.skip)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        break
                    continue
                entry = self.handlers.get(msg_type)
                if entry is None:
                    self.session_reject(
                        0, pb.UNSUPPORTED_MESSAGE_TYPE, f"message type {msg_type} is not supported", msg_type
                    )
                    continue
                cls, handler = entry
                msg = cls()
                try:
                    msg.ParseFromString(payload)
                except Exception as exc:
                    self.session_reject(0, pb.MALFORMED_MESSAGE, f"payload does not parse: {exc}", msg_type)
                    continue
                if not self.logged_on and msg_type not in (pb.LOGON_REQUEST, pb.HEARTBEAT):
                    self.send(pb.LOGOUT, pb.Logout(reason="not logged on: send LogonRequest first"))
                    break
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
                try:
                    await self.writer.drain()
                except ConnectionError:
                    break
        finally:
            self.gw.drop_session(self)
            if not self.closing:
                self.close()

    def session_reject(self, request_id: int, code: Any, text: str, ref_type: int = 0) -> None:
        self.send(
            pb.REJECT, pb.Reject(request_id=request_id, code=code, text=text, ref_message_type=ref_type)
        )

    # ------------------------------------------------------------------ session
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
        self.username = m.username
        self.logged_on = True
        self.negotiated_version = version
        self.send(
            pb.LOGON_RESPONSE,
            pb.LogonResponse(
                request_id=m.request_id,
                negotiated_version=version,
                gateway_version=__version__,
                capabilities=CAPABILITIES,
                supported_min=PROTOCOL_MIN,
                supported_max=PROTOCOL_MAX,
            ),
        )

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
                tick_size=float(i.tick),
                lot_size=i.lot_size,
                max_order_qty=min(i.max_order_qty, 2**31 - 1),
                status=pb.InstrumentState.Value(i.status),
                currency=i.currency,
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
        self.send(
            pb.EXECUTION_REPORT,
            pb.ExecutionReport(
                request_id=request_id,
                order_id=order_id,
                exec_type=pb.REJECTED,
                reject_code=code,
                text=text,
                symbol=symbol,
                client_order_id=client_order_id,
            ),
        )

    def throttled(self, request_id: int) -> bool:
        wait_ms = self.throttle.admit()
        if wait_ms:
            self.reject(request_id, pb.RISK_REJECT, f"throttled: message rate limit, retry in {wait_ms} ms")
            return True
        return False

    def on_insert(self, m: Any, payload: bytes = b"") -> None:
        if self.throttled(m.request_id):
            return
        existing = self.gw.existing(self.username, m.client_order_id)
        if existing is not None:
            self.replay_duplicate(existing, m.request_id)
            return
        tif = _TIFS.get(m.time_in_force)
        if tif is None:
            self.reject(
                m.request_id,
                pb.UNSUPPORTED_TIME_IN_FORCE,
                f"time in force {m.time_in_force} is not supported by refgw {__version__}",
                symbol=m.symbol,
                client_order_id=m.client_order_id,
            )
            return
        instr = self.gw.instruments.get(m.symbol)
        side = _SIDES.get(m.side)
        if side is None:
            self.reject(m.request_id, pb.INVALID_QUANTITY, "side must be BUY or SELL", symbol=m.symbol)
            return
        order_type = "MARKET" if m.order_type == pb.MARKET else "LIMIT"
        ticks = 0
        if instr is not None and order_type == "LIMIT":
            tick = float(instr.tick)
            # Optivex's on-tick check, kept as released: exact float equality.
            if round(m.price / tick) * tick != m.price:
                self.reject(
                    m.request_id,
                    pb.PRICE_NOT_ON_TICK,
                    f"price {m.price} is not a multiple of the tick {tick}",
                    symbol=m.symbol,
                )
                return
            ticks = round(m.price / tick)
        if order_type == "MARKET" and tif in ("GTC", "DAY"):
            tif = "IOC"
        try:
            self.gw.insert(
                self,
                m.request_id,
                m.symbol,
                side,
                m.qty,
                ticks,
                order_type,
                tif,
                client_order_id=m.client_order_id,
                extensions=extension_bytes(payload),
            )
        except Reject as rej:
            self.reject(
                m.request_id,
                pb.RejectCode.Value(rej.code),
                rej.text,
                symbol=m.symbol,
                client_order_id=m.client_order_id,
            )

    def replay_duplicate(self, order: GwOrder, request_id: int) -> None:
        """A repeated client_order_id: answer with the existing order's status, never a new order."""
        exec_type = {"FILLED": pb.FILL, "CANCELLED": pb.CANCELLED, "REJECTED": pb.REJECTED}.get(
            order.state, pb.ACCEPTED
        )
        rep = self.report(order)
        rep.request_id = request_id
        rep.exec_type = exec_type
        rep.reject_code = pb.DUPLICATE_CLORDID_REPLAYED
        rep.text = (
            f"duplicate client_order_id {order.client_order_id!r}: existing order {order.gw_id} replayed"
        )
        self.send_report(order, rep)

    def on_cancel(self, m: Any) -> None:
        if self.throttled(m.request_id):
            return
        try:
            self.gw.cancel(self, m.request_id, m.order_id, m.client_order_id)
        except Reject as rej:
            self.reject(
                m.request_id,
                pb.RejectCode.Value(rej.code),
                rej.text,
                order_id=m.order_id,
                client_order_id=m.client_order_id,
            )

    def on_subscribe(self, m: Any) -> None:
        try:
            book = self.gw.subscribe(self, m.symbol)
        except Reject as rej:
            self.reject(m.request_id, pb.RejectCode.Value(rej.code), rej.text, symbol=m.symbol)
            return
        if book.ready:
            self.push_top(book)

    # ------------------------------------------------------------------ events out
    def report(self, order: GwOrder) -> Any:
        tick = float(self.gw.instruments[order.symbol].tick)
        return pb.ExecutionReport(
            request_id=order.request_id,
            order_id=order.gw_id,
            symbol=order.symbol,
            side=pb.BUY if order.side == "BUY" else pb.SELL,
            price=order.price_ticks * tick,
            qty=order.qty,
            leaves_qty=order.leaves_qty,
            cum_qty=order.cum_qty,
            exchange_order_id=order.exch_order_id,
            client_order_id=order.client_order_id,
        )

    def send_report(self, order: GwOrder, rep: Any) -> None:
        """Send one execution report with the order's extension bytes appended (they merge)."""
        if not self.closing:
            self.writer.write(encode(pb.EXECUTION_REPORT, rep.SerializeToString() + order.extensions))

    def order_event(self, order: GwOrder, ev: VenueOrderEvent) -> None:
        tick = float(self.gw.instruments[order.symbol].tick)
        rep = self.report(order)
        kind = ev.kind
        if kind == "accepted":
            rep.exec_type = pb.ACCEPTED
        elif kind == "fill":
            rep.exec_type = pb.FILL
            rep.last_qty = ev.last_qty
            rep.last_price = ev.last_price_ticks * tick
            rep.trade_id = ev.trade_id
            rep.request_id = 0
        elif kind == "cancelled":
            rep.exec_type = pb.CANCELLED
            rep.cancel_reason = _CANCEL.get(ev.reason, pb.EXCHANGE)
        elif kind in ("rejected", "cancel_rejected"):
            rep.exec_type = pb.REJECTED
            rep.reject_code = _EXCH_CODES.get(ev.code, pb.EXCHANGE_REJECT)
            rep.text = f"exchange: {ev.text} ({ev.code})"
        else:
            return
        self.send_report(order, rep)

    def book_event(self, book: Book, ev: BookEvent) -> None:
        self.push_top(book)

    def push_top(self, book: Book) -> None:
        instr = self.gw.instruments[book.symbol]
        tick = float(instr.tick)
        bid, bid_qty, ask, ask_qty = book.top()
        self.send(
            pb.TOP_OF_BOOK,
            pb.TopOfBook(
                symbol=book.symbol,
                bid_price=bid * tick,
                bid_qty=bid_qty,
                ask_price=ask * tick,
                ask_qty=ask_qty,
            ),
        )


def gateway_version() -> str:
    return __version__
