"""The asyncio client API (protocols 2-3).

    gw = await GatewayClient.connect(host, port, username="u1", password="token", protocol=(1, 2))
    gw.negotiated_version, gw.capabilities, gw.gateway_version, gw.session_id
    instruments = await gw.instruments()                       # tick_size as Decimal
    order = await gw.insert_order("ABC", Side.BUY, qty=10, price=Decimal("100.25"), tif=TIF.IOC)
    future = gw.send_order("ABC", Side.BUY, qty=10, price=Decimal("100.25"))  # no coroutine/task
    await gw.amend_order(order, qty=5); await gw.cancel_order(order); await gw.mass_cancel("ABC")
    book = await gw.subscribe_book("ABC")                        # LocalBook, resyncs on a gap
    ev = await gw.next_event(timeout=5.0)
    await gw.drop(); await gw.reconnect()                        # resume with poss-dup replay
    await gw.close()

Prices are Decimal in the API and integer ticks on the wire (the double is gone: a gateway
that speaks only v1 is refused with ProtocolVersionError). Quantities are int64 on v3.
An unknown enum value becomes ``UNKNOWN(n)`` with the raw number kept, and an unknown
message type is skipped (reported once on stderr): a newer gateway never crashes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from google.protobuf.unknown_fields import UnknownFieldSet

from refclient import refgw_pb2 as pb
from refclient._version import __version__
from refclient.book import LocalBook
from refclient.errors import (
    ClientError,
    FeatureUnsupported,
    LogonRejected,
    OrderRejected,
    ProtocolVersionError,
    ResumeGap,
    SessionLost,
    Throttled,
)
from refclient.framing import HEADER, MAX_FRAME, FrameError, encode, truncated_at_eof
from refclient.orders import KnownOrders, Retention
from refclient.wire import decode_extensions, encode_extensions

PROTOCOL_RANGE = (2, 3)

WireHook = Callable[[str, str, dict[str, Any]], None]


class Side(enum.Enum):
    BUY = pb.BUY
    SELL = pb.SELL


class TIF(enum.Enum):
    GTC = pb.GTC
    DAY = pb.DAY
    IOC = pb.IOC
    FOK = pb.FOK


# The gateway capability each non-default time in force needs.
_TIF_CAPABILITY = {TIF.DAY: "tif.day", TIF.IOC: "tif.ioc", TIF.FOK: "tif.fok"}
_GTC = TIF.GTC


@dataclass(frozen=True)
class Instrument:
    symbol: str
    description: str
    tick_size: Decimal
    price_scale: int
    lot_size: int
    max_order_qty: int
    status: str
    currency: str

    def to_ticks(self, price: Decimal) -> int | None:
        ticks = price / self.tick_size
        return int(ticks) if ticks == ticks.to_integral_value() else None

    def to_price(self, ticks: int) -> Decimal:
        return (self.tick_size * ticks).quantize(Decimal(1).scaleb(-self.price_scale))


# A memo holds at most this many conversions per instrument (a load repeats a few prices).
_MEMO_MAX = 4096
_MISSING: Any = object()


class _TickMemo:
    """One instrument's price <-> ticks conversions, memoised: the Decimal arithmetic of
    ``to_ticks``/``to_price`` ran twice per order (send, report); a dict lookup replaces it."""

    __slots__ = ("instrument", "prices", "ticks")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.ticks: dict[Decimal, int | None] = {}
        self.prices: dict[int, Decimal] = {}

    def to_ticks(self, price: Decimal) -> int | None:
        try:
            ticks = self.ticks.get(price, _MISSING)
        except TypeError:  # a signalling NaN cannot be hashed: to_ticks raises its own error
            return self.instrument.to_ticks(price)
        if ticks is _MISSING:
            ticks = self.instrument.to_ticks(price)
            if len(self.ticks) >= _MEMO_MAX:
                self.ticks.clear()
            self.ticks[price] = ticks
        return ticks  # type: ignore[no-any-return]

    def to_price(self, ticks: int) -> Decimal:
        price = self.prices.get(ticks)
        if price is None:
            price = self.instrument.to_price(ticks)
            if len(self.prices) >= _MEMO_MAX:
                self.prices.clear()
            self.prices[ticks] = price
        return price


@dataclass
class OrderHandle:
    order_id: int
    symbol: str
    side: Side
    qty: int
    price: Decimal | None
    exchange_order_id: str = ""
    client_order_id: str = ""
    duplicate: bool = False  # the gateway answered a repeated client_order_id with the existing order
    received_ns: int = 0  # time.perf_counter_ns() when its first report was read off the socket


@dataclass(frozen=True)
class Event:
    kind: str  # accepted fill cancelled rejected status session_resumed session_lost unknown
    order_id: int = 0
    request_id: int = 0
    symbol: str = ""
    qty: int = 0
    price: Decimal | None = None
    leaves_qty: int = 0
    cum_qty: int = 0
    last_qty: int = 0
    last_price: Decimal | None = None
    trade_id: str = ""
    reason: str = ""
    code: str = ""
    raw_code: int = 0
    text: str = ""
    client_order_id: str = ""
    extensions: dict[int, Any] = field(default_factory=dict)
    seq: int = 0
    poss_dup: bool = False
    liquidity: str = ""  # fills on v3 sessions: MAKER or TAKER
    aggressor_side: str = ""  # public trades (kind "trade"): BUY or SELL


# Event's fields in order, with their defaults (None where a factory makes it): the template
# GatewayClient._event copies for each execution report.
_EVENT_FIELDS: dict[str, Any] = {f.name: None if f.default is MISSING else f.default for f in fields(Event)}


# An execution report queued for the application, built into its Event when read: the parsed
# message, its payload (for extension fields), then the fields already read on arrival, in
# GatewayClient._event's order (client_order_id, price and last_price as they were then).
_Report = tuple[Any, bytes, int, int, int, str, Decimal | None, int, Decimal | None, str, int, bool]


class FileSessionStore:
    """Keeps (username, session_id, last_seq) in a JSON file so another process can resume."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class ResumeResult:
    resumed: bool
    replayed: int
    gap: bool = False


