"""The asyncio client API (protocol v1, with version and capability negotiation).

gw = await GatewayClient.connect(host, port, username="u1", password="token")
instruments = await gw.instruments()
order = await gw.insert_order("ABC", Side.BUY, qty=10, price=100.25, tif=TIF.IOC)  # waits for the ack
await gw.cancel_order(order)
ev = await gw.next_event(timeout=5.0)
await gw.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from refclient import __version__
from refclient import refgw_pb2 as pb
from refclient.errors import (
    ClientError,
    FeatureUnsupported,
    LogonRejected,
    OrderRejected,
    ProtocolVersionError,
    SessionLost,
)
from refclient.framing import FrameError, encode, read_frame
from refclient.wire import decode_extensions, encode_extensions

PROTOCOL_RANGE = (1, 1)


class Side(enum.Enum):
    BUY = pb.BUY
    SELL = pb.SELL


class TIF(enum.Enum):
    GTC = pb.GTC
    DAY = pb.DAY
    IOC = pb.IOC


# The gateway capability each non-default time in force needs.
_TIF_CAPABILITY = {TIF.DAY: "tif.day", TIF.IOC: "tif.ioc"}


@dataclass(frozen=True)
class Instrument:
    symbol: str
    description: str
    tick_size: float
    lot_size: int
    max_order_qty: int
    status: str
    currency: str


@dataclass
class OrderHandle:
    order_id: int
    symbol: str
    side: Side
    qty: int
    price: float
    exchange_order_id: str = ""
    client_order_id: str = ""
    duplicate: bool = False  # the gateway answered a repeated client_order_id with the existing order


@dataclass(frozen=True)
class Event:
    kind: str  # accepted fill cancelled rejected session_lost
    order_id: int = 0
    request_id: int = 0
    symbol: str = ""
    qty: int = 0
    price: float = 0.0
    leaves_qty: int = 0
    cum_qty: int = 0
    last_qty: int = 0
    last_price: float = 0.0
    trade_id: str = ""
    reason: str = ""
    code: str = ""
    raw_code: int = 0
    text: str = ""
    client_order_id: str = ""
    extensions: dict[int, Any] = field(default_factory=dict)


@dataclass
class TopOfBook:
    symbol: str
    bid_price: float = 0.0
    bid_qty: int = 0
    ask_price: float = 0.0
    ask_qty: int = 0
    updates: int = 0


_INBOUND: dict[int, Any] = {
    pb.LOGON_RESPONSE: pb.LogonResponse,
    pb.LOGOUT: pb.Logout,
    pb.HEARTBEAT: pb.Heartbeat,
    pb.INSTRUMENTS_RESPONSE: pb.InstrumentsResponse,
    pb.EXECUTION_REPORT: pb.ExecutionReport,
    pb.TOP_OF_BOOK: pb.TopOfBook,
    pb.REJECT: pb.Reject,
}

_KINDS = {pb.ACCEPTED: "accepted", pb.FILL: "fill", pb.CANCELLED: "cancelled", pb.REJECTED: "rejected"}


@dataclass
class _Pending:
    future: asyncio.Future[Any]
    want: set[int] = field(default_factory=set)  # exec types that complete it


class GatewayClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self.tops: dict[str, TopOfBook] = {}
        self._top_changed = asyncio.Condition()
        self.negotiated_version = 1
        self.capabilities: frozenset[str] = frozenset()
        self.gateway_version = ""
        self.lost: str | None = None
        self._lost_event = asyncio.Event()
        self._coid_prefix = format(time.time_ns() // 1000 % 36**8, "x")
        self._coids = itertools.count(1)
        self._orders: dict[str, OrderHandle] = {}  # client_order_id -> handle
        self._coid_by_oid: dict[int, str] = {}
        self._task: asyncio.Task[None] | None = None

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
        timeout: float = 10.0,
    ) -> GatewayClient:
        """Connect and log on; raises ProtocolVersionError when no common version exists."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except OSError as exc:
            raise SessionLost(f"cannot connect to {host}:{port}: {exc}") from None
        client = cls(reader, writer)
        client._task = asyncio.create_task(client._read_loop())
        rid = next(client._ids)
        resp = await client._request(
            rid,
            pb.LOGON_REQUEST,
            pb.LogonRequest(
                request_id=rid,
                username=username,
                password=password,
                protocol_min=protocol[0],
                protocol_max=protocol[1],
                client_name=client_name,
                client_version=__version__,
            ),
            timeout,
        )
        supported = (resp.supported_min, resp.supported_max)
        if resp.error_message:
            await client.close()
            if resp.error_code == pb.UNSUPPORTED_PROTOCOL_VERSION:
                raise ProtocolVersionError(supported, resp.error_message)
            raise LogonRejected(_code_name(resp.error_code), resp.error_message)
        # A gateway that predates negotiation echoes nothing: it speaks v1 with no capabilities.
        client.negotiated_version = resp.negotiated_version or 1
        client.capabilities = frozenset(resp.capabilities)
        client.gateway_version = resp.gateway_version
        if not protocol[0] <= client.negotiated_version <= protocol[1]:
            await client.close()
            raise ProtocolVersionError(
                supported if resp.supported_max else (1, 1),
                f"gateway {client.gateway_version or '(pre-1.1)'} speaks protocol "
                f"{client.negotiated_version}, "
                f"this client needs {protocol[0]}..{protocol[1]}",
            )
        return client

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ plumbing
    def _send(self, msg_type: int, msg: Any, extra: bytes = b"") -> None:
        if self.lost is not None:
            raise SessionLost(self.lost)
        self._writer.write(encode(msg_type, msg.SerializeToString() + extra))

    async def _request(
        self,
        rid: int,
        msg_type: int,
        msg: Any,
        timeout: float,
        want: set[int] | None = None,
        extra: bytes = b"",
    ) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = _Pending(fut, want or set())
        self._send(msg_type, msg, extra)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise ClientError(f"no answer from the gateway within {timeout}s (request {rid})") from None
        finally:
            self._pending.pop(rid, None)

    async def _read_loop(self) -> None:
        reason = "gateway closed the connection"
        try:
            while True:
                msg_type, payload = await read_frame(self._reader)
                msg = _INBOUND[msg_type]()
                msg.ParseFromString(payload)
                self._dispatch(msg_type, msg, payload)
        except (asyncio.IncompleteReadError, ConnectionError, FrameError) as exc:
            if isinstance(exc, FrameError):
                reason = str(exc)
        except asyncio.CancelledError:
            reason = "client closed"
        except Exception as exc:  # this release cannot handle what the gateway sent
            reason = f"client cannot handle a gateway message: {exc!r}"
        self._lose(reason)

    def _lose(self, reason: str) -> None:
        if self.lost is not None:
            return
        self.lost = reason
        self._lost_event.set()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(SessionLost(reason))
        self._events.put_nowait(Event(kind="session_lost", reason=reason))

    def _complete(self, rid: int, msg: Any, exec_type: int | None = None) -> None:
        pending = self._pending.get(rid)
        if pending is None or pending.future.done():
            return
        if exec_type is None or exec_type == pb.REJECTED or exec_type in pending.want:
            pending.future.set_result(msg)

    def _dispatch(self, msg_type: int, msg: Any, payload: bytes = b"") -> None:
        if msg_type == pb.EXECUTION_REPORT:
            ev = self._event(msg, payload)
            if ev.client_order_id and msg.order_id:
                self._coid_by_oid.setdefault(msg.order_id, ev.client_order_id)
            self._events.put_nowait(ev)
            if msg.request_id:
                self._complete(msg.request_id, msg, msg.exec_type)
        elif msg_type == pb.REJECT:
            pending = self._pending.get(msg.request_id)
            if pending is not None and not pending.future.done():
                pending.future.set_exception(OrderRejected(_code_name(msg.code), msg.code, msg.text))
        elif msg_type == pb.TOP_OF_BOOK:
            top = self.tops.setdefault(msg.symbol, TopOfBook(msg.symbol))
            top.bid_price, top.bid_qty, top.ask_price, top.ask_qty = (
                msg.bid_price,
                msg.bid_qty,
                msg.ask_price,
                msg.ask_qty,
            )
            top.updates += 1
        elif msg_type == pb.LOGOUT:
            self._lose(f"logged out by the gateway: {msg.reason}")
        elif msg_type in (pb.LOGON_RESPONSE, pb.INSTRUMENTS_RESPONSE, pb.HEARTBEAT):
            self._complete(msg.request_id, msg)

    def _event(self, m: Any, payload: bytes = b"") -> Event:
        return Event(
            client_order_id=m.client_order_id or self._coid_by_oid.get(m.order_id, ""),
            extensions=decode_extensions(payload) if payload else {},
            kind=_KINDS.get(m.exec_type, "unknown"),
            order_id=m.order_id,
            request_id=m.request_id,
            symbol=m.symbol,
            qty=m.qty,
            price=m.price,
            leaves_qty=m.leaves_qty,
            cum_qty=m.cum_qty,
            last_qty=m.last_qty,
            last_price=m.last_price,
            trade_id=m.trade_id,
            reason=pb.CancelReason.Name(m.cancel_reason) if m.exec_type == pb.CANCELLED else "",
            code=pb.RejectCode.Name(m.reject_code) if m.reject_code else "",
            raw_code=m.reject_code,
            text=m.text,
        )

    # ------------------------------------------------------------------ API
    async def instruments(self, timeout: float = 5.0) -> list[Instrument]:
        rid = next(self._ids)
        resp = await self._request(
            rid, pb.INSTRUMENTS_REQUEST, pb.InstrumentsRequest(request_id=rid), timeout
        )
        return [
            Instrument(
                symbol=i.symbol,
                description=i.description,
                tick_size=i.tick_size,
                lot_size=i.lot_size,
                max_order_qty=i.max_order_qty,
                status=pb.InstrumentState.Name(i.status),
                currency=i.currency,
            )
            for i in resp.instruments
        ]

    async def insert_order(
        self,
        symbol: str,
        side: Side,
        qty: int,
        price: float = 0.0,
        market: bool = False,
        tif: TIF = TIF.GTC,
        client_order_id: str | None = None,
        extensions: dict[int, Any] | None = None,
        timeout: float = 5.0,
    ) -> OrderHandle:
        """Send an order and wait for its first report; raises OrderRejected, FeatureUnsupported.

        ``client_order_id`` defaults to an increasing id unique to this client; sending the same
        one again is answered with the existing order (``handle.duplicate``), never a new one.
        ``extensions``: fields 1000-1999 the gateway echoes on this order's reports.
        """
        capability = _TIF_CAPABILITY.get(tif)
        if capability is not None and capability not in self.capabilities:
            raise FeatureUnsupported(
                capability, f"gateway {self.gateway_version or '(pre-1.1)'} lacks {capability}"
            )
        coid = client_order_id or f"{self._coid_prefix}-{next(self._coids)}"
        rid = next(self._ids)
        msg = pb.InsertOrder(
            request_id=rid,
            symbol=symbol,
            side=side.value,
            price=price,
            qty=qty,
            order_type=pb.MARKET if market else pb.LIMIT,
            time_in_force=tif.value,
            client_order_id=coid,
        )
        extra = encode_extensions(extensions) if extensions else b""
        want: set[int] = {pb.ACCEPTED, pb.FILL, pb.CANCELLED}
        rep = await self._request(rid, pb.INSERT_ORDER, msg, timeout, want=want, extra=extra)
        duplicate = rep.reject_code == pb.DUPLICATE_CLORDID_REPLAYED
        if rep.exec_type == pb.REJECTED and not duplicate:
            raise OrderRejected(pb.RejectCode.Name(rep.reject_code), rep.reject_code, rep.text)
        handle = OrderHandle(
            order_id=rep.order_id,
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            exchange_order_id=rep.exchange_order_id,
            client_order_id=coid,
            duplicate=duplicate,
        )
        self._orders[coid] = handle
        self._coid_by_oid[rep.order_id] = coid
        return handle

    async def cancel_order(self, order: OrderHandle | str, timeout: float = 5.0) -> None:
        """Cancel (by handle or client_order_id) and wait for CANCELLED; raises OrderRejected."""
        if isinstance(order, str):
            known = self._orders.get(order)
            msg = pb.CancelOrder(order_id=known.order_id if known else 0, client_order_id=order)
        else:
            msg = pb.CancelOrder(order_id=order.order_id, client_order_id=order.client_order_id)
        rid = next(self._ids)
        msg.request_id = rid
        rep = await self._request(rid, pb.CANCEL_ORDER, msg, timeout, want={pb.CANCELLED})
        if rep.exec_type == pb.REJECTED:
            raise OrderRejected(pb.RejectCode.Name(rep.reject_code), rep.reject_code, rep.text)

    async def subscribe(self, symbol: str) -> TopOfBook:
        """Subscribe to top of book; ``self.tops[symbol]`` is kept current."""
        rid = next(self._ids)
        self._send(pb.SUBSCRIBE, pb.Subscribe(request_id=rid, symbol=symbol))
        return self.tops.setdefault(symbol, TopOfBook(symbol))

    async def heartbeat(self, timeout: float = 5.0) -> None:
        rid = next(self._ids)
        await self._request(rid, pb.HEARTBEAT, pb.Heartbeat(request_id=rid), timeout)

    async def next_event(self, timeout: float = 5.0) -> Event:
        return await asyncio.wait_for(self._events.get(), timeout)

    def drain_events(self) -> list[Event]:
        out = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    async def events(self) -> AsyncIterator[Event]:
        while True:
            ev = await self._events.get()
            yield ev
            if ev.kind == "session_lost":
                return

    async def logout(self, timeout: float = 5.0) -> None:
        if self.lost is None:
            self._send(pb.LOGOUT, pb.Logout(reason="client logout"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost_event.wait(), timeout)
        await self.close()

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._writer.close()
        self._lose("client closed")


def _code_name(raw: int) -> str:
    """A RejectCode's name, or UNKNOWN(n) for one this release does not know."""
    try:
        return str(pb.RejectCode.Name(raw))
    except ValueError:
        return f"UNKNOWN({raw})"