_INBOUND: dict[int, Any] = {
    pb.LOGON_RESPONSE: pb.LogonResponse,
    pb.LOGOUT: pb.Logout,
    pb.HEARTBEAT: pb.Heartbeat,
    pb.INSTRUMENTS_RESPONSE: pb.InstrumentsResponse,
    pb.EXECUTION_REPORT: pb.ExecutionReport,
    pb.INSTRUMENT_STATUS: pb.InstrumentStatus,
    pb.TRADE_REPORT: pb.TradeReport,
    pb.BOOK_SNAPSHOT: pb.BookSnapshot,
    pb.BOOK_INCREMENTAL: pb.BookIncremental,
    pb.REJECT: pb.Reject,
    pb.MASS_CANCEL_ACK: pb.MassCancelAck,
}

_KINDS: dict[int, str] = {
    pb.ACCEPTED: "accepted",
    pb.FILL: "fill",
    pb.CANCELLED: "cancelled",
    pb.REJECTED: "rejected",
    pb.REPLACED: "replaced",
    pb.ORDER_STATUS: "status",
}


def _enum_name(enum_type: Any, raw: int) -> str:
    """An enum value's name, or UNKNOWN(n) for one this release does not know."""
    try:
        return str(enum_type.Name(raw))
    except ValueError:
        return f"UNKNOWN({raw})"


def _code_name(raw: int) -> str:
    return _enum_name(pb.RejectCode, raw)


# The exec types that answer an InsertOrder (a REJECTED report always does).
_ORDER_ANSWERS = frozenset({pb.ACCEPTED, pb.FILL, pb.CANCELLED})

# Hot-path constants bound once (a module attribute lookup per use otherwise).
_EXECUTION_REPORT = pb.EXECUTION_REPORT
_CANCELLED = pb.CANCELLED
_REJECTED = pb.REJECTED
_LIMIT = pb.LIMIT
_new_object = object.__new__
_object_setattr = object.__setattr__
_HEADER_SIZE = HEADER.size
_unpack_header = HEADER.unpack_from


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Any]
    want: frozenset[int] = frozenset()  # exec types that complete it
    msg_type: int = 0
    order: OrderHandle | None = None  # an InsertOrder: the future resolves to this handle
    timer: asyncio.TimerHandle | None = None


class GatewayClient:
    def __init__(self, host: str, port: int, logon: dict[str, Any], retention: Retention | None = None) -> None:
        self.host = host
        self.port = port
        self._logon_args = logon
        self._protocol: _GatewayProtocol | None = None  # the current connection's
        self._writer: Any = None  # its transport (write/close)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._events: asyncio.Queue[Event | _Report] = asyncio.Queue()  # _built() reads them
        self.negotiated_version = 1
        self.capabilities: frozenset[str] = frozenset()
        self.gateway_version = ""
        self.session_id = ""
        self.throttle: dict[str, int] = {}  # the gateway's message-rate limit (limit per window_ms)
        self.last_seq = 0
        self.lost: str | None = None
        self._lost_event = asyncio.Event()
        self._hb_task: asyncio.Task[None] | None = None
        self._coid_prefix = format(time.time_ns() // 1000 % 36**8, "x")
        self._coids = itertools.count(1)
        # Handles by client_order_id, client_order_ids by order id; finished ones are
        # forgotten beyond ``retention`` (refclient.orders).
        self._known = KnownOrders(retention or Retention())
        self._instruments: dict[str, Instrument] = {}
        self._memos: dict[str, _TickMemo] = {}  # per symbol of _instruments
        self._books: dict[str, LocalBook] = {}
        self._unknown_types: set[int] = set()
        self.wire_hook: WireHook | None = None  # called with (direction, type name, fields)
        self._store: FileSessionStore | None = None

    # ------------------------------------------------------------------ connect
    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        username: str,
        password: str = "",
        protocol: tuple[int, int] = PROTOCOL_RANGE,
        client_name: str = "refclient",
        heartbeat_ms: int = 0,
        timeout: float = 10.0,
        session_store: FileSessionStore | None = None,
        retention: Retention | None = None,
    ) -> GatewayClient:
        """Connect and log on; raises ProtocolVersionError when no common version exists.

        With a ``session_store`` holding this user's session (from an earlier process), the
        logon resumes it from the stored seq + 1; if the gateway no longer knows it, a new
        session is opened instead (a ``session_new`` event says so).

        ``retention``: how many finished orders the client remembers, and for how long
        (``Retention(finished_orders=10_000, finished_age_s=3600.0)`` by default; see
        refclient.orders). Live orders are always remembered.
        """
        logon = {
            "username": username,
            "password": password,
            "protocol": protocol,
            "client_name": client_name,
            "heartbeat_ms": heartbeat_ms,
            "timeout": timeout,
        }
        client = cls(host, port, logon, retention)
        client._store = session_store
        stored = session_store.load() if session_store is not None else None
        resp = None
        if stored and stored.get("username") == username and stored.get("session_id"):
            client.session_id = str(stored["session_id"])
            client.last_seq = int(stored.get("last_seq", 0))
            await client._open()
            try:
                resp = await client._logon(resume_from_seq=client.last_seq + 1)
            except SessionLost:
                client.session_id, client.last_seq, resp = "", 0, None
                client._events.put_nowait(Event(kind="session_new", reason="stored session unknown to the gateway"))
        if resp is None:
            await client._open()
            resp = await client._logon(resume_from_seq=0)
        client._accept_logon(resp)
        client._persist()
        await client.instruments()
        return client

    def _persist(self) -> None:
        if self._store is not None and self.session_id:
            self._store.save(
                {"username": self._logon_args["username"], "session_id": self.session_id, "last_seq": self.last_seq}
            )

    async def _open(self) -> None:
        timeout = self._logon_args["timeout"]
        protocol = _GatewayProtocol(self)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: protocol, self.host, self.port), timeout
            )
        except OSError as exc:
            raise SessionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self._protocol, self._writer = protocol, transport
        self.lost = None
        self._lost_event = asyncio.Event()
        if protocol.failed or transport.is_closing():
            # Closed before create_connection returned (a proxy whose upstream is down accepts,
            # then closes at once): the protocol was not yet current, so nothing reported it.
            self._lose("connection closed while connecting")
            raise SessionLost(f"cannot connect to {self.host}:{self.port}: connection closed while connecting")

    async def _logon(self, resume_from_seq: int) -> Any:
        a = self._logon_args
        protocol = a["protocol"]
        rid = next(self._ids)
        msg = pb.LogonRequest(
            request_id=rid,
            username=a["username"],
            password=a["password"],
            protocol_min=protocol[0],
            protocol_max=protocol[1],
            client_name=a["client_name"],
            client_version=__version__,
            heartbeat_ms=a["heartbeat_ms"],
        )
        if resume_from_seq and self.session_id:
            msg.session_id = self.session_id
            msg.resume_from_seq = resume_from_seq
        resp = await self._request(rid, pb.LOGON_REQUEST, msg, a["timeout"])
        supported = (resp.supported_min, resp.supported_max)
        if resp.error_message:
            await self.close()
            if resp.error_code == pb.UNSUPPORTED_PROTOCOL_VERSION:
                raise ProtocolVersionError(supported, resp.error_message)
            if resp.error_code == pb.UNKNOWN_SESSION:
                raise SessionLost(resp.error_message)
            raise LogonRejected(_code_name(resp.error_code), resp.error_message)
        # A gateway that predates negotiation echoes nothing: it speaks v1 with no capabilities.
        version = resp.negotiated_version or 1
        if not protocol[0] <= version <= protocol[1]:
            await self.close()
            raise ProtocolVersionError(
                supported if resp.supported_max else (1, 1),
                f"gateway {resp.gateway_version or '(pre-1.1)'} speaks protocol {version}, "
                f"this client needs {protocol[0]}..{protocol[1]}",
            )
        return resp

    def _accept_logon(self, resp: Any) -> None:
        self.negotiated_version = resp.negotiated_version or 1
        self.capabilities = frozenset(resp.capabilities)
        self.gateway_version = resp.gateway_version
        self.session_id = resp.session_id
        self.throttle = {"limit": resp.throttle_limit, "window_ms": resp.throttle_window_ms}
        hb = self._logon_args["heartbeat_ms"]
        if hb and "session.heartbeat" in self.capabilities:
            self._hb_task = asyncio.create_task(self._heartbeats(hb / 1000))

    async def _heartbeats(self, interval: float) -> None:
        with contextlib.suppress(SessionLost, ConnectionError):
            while self.lost is None:
                await asyncio.sleep(interval)
                self._send(pb.HEARTBEAT, pb.Heartbeat(request_id=0))

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ resume
    async def drop(self) -> None:
        """Close the connection without a logout (the session stays resumable)."""
        await self._shutdown("connection dropped by the client")

    async def reconnect(self) -> ResumeResult:
        """Reconnect; on a v2 session resume it, replaying what was missed (poss_dup).

        Raises ResumeGap when the gateway no longer holds every missed report (it then sends
        the current status of every order), SessionLost when the session is unknown.
        """
        await self._shutdown("reconnecting")
        await self._open()
        can_resume = "session.resume" in self.capabilities and bool(self.session_id)
        resp = await self._logon(resume_from_seq=self.last_seq + 1 if can_resume else 0)
        self._accept_logon(resp)
        result = ResumeResult(resumed=bool(resp.resumed), replayed=int(resp.replay_count), gap=resp.resume_gap)
        if not result.resumed:
            self.last_seq = 0
        self._events.put_nowait(Event(kind="session_resumed" if result.resumed else "session_new", seq=result.replayed))
        for symbol, book in self._books.items():
            book.synced = False
            self._subscribe(symbol)
        if result.gap:
            raise ResumeGap(result.replayed, "the gateway no longer held every missed report; order status sent")
        return result

    # ------------------------------------------------------------------ plumbing
    def _send(self, msg_type: int, msg: Any, extra: bytes = b"") -> None:
        if self.lost is not None or self._writer is None:
            raise SessionLost(self.lost or "not connected")
        if self.wire_hook is not None:
            self._hook("out", msg_type, msg)
        payload = msg.SerializeToString()
        if extra:
            payload += extra
        self._writer.write(encode(msg_type, payload))

    def _hook(self, direction: str, msg_type: int, msg: Any) -> None:
        from google.protobuf.json_format import MessageToDict

        assert self.wire_hook is not None
        self.wire_hook(direction, _enum_name(pb.MessageType, msg_type), MessageToDict(msg))

    def _expect(
        self,
        rid: int,
        msg_type: int,
        msg: Any,
        timeout: float | None,
        want: frozenset[int] = frozenset(),
        extra: bytes = b"",
        order: OrderHandle | None = None,
    ) -> asyncio.Future[Any]:
        """Register the answer's future, then send: the future of request ``rid``."""
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), want, msg_type, order)
        self._pending[rid] = pending
        try:
            self._send(msg_type, msg, extra)
        except BaseException:
            del self._pending[rid]
            raise
        # A timer on the future itself rather than asyncio.wait_for: wait_for wraps it in a
        # second future, and its done-callback chain costs one more event-loop turn per answer.
        if timeout is not None:
            pending.timer = loop.call_later(timeout, self._expire, rid, timeout)
        return pending.future

    def _take(self, rid: int) -> _Pending | None:
        """Remove request ``rid`` (answered, refused, expired or abandoned) and its timer."""
        pending = self._pending.pop(rid, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()
        return pending

    def _expire(self, rid: int, timeout: float) -> None:
        pending = self._take(rid)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(ClientError(f"no answer from the gateway within {timeout}s (request {rid})"))

    async def _request(
        self,
        rid: int,
        msg_type: int,
        msg: Any,
        timeout: float,
        want: frozenset[int] = frozenset(),
        extra: bytes = b"",
    ) -> Any:
        future = self._expect(rid, msg_type, msg, timeout, want, extra)
        try:
            return await future
        finally:
            self._take(rid)  # cancelled while waiting: nothing will read the answer

    def _on_frame(self, msg_type: int, payload: bytes) -> None:
        cls = _INBOUND.get(msg_type)
        if cls is None:
            if msg_type not in self._unknown_types:
                self._unknown_types.add(msg_type)
                print(f"refclient: skipping unknown message type {msg_type}", file=sys.stderr)
            return
        msg = cls.FromString(payload)
        if self.wire_hook is not None:
            self._hook("in", msg_type, msg)
        self._dispatch(msg_type, msg, payload)

    def _lose(self, reason: str) -> None:
        if self.lost is not None:
            return
        self.lost = reason
        self._lost_event.set()
        pendings = list(self._pending.values())
        self._pending.clear()
        for pending in pendings:
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_exception(SessionLost(reason))
        self._events.put_nowait(Event(kind="session_lost", reason=reason))

    def _complete(self, rid: int, msg: Any, exec_type: int | None = None) -> None:
        pending = self._pending.get(rid)
        if pending is None:
            return
        if exec_type is None or exec_type == pb.REJECTED or exec_type in pending.want:
            self._take(rid)
            if pending.future.done():  # its caller gave up (cancelled)
                return
            if pending.order is not None:
                self._order_answered(pending.order, pending.future, msg)
            else:
                pending.future.set_result(msg)

    def _order_answered(self, handle: OrderHandle, future: asyncio.Future[Any], rep: Any) -> None:
        """An InsertOrder's first report: fill in its handle, or fail its future."""
        received_ns = time.perf_counter_ns()
        duplicate = rep.reject_code == pb.DUPLICATE_CLORDID_REPLAYED
        if rep.exec_type == pb.REJECTED and not duplicate:
            rejection = _rejection(rep)
            rejection.received_ns = received_ns
            future.set_exception(rejection)
            return
        handle.order_id = rep.order_id
        handle.exchange_order_id = rep.exchange_order_id
        handle.duplicate = duplicate
        handle.received_ns = received_ns
        self._known.remember(handle)
        future.set_result(handle)

    def _dispatch(self, msg_type: int, msg: Any, payload: bytes = b"") -> None:
        if msg_type == _EXECUTION_REPORT:
            seq = msg.seq
            if seq:
                if seq <= self.last_seq:
                    return  # a poss-dup replay of something already delivered
                self.last_seq = seq
                if self._store is not None:
                    self._persist()
            order_id = msg.order_id
            coid = msg.client_order_id or self._known.coid_by_oid.get(order_id, "")
            # The Event is built when the application reads it (the reports answering a
            # load of send_orders are mostly never read one by one). What depends on the
            # client's state or could fail (prices) is settled now, so it is the Event an
            # eager build gives; the rest is read from the parsed message, never changed.
            symbol = msg.symbol
            last_qty = msg.last_qty
            request_id = msg.request_id
            poss_dup = msg.poss_dup
            exec_type = msg.exec_type
            self._events.put_nowait(
                (
                    msg,
                    payload,
                    exec_type,
                    order_id,
                    request_id,
                    symbol,
                    self._price(symbol, msg.price_ticks),
                    last_qty,
                    self._price(symbol, msg.last_price_ticks) if last_qty else None,
                    coid,
                    seq,
                    poss_dup,
                )
            )
            if request_id and not poss_dup:
                self._complete(request_id, msg, exec_type)
            if coid and order_id:  # after _complete: an insert's answer has remembered its handle
                self._known.observe(order_id, coid, exec_type, msg.leaves_qty, msg.reject_code)
        elif msg_type == pb.BOOK_SNAPSHOT:
            book = self._books.get(msg.symbol)
            if book is not None:
                book.on_snapshot(
                    msg.book_seq,
                    [(lv.price_ticks, lv.qty) for lv in msg.bids],
                    [(lv.price_ticks, lv.qty) for lv in msg.asks],
                )
        elif msg_type == pb.BOOK_INCREMENTAL:
            book = self._books.get(msg.symbol)
            if book is not None:
                book.on_incremental(msg.book_seq, [(c.side, c.price_ticks, c.qty) for c in msg.changes])
        elif msg_type == pb.TRADE_REPORT:
            price = self._price(msg.symbol, msg.price_ticks)
            self._events.put_nowait(
                Event(
                    kind="trade",
                    symbol=msg.symbol,
                    qty=msg.qty,
                    price=price,
                    last_qty=msg.qty,
                    last_price=price,
                    trade_id=msg.trade_id,
                    aggressor_side=_enum_name(pb.Side, msg.aggressor_side),
                )
            )
        elif msg_type == pb.INSTRUMENT_STATUS:
            status = _enum_name(pb.InstrumentState, msg.status)
            self._events.put_nowait(Event(kind="instrument_status", symbol=msg.symbol, reason=status))
        elif msg_type == pb.REJECT:
            rid = msg.request_id
            if not rid:
                # Gateways before 2.2 do not echo request_id: match the oldest request of that type.
                rid = next((r for r, p in self._pending.items() if p.msg_type == msg.ref_message_type), 0)
            pending = self._take(rid)
            if pending is not None and not pending.future.done():
                rejection = OrderRejected(_code_name(msg.code), msg.code, msg.text)
                rejection.received_ns = time.perf_counter_ns()
                pending.future.set_exception(rejection)
        elif msg_type == pb.LOGOUT:
            self._lose(f"logged out by the gateway: {msg.reason}")
        elif msg_type in (pb.LOGON_RESPONSE, pb.INSTRUMENTS_RESPONSE, pb.HEARTBEAT, pb.MASS_CANCEL_ACK):
            self._complete(msg.request_id, msg)

    def _price(self, symbol: str, ticks: int) -> Decimal | None:
        memo = self._memos.get(symbol)
        if not ticks or memo is None:
            return None
        return memo.to_price(ticks)

    def _built(self, item: Event | _Report) -> Event:
        """A queued event as the application reads it."""
        return item if isinstance(item, Event) else self._event(*item)

    def _event(
        self,
        m: Any,
        payload: bytes,
        exec_type: int,
        order_id: int,
        request_id: int,
        symbol: str,
        price: Decimal | None,
        last_qty: int,
        last_price: Decimal | None,
        client_order_id: str,
        seq: int,
        poss_dup: bool,
    ) -> Event:
        """The Event of a queued execution report (fields already read are passed in)."""
        reject_code = m.reject_code
        liquidity = m.liquidity
        # Event is frozen, so its generated __init__ sets each of its 21 fields through
        # object.__setattr__; a copy of the field template, filled and installed as the new
        # instance's __dict__, gives the same object for a quarter of the work (a dict display
        # this long is built key by key, with resizes). Every field is set below;
        # tests/products/test_client_hot_path.py checks the result against the constructor.
        d = _EVENT_FIELDS.copy()
        d["kind"] = _KINDS.get(exec_type, "unknown")
        d["order_id"] = order_id
        d["request_id"] = request_id
        d["symbol"] = symbol
        d["qty"] = m.qty
        d["price"] = price
        d["leaves_qty"] = m.leaves_qty
        d["cum_qty"] = m.cum_qty
        d["last_qty"] = last_qty
        d["last_price"] = last_price
        d["trade_id"] = m.trade_id
        d["reason"] = _enum_name(pb.CancelReason, m.cancel_reason) if exec_type == _CANCELLED else ""
        d["code"] = _code_name(reject_code) if reject_code else ""
        d["raw_code"] = reject_code
        d["text"] = m.text
        d["client_order_id"] = client_order_id
        # Extension fields (1000-1999) are unknown to ExecutionReport: skip the byte-level scan
        # when the parser kept no unknown field (the common case).
        d["extensions"] = decode_extensions(payload) if payload and UnknownFieldSet(m) else {}
        d["seq"] = seq
        d["poss_dup"] = poss_dup
        d["liquidity"] = _enum_name(pb.Liquidity, liquidity) if liquidity else ""
        d["aggressor_side"] = ""
        ev = _new_object(Event)
        _object_setattr(ev, "__dict__", d)
        return ev

    # ------------------------------------------------------------------ API
    async def instruments(self, timeout: float = 5.0) -> list[Instrument]:
        rid = next(self._ids)
        resp = await self._request(rid, pb.INSTRUMENTS_REQUEST, pb.InstrumentsRequest(request_id=rid), timeout)
        out = []
        for i in resp.instruments:
            tick = Decimal(i.tick_size_units).scaleb(-i.price_scale)
            scale = i.price_scale
            out.append(
                Instrument(
                    symbol=i.symbol,
                    description=i.description,
                    tick_size=tick,
                    price_scale=scale,
                    lot_size=i.lot_size,
                    max_order_qty=i.max_order_qty,
                    status=_enum_name(pb.InstrumentState, i.status),
                    currency=i.currency,
                )
            )
        self._instruments = {i.symbol: i for i in out}
        self._memos = {i.symbol: _TickMemo(i) for i in out}
        return out

    async def insert_order(
        self,
        symbol: str,
        side: Side,
        qty: int,
        price: Decimal | None = None,
        market: bool = False,
        tif: TIF = TIF.GTC,
        client_order_id: str | None = None,
        extensions: dict[int, Any] | None = None,
        timeout: float = 5.0,
    ) -> OrderHandle:
        """Send an order and wait for its first report; raises OrderRejected, FeatureUnsupported.

        ``price`` is a Decimal, sent as integer ticks.
        ``client_order_id`` defaults to an increasing id unique to this client; sending the same
        one again is answered with the existing order (``handle.duplicate``), never a new one.
        ``extensions``: fields 1000-1999 the gateway echoes on this order's reports.
        """
        return await self.send_order(symbol, side, qty, price, market, tif, client_order_id, extensions, timeout)

    def send_order(
        self,
        symbol: str,
        side: Side,
        qty: int,
        price: Decimal | None = None,
        market: bool = False,
        tif: TIF = TIF.GTC,
        client_order_id: str | None = None,
        extensions: dict[int, Any] | None = None,
        timeout: float | None = 5.0,
    ) -> asyncio.Future[OrderHandle]:
        """:meth:`insert_order` without a coroutine: the order is written before this returns.

        Returns a future that the connection's reader resolves with the OrderHandle (or fails
        with OrderRejected, SessionLost, or ClientError after ``timeout``; ``None`` = no timer)
        as it reads the first report, so a sender pacing thousands of orders a second pays no
        task or event-loop turn per order. Errors found locally (FeatureUnsupported, a price off
        the tick, SessionLost) are raised here, with nothing sent. ``handle.received_ns`` and
        ``OrderRejected.received_ns`` are ``time.perf_counter_ns()`` when the report was read.
        """
        # GTC needs no capability (and hashing an enum member runs Python code).
        capability = _TIF_CAPABILITY.get(tif) if tif is not _GTC else None
        if capability is not None and capability not in self.capabilities:
            raise FeatureUnsupported(capability, f"gateway {self.gateway_version or '(pre-1.1)'} lacks {capability}")
        coid = client_order_id or f"{self._coid_prefix}-{next(self._coids)}"
        rid = next(self._ids)
        msg = pb.InsertOrder(
            request_id=rid,
            symbol=symbol,
            side=side._value_,  # what .value returns, without its Python-level property
            qty=qty,
            order_type=pb.MARKET if market else _LIMIT,
            time_in_force=tif._value_,
            client_order_id=coid,
        )
        if not market:
            if price is None:
                raise ValueError("a limit order needs a price")
            price = Decimal(price)
            memo = self._memos.get(symbol)
            ticks = memo.to_ticks(price) if memo is not None else None
            if memo is not None and ticks is None:
                raise OrderRejected(
                    "PRICE_NOT_ON_TICK",
                    pb.PRICE_NOT_ON_TICK,
                    f"price {price} is not a multiple of {memo.instrument.tick_size}",
                )
            if ticks is None:
                raise ClientError(f"unknown instrument {symbol!r}: call instruments() first")
            msg.price_ticks = ticks
        extra = encode_extensions(extensions) if extensions else b""
        handle = OrderHandle(order_id=0, symbol=symbol, side=side, qty=qty, price=price, client_order_id=coid)
        return self._expect(rid, pb.INSERT_ORDER, msg, timeout, _ORDER_ANSWERS, extra, order=handle)

    async def cancel_order(self, order: OrderHandle | str, timeout: float = 5.0) -> None:
        """Cancel (by handle or client_order_id) and wait for CANCELLED; raises OrderRejected."""
        if isinstance(order, str):
            known = self._known.handles.get(order)
            msg = pb.CancelOrder(order_id=known.order_id if known else 0, client_order_id=order)
        else:
            msg = pb.CancelOrder(order_id=order.order_id, client_order_id=order.client_order_id)
        rid = next(self._ids)
        msg.request_id = rid
        rep = await self._request(rid, pb.CANCEL_ORDER, msg, timeout, want=frozenset({pb.CANCELLED}))
        if rep.exec_type == pb.REJECTED:
            raise _rejection(rep)

    async def amend_order(
        self, order: OrderHandle | str, qty: int | None = None, price: Decimal | None = None, timeout: float = 5.0
    ) -> None:
        """Change total quantity and/or price; waits for REPLACED. Needs ``order.amend``."""
        if "order.amend" not in self.capabilities:
            raise FeatureUnsupported("order.amend", f"gateway {self.gateway_version or '(pre-1.1)'} cannot amend")
        handle = self._known.handles.get(order) if isinstance(order, str) else order
        coid = order if isinstance(order, str) else order.client_order_id
        rid = next(self._ids)
        msg = pb.AmendOrder(request_id=rid, client_order_id=coid, order_id=handle.order_id if handle else 0)
        if qty is not None:
            msg.qty = qty
        if price is not None:
            if handle is None:
                # The price is sent in the order's ticks, and only its handle names its instrument.
                raise OrderRejected(
                    "UNKNOWN_ORDER",
                    pb.UNKNOWN_ORDER,
                    f"no order {coid!r} known to this client (never sent by it, or finished and forgotten "
                    f"beyond its retention): cannot amend its price",
                )
            symbol = handle.symbol
            instr = self._instruments.get(symbol)
            ticks = instr.to_ticks(Decimal(price)) if instr else None
            if ticks is None:
                raise OrderRejected("PRICE_NOT_ON_TICK", pb.PRICE_NOT_ON_TICK, f"price {price} is not on the tick")
            msg.price_ticks = ticks
        rep = await self._request(rid, pb.AMEND_ORDER, msg, timeout, want=frozenset({pb.REPLACED}))
        if rep.exec_type == pb.REJECTED:
            raise _rejection(rep)

    async def mass_cancel(self, symbol: str = "", timeout: float = 5.0) -> int:
        """Cancel every live order of this user (optionally one symbol); returns the count."""
        if "order.masscancel" not in self.capabilities:  # 2.1 skipped this check (a known defect)
            raise FeatureUnsupported("order.masscancel", f"gateway {self.gateway_version} cannot mass cancel")
        rid = next(self._ids)
        ack = await self._request(rid, pb.MASS_CANCEL, pb.MassCancel(request_id=rid, symbol=symbol), timeout)
        if ack.code:
            raise OrderRejected(_code_name(ack.code), ack.code, ack.text)
        return int(ack.cancelled_count)

    # ------------------------------------------------------------------ market data
    def _subscribe(self, symbol: str) -> None:
        self._send(pb.SUBSCRIBE, pb.Subscribe(request_id=next(self._ids), symbol=symbol))

    async def subscribe_book(self, symbol: str, depth: int = 0) -> LocalBook:
        """A local book kept from snapshot + incrementals; a gap triggers a fresh snapshot."""
        instr = self._instruments.get(symbol)
        book = LocalBook(symbol, request_snapshot=self._subscribe, tick=instr.tick_size if instr else Decimal(1))
        self._books[symbol] = book
        self._subscribe(symbol)
        return book

    async def subscribe(self, symbol: str) -> LocalBook:
        return await self.subscribe_book(symbol)

    def book(self, symbol: str) -> LocalBook:
        return self._books[symbol]

    # ------------------------------------------------------------------ events
    async def heartbeat(self, timeout: float = 5.0) -> None:
        rid = next(self._ids)
        await self._request(rid, pb.HEARTBEAT, pb.Heartbeat(request_id=rid), timeout)

    async def next_event(self, timeout: float = 5.0) -> Event:
        return self._built(await asyncio.wait_for(self._events.get(), timeout))

    def drain_events(self) -> list[Event]:
        out = []
        while not self._events.empty():
            out.append(self._built(self._events.get_nowait()))
        return out

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield self._built(await self._events.get())

    async def logout(self, timeout: float = 5.0) -> None:
        if self.lost is None:
            self._send(pb.LOGOUT, pb.Logout(reason="client logout"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost_event.wait(), timeout)
        await self.close()

    async def _shutdown(self, reason: str) -> None:
        self._lose(reason)
        task = self._hb_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._writer is not None:
            self._writer.close()
        self._lose(reason)

    async def close(self) -> None:
        await self._shutdown("client closed")


def _rejection(rep: Any) -> OrderRejected:
    if rep.reject_code == pb.THROTTLED:
        return Throttled(rep.retry_after_ms, rep.text)
    return OrderRejected(_code_name(rep.reject_code), rep.reject_code, rep.text)


class _GatewayProtocol(asyncio.Protocol):
    """One connection's reader: frames are cut from the byte stream and dispatched inside
    data_received (a reader task on a StreamReader costs a future and a loop turn per report).
    A connection that is no longer the client's current one reports nothing."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client
        self.buf = bytearray()
        self.failed = False

    def _fail(self, reason: str) -> None:
        self.failed = True
        self.buf.clear()
        if self.client._protocol is self:
            self.client._lose(reason)

    def data_received(self, data: bytes) -> None:
        if self.failed:
            return
        buf = self.buf
        if buf:
            # A frame cut by the previous read: join once. Usually a read ends on a frame
            # boundary and its frames are sliced straight from ``data`` (one copy each).
            buf += data
            data = bytes(buf)
            buf.clear()
        pos = 0
        end = len(data)
        on_frame = self.client._on_frame
        try:
            while end - pos >= _HEADER_SIZE:
                length, msg_type = _unpack_header(data, pos)
                if length < 4:
                    raise FrameError(f"frame length {length} is below the 4-byte type", fatal=True)
                if length - 4 > MAX_FRAME:
                    raise FrameError(
                        f"frame of {length - 4} payload bytes exceeds the {MAX_FRAME}-byte cap", fatal=True
                    )
                stop = pos + 4 + length
                if stop > end:
                    break
                payload = data[pos + _HEADER_SIZE : stop]
                pos = stop
                on_frame(msg_type, payload)
        except FrameError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:
            self._fail(f"client failed handling a gateway message: {exc!r}")
            return
        if pos < end:
            buf += memoryview(data)[pos:]

    def eof_received(self) -> bool:
        reason = truncated_at_eof(self.buf)  # None: EOF between frames, a clean close
        if reason is not None and not self.failed:
            self._fail(reason)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.failed:
            self._fail("gateway closed the connection")
