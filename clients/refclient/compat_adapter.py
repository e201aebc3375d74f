"""compat's adapter for refclient: canonical driver operations onto whichever refclient is installed.

It lives outside the versioned package and spans every release. It detects what the
installed version can do by feature (attributes of the API) and by ``refclient.__version__``,
and raises ``ctx["Unsupported"]`` for an operation that version cannot express. It never
checks gateway capabilities itself: that is the client library's job (and a client that
skips it, like C2.1's mass_cancel, must be caught by the matrix, not hidden here).
A client ``FeatureUnsupported`` (the gateway lacks a capability) is reported as unsupported
too, so the scenario is n/a for that pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import itertools
import time
from collections import deque
from decimal import Decimal
from typing import Any

import refclient
from refclient import GatewayClient

VERSION = tuple(int(p) for p in refclient.__version__.split(".")[:3] if p.isdigit())
HAS_TIF = hasattr(refclient, "TIF")
HAS_DECIMAL = VERSION >= (2, 0, 0)
HAS_RESUME = hasattr(GatewayClient, "reconnect")
HAS_AMEND = hasattr(GatewayClient, "amend_order")
HAS_MASS = hasattr(GatewayClient, "mass_cancel")
HAS_BOOK = hasattr(GatewayClient, "subscribe_book")
# 3.1+: send_order writes at once and returns a future the reader resolves (no task per order).
HAS_SEND_ORDER = hasattr(GatewayClient, "send_order")
# 2.0+ negotiate heartbeats (connect(heartbeat_ms=...)); 1.x have no heartbeat at all.
HAS_HEARTBEAT = "heartbeat_ms" in inspect.signature(GatewayClient.connect).parameters
WIRE_RING = 256


class Timeout(Exception):
    """next_event/wait_book found nothing in time (the driver reports the class name)."""


class NotConnected(Exception):
    """An operation named a session that was never connected (or was reset)."""


class _Session:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.handles: dict[str, Any] = {}  # client_order_id -> OrderHandle
        self.coid_by_oid: dict[int, str] = {}  # gateway order id -> client_order_id (v1 clients)
        self.buffer: list[Any] = []  # raw client events not yet handed out
        # Every event the client library delivered to the application, in order, whether the
        # scenario read it or not (op_delivered_events: compat's invariant oracle reads it).
        self.delivered: list[Any] = []
        self.resume_gaps = 0  # resumes the gateway could not replay in full (RESUME_GAP)
        self.decimals: dict[str, int] = {}
        self.wire: deque[dict[str, Any]] = deque(maxlen=WIRE_RING)
        self.args: dict[str, Any] = {}


class _LoadResume:
    """bench --upgrade: one shared reconnect per session while its gateway is swapped.

    Every order that meets the outage (its answer lost with the connection, or due while it
    is down) awaits the same reconnect of its session, then is resent. Times are
    ``perf_counter_ns`` (the host's monotonic clock), so the host lines them up with the swap.
    """

    def __init__(self, clients: list[Any], timeout_s: float) -> None:
        self.clients = clients
        self.timeout_s = timeout_s
        self.generations = [0] * len(clients)  # successful reconnects per session
        self.tasks: list[asyncio.Task[None] | None] = [None] * len(clients)
        self.sessions = [
            {"lost_ns": 0, "reconnected_ns": 0, "first_ack_ns": 0, "attempts": 0, "resumed": False,
             "replayed": 0, "resume_gap": False}
            for _ in clients
        ]
        self.resent = 0  # answer lost with the connection (or sent into it): sent again
        self.held = 0

    async def recover(self, number: int, generation: int) -> None:
        self.resent += 1
        if self.generations[number] != generation:
            return  # reconnected since this order was sent: just resend
        task = self.tasks[number]
        if task is None or task.done():
            task = self.tasks[number] = asyncio.ensure_future(self._reconnect(number))
        await asyncio.shield(task)

    async def settled(self, number: int) -> None:
        task = self.tasks[number]
        if task is not None and not task.done():
            self.held += 1  # due while its session was down: first sent after the resume
            await asyncio.shield(task)

    async def _reconnect(self, number: int) -> None:
        client, record = self.clients[number], self.sessions[number]
        if not record["lost_ns"]:
            record["lost_ns"] = time.perf_counter_ns()
        deadline = time.perf_counter_ns() + int(self.timeout_s * 1e9)
        while True:
            record["attempts"] += 1
            try:
                result = await client.reconnect()
                record["resumed"], record["replayed"] = bool(result.resumed), int(result.replayed)
                break
            except Exception as exc:
                if type(exc).__name__ == "ResumeGap":  # resumed; order status sent instead of a replay
                    record["resumed"], record["resume_gap"] = True, True
                    break
                if type(exc).__name__ != "SessionLost" or time.perf_counter_ns() > deadline:
                    raise
            # The new gateway is not listening yet: the retry interval of a client
            # reconnecting to a restarting server (bounded by the deadline above).
            await asyncio.sleep(0.01)
        record["reconnected_ns"] = time.perf_counter_ns()
        self.generations[number] += 1

    def acked(self, number: int, generation: int, ack_ns: int) -> None:
        record = self.sessions[number]
        if not record["first_ack_ns"] or ack_ns < record["first_ack_ns"]:
            record["first_ack_ns"] = ack_ns

    def report(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "resent": self.resent, "held": self.held}


class Adapter:
    def __init__(self, ctx: dict[str, Any]) -> None:
        self.Unsupported = ctx["Unsupported"]
        self.sessions: dict[str, _Session] = {}
        self._coids = itertools.count(1)

    # ------------------------------------------------------------------ helpers
    def _s(self, session: str) -> _Session:
        try:
            return self.sessions[session]
        except KeyError:
            raise NotConnected(f"no connected session {session!r}; call connect first") from None

    def _unsupported_from(self, exc: Exception) -> Exception:
        if type(exc).__name__ == "FeatureUnsupported":
            return self.Unsupported(getattr(exc, "capability", "?"), str(exc))  # type: ignore[no-any-return]
        return exc

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:
            raise self._unsupported_from(exc) from exc

    def _price_out(self, s: _Session, symbol: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return str(value)
        places = s.decimals.get(symbol)
        if places is None:
            return repr(value)
        return f"{value:.{places}f}"

    def _price_in(self, price: str | None) -> Any:
        if price is None:
            return None
        return Decimal(price) if HAS_DECIMAL else float(price)

    def _event(self, s: _Session, ev: Any) -> dict[str, Any]:
        if ev.kind == "trade":
            return {
                "kind": "trade",
                "symbol": ev.symbol,
                "qty": ev.last_qty or ev.qty,
                "price": self._price_out(s, ev.symbol, ev.last_price or ev.price),
                "trade_id": ev.trade_id,
                "aggressor_side": getattr(ev, "aggressor_side", ""),
                "seq": 0,
                "poss_dup": False,
            }
        coid = getattr(ev, "client_order_id", "") or s.coid_by_oid.get(getattr(ev, "order_id", 0), "")
        price = getattr(ev, "last_price", None) if ev.kind == "fill" else getattr(ev, "price", None)
        out: dict[str, Any] = {
            "kind": ev.kind,
            "client_order_id": coid,
            "qty": ev.last_qty if ev.kind == "fill" else ev.qty,
            "price": self._price_out(s, ev.symbol, price) if price else "",
            "leaves_qty": ev.leaves_qty,
            "cum_qty": ev.cum_qty,
            "trade_id": ev.trade_id,
            "reason": ev.reason,
            "code": ev.code,
            "raw_code": ev.raw_code,
            "text": ev.text,
            "symbol": ev.symbol,
            "poss_dup": bool(getattr(ev, "poss_dup", False)),
            "seq": int(getattr(ev, "seq", 0)),
            "order_id": int(getattr(ev, "order_id", 0) or 0),
            "order_qty": ev.qty,  # the order's quantity (``qty`` of a fill is the fill's)
        }
        if getattr(ev, "liquidity", ""):
            out["liquidity"] = ev.liquidity
        ext = getattr(ev, "extensions", None)
        if ext:
            out["extensions"] = {str(k): v for k, v in ext.items()}
        return out

    def _pull(self, s: _Session) -> None:
        events = s.client.drain_events()
        s.buffer.extend(events)
        s.delivered.extend(events)

    # ------------------------------------------------------------------ session ops
    async def op_connect(
        self,
        session: str = "s1",
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "u1",
        password: str = "",
        protocol_min: int | None = None,
        protocol_max: int | None = None,
        extensions: dict[str, Any] | None = None,
        heartbeat_ms: int | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"username": username, "password": password}
        if heartbeat_ms:
            if not HAS_HEARTBEAT:
                raise self.Unsupported("session.heartbeat", f"refclient {refclient.__version__} has no heartbeats")
            kwargs["heartbeat_ms"] = int(heartbeat_ms)
        if protocol_min is not None or protocol_max is not None:
            if VERSION < (1, 1, 0):
                raise self.Unsupported("logon.protocol_range", "refclient 1.0 sends no protocol version")
            default_min, default_max = vars(refclient)["PROTOCOL_RANGE"]
            kwargs["protocol"] = (protocol_min or default_min, protocol_max or default_max)
        client = await self._call(GatewayClient.connect(host, port, **kwargs))
        s = _Session(client)
        s.args = {"host": host, "port": port, **kwargs}
        self.sessions[session] = s
        if hasattr(client, "wire_hook"):
            client.wire_hook = lambda direction, msg_type, fields: s.wire.append(
                {"direction": direction, "msg_type": msg_type, "fields": fields, "t_ns": time.time_ns()}
            )
        for instr in await client.instruments():
            tick = Decimal(str(instr.tick_size))
            s.decimals[instr.symbol] = max(0, -int(tick.as_tuple().exponent))
        return {
            "negotiated_version": client.negotiated_version,
            "gateway_version": client.gateway_version,
            "capabilities": sorted(client.capabilities),
            "session_id": str(getattr(client, "session_id", "") or ""),
            **self._throttle(client),
        }

    @staticmethod
    def _throttle(client: Any) -> dict[str, Any]:
        limits = getattr(client, "throttle", None)  # refclient 3.1+
        if not limits or not limits.get("limit"):
            return {}
        return {"throttle": {"limit": limits["limit"], "window_ms": limits["window_ms"], "burst": limits["limit"]}}

    async def op_logout(self, session: str = "s1") -> dict[str, Any]:
        s = self._s(session)
        await s.client.logout()
        return {}

    async def op_mute_heartbeats(self, session: str = "s1") -> dict[str, Any]:
        """Stop sending heartbeats but keep the connection open (a client that went silent).

        Every heartbeat-capable version (2.0+) runs them as one task, ``_hb_task``, started at
        logon when the gateway granted ``session.heartbeat``; there is no public switch.
        """
        s = self._s(session)
        if not HAS_HEARTBEAT:
            raise self.Unsupported("session.heartbeat", f"refclient {refclient.__version__} has no heartbeats")
        task = getattr(s.client, "_hb_task", None)
        if task is None:
            raise self.Unsupported("session.heartbeat", "this session negotiated no heartbeat (none asked or granted)")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return {"muted": True}

    async def op_disconnect(self, session: str = "s1") -> dict[str, Any]:
        s = self._s(session)
        if hasattr(s.client, "drop"):
            await s.client.drop()
        else:
            await s.client.close()
        return {}

    async def op_forget(self, session: str = "s1") -> dict[str, Any]:
        """The test that used this session is over: close it and drop everything it held (its
        client, unread events, wire ring), so the driver's memory does not grow test by test."""
        s = self.sessions.pop(session, None)
        if s is not None:
            with contextlib.suppress(Exception):
                await s.client.close()
            del s
            # A session is a web of cycles (client <-> connection, the wire hook's closure): a
            # young collection rarely reaches it once it has aged, so collect it now.
            gc.collect()
        return {}

    async def op_reconnect(self, session: str = "s1") -> dict[str, Any]:
        s = self._s(session)
        if not HAS_RESUME:
            raise self.Unsupported("session.resume", f"refclient {refclient.__version__} cannot resume a session")
        try:
            result = await self._call(s.client.reconnect())
        except Exception as exc:
            if type(exc).__name__ == "ResumeGap":
                s.resume_gaps += 1
                return {"resumed": True, "replayed": int(getattr(exc, "replayed", 0)), "gap": True}
            raise
        return {"resumed": bool(result.resumed), "replayed": int(result.replayed), "gap": False}

    async def op_instruments(self, session: str = "s1") -> dict[str, Any]:
        s = self._s(session)
        out = []
        for i in await s.client.instruments():
            tick = i.tick_size if isinstance(i.tick_size, Decimal) else Decimal(str(i.tick_size))
            out.append(
                {
                    "symbol": i.symbol,
                    "tick_size": str(tick),
                    "price_scale": getattr(i, "price_scale", max(0, -int(tick.as_tuple().exponent))),
                    "lot_size": i.lot_size,
                    "max_order_qty": i.max_order_qty,
                    "status": i.status,
                }
            )
        return {"instruments": out}

    # ------------------------------------------------------------------ order ops
    async def op_insert(
        self,
        session: str = "s1",
        symbol: str = "",
        side: str = "BUY",
        qty: int = 0,
        price: str | None = None,
        tif: str = "GTC",
        order_type: str = "LIMIT",
        client_order_id: str | None = None,
        extensions: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """``timeout_s``: the client's own wait for the gateway's answer (every release's
        ``insert_order(timeout=...)``, 5 s by default), e.g. short for an insert into a stall."""
        s = self._s(session)
        market = order_type == "MARKET"
        kwargs: dict[str, Any] = {"qty": qty, "price": self._price_in(price) if not market else None}
        if market:
            kwargs["market"] = True
            kwargs.pop("price")
        if HAS_TIF:
            if not market or tif != "GTC":
                kwargs["tif"] = getattr(vars(refclient)["TIF"], tif, None)
                if kwargs["tif"] is None:
                    raise self.Unsupported(f"tif.{tif.lower()}", f"refclient {refclient.__version__} has no TIF {tif}")
        elif tif != "GTC" and not (market and tif == "IOC"):
            raise self.Unsupported(f"tif.{tif.lower()}", f"refclient {refclient.__version__} sends no time in force")
        if VERSION >= (1, 1, 0):
            kwargs["client_order_id"] = client_order_id
        if extensions:
            if VERSION < (1, 1, 0):
                raise self.Unsupported("order.extensions", "refclient 1.0 cannot send extension fields")
            kwargs["extensions"] = {int(k): v for k, v in extensions.items()}
        if timeout_s is not None:
            kwargs["timeout"] = float(timeout_s)
        side_value = getattr(refclient.Side, side)
        handle = await self._call(s.client.insert_order(symbol, side_value, **kwargs))
        coid = getattr(handle, "client_order_id", "") or client_order_id or f"a{next(self._coids)}"
        s.handles[coid] = handle
        if getattr(handle, "order_id", 0):
            s.coid_by_oid[handle.order_id] = coid
        return {
            "client_order_id": coid,
            "order_id": str(getattr(handle, "order_id", "")),
            "duplicate": bool(getattr(handle, "duplicate", False)),
        }

    def _handle(self, s: _Session, client_order_id: str) -> Any:
        handle = s.handles.get(client_order_id)
        if handle is None:
            if VERSION >= (1, 1, 0):
                return client_order_id  # 1.1+ cancels by client order id
            raise KeyError(f"unknown client_order_id {client_order_id!r} in this session")
        return handle

    async def op_cancel(self, session: str = "s1", client_order_id: str = "") -> dict[str, Any]:
        s = self._s(session)
        await self._call(s.client.cancel_order(self._handle(s, client_order_id)))
        return {}

    async def op_amend(
        self, session: str = "s1", client_order_id: str = "", qty: int | None = None, price: str | None = None
    ) -> dict[str, Any]:
        s = self._s(session)
        if not HAS_AMEND:
            raise self.Unsupported("order.amend", f"refclient {refclient.__version__} has no amend")
        await self._call(s.client.amend_order(self._handle(s, client_order_id), qty=qty, price=self._price_in(price)))
        return {}

    async def op_mass_cancel(
        self, session: str = "s1", symbol: str | None = None, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """``timeout_s``: the client's own wait for the gateway's answer (every release's
        ``mass_cancel(timeout=...)``, 5 s by default)."""
        s = self._s(session)
        if not HAS_MASS:
            raise self.Unsupported("order.masscancel", f"refclient {refclient.__version__} has no mass cancel")
        kwargs: dict[str, Any] = {} if timeout_s is None else {"timeout": float(timeout_s)}
        await self._call(s.client.mass_cancel(symbol or "", **kwargs))
        return {}

    # ------------------------------------------------------------------ events
    async def op_next_event(
        self,
        session: str = "s1",
        kinds: list[str] | None = None,
        client_order_id: str | None = None,
        timeout_s: float = 5.0,
    ) -> dict[str, Any]:
        s = self._s(session)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            self._pull(s)
            for i, ev in enumerate(s.buffer):
                out = self._event(s, ev)
                if kinds and out["kind"] not in kinds:
                    continue
                if client_order_id and out["client_order_id"] != client_order_id:
                    continue
                del s.buffer[i]
                return {"event": out}
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise Timeout(f"no event kinds={kinds} client_order_id={client_order_id} within {timeout_s}s")
            try:
                event = await s.client.next_event(timeout=remaining)
            except TimeoutError:
                continue
            s.buffer.append(event)
            s.delivered.append(event)

    async def op_drain_events(self, session: str = "s1") -> dict[str, Any]:
        s = self._s(session)
        self._pull(s)
        events = [self._event(s, ev) for ev in s.buffer]
        s.buffer.clear()
        return {"events": events}

    async def op_delivered_events(
        self, session: str = "s1", since: int = 0, count_only: bool = False
    ) -> dict[str, Any]:
        """Every event the client library has delivered to this session's application since it
        connected (pending ones are taken now), whether the scenario read them or not, from
        index ``since``: what compat's invariant oracle reconciles with the exchange."""
        s = self._s(session)
        self._pull(s)
        count = len(s.delivered)
        if count_only:
            return {"count": count}
        events = [self._event(s, ev) for ev in s.delivered[since:]]
        return {"events": events, "count": count, "resume_gaps": s.resume_gaps}

    # ------------------------------------------------------------------ market data
    async def op_subscribe(self, session: str = "s1", symbol: str = "", depth: int = 10) -> dict[str, Any]:
        s = self._s(session)
        if HAS_BOOK:
            await self._call(s.client.subscribe_book(symbol, depth=depth))
        else:
            await s.client.subscribe(symbol)
        return {}

    async def op_book(self, session: str = "s1", symbol: str = "") -> dict[str, Any]:
        s = self._s(session)
        view = self._book_view(s, symbol)
        view.pop("gaps", None)
        view.pop("resyncs", None)
        return view

    def _book_view(self, s: _Session, symbol: str) -> dict[str, Any]:
        if HAS_BOOK:
            try:
                book = s.client.book(symbol)
            except KeyError:
                return {"seq": 0, "bids": [], "asks": [], "gaps": 0, "resyncs": 0}
            return {
                "seq": book.seq,
                "bids": [[str(p), q] for p, q in book.bids],
                "asks": [[str(p), q] for p, q in book.asks],
                "gaps": book.resyncs,
                "resyncs": book.resyncs,
            }
        view: dict[str, Any] = {**self._top_view(s, symbol), "gaps": 0, "resyncs": 0}
        return view

    def _top_view(self, s: _Session, symbol: str) -> dict[str, Any]:
        top = s.client.tops.get(symbol)
        if top is None:
            return {"seq": 0, "bids": [], "asks": []}
        bids = [[self._price_out(s, symbol, top.bid_price), top.bid_qty]] if top.bid_qty else []
        asks = [[self._price_out(s, symbol, top.ask_price), top.ask_qty]] if top.ask_qty else []
        return {"seq": top.updates, "bids": bids, "asks": asks, "top_of_book_only": True}

    async def op_wait_book(
        self,
        session: str = "s1",
        symbol: str = "",
        bids: list[list[Any]] | None = None,
        asks: list[list[Any]] | None = None,
        timeout_s: float = 5.0,
    ) -> dict[str, Any]:
        """Wait until the local book equals the target levels ([[price, qty], ...], best first)."""
        s = self._s(session)

        def norm(levels: list[list[Any]] | None) -> list[tuple[Decimal, int]]:
            return [(Decimal(str(p)), int(q)) for p, q in (levels or [])]

        want = (norm(bids), norm(asks))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            view = self._book_view(s, symbol)
            if (norm(view["bids"]), norm(view["asks"])) == want:
                return view
            if loop.time() >= deadline:
                raise Timeout(f"book of {symbol} did not reach bids={bids} asks={asks} in {timeout_s}s; last {view}")
            await asyncio.sleep(0.005)  # the book is fed by the client's reader task

    async def op_insert_burst(
        self,
        session: str = "s1",
        symbol: str = "",
        side: str = "BUY",
        count: int = 1,
        qty: int = 1,
        prices: list[str] | None = None,
        subscribe_session: str | None = None,
        subscribe_after: int | None = None,
    ) -> dict[str, Any]:
        """Send ``count`` GTC limit orders back to back (tasks start in order, acks awaited after)."""
        s = self._s(session)
        price_list = prices or ["1.00"]
        side_value = getattr(refclient.Side, side)
        tasks: list[asyncio.Task[Any]] = []
        subscribed = False
        for i in range(count):
            if subscribe_session and subscribe_after is not None and i == subscribe_after:
                tasks.append(asyncio.ensure_future(self.op_subscribe(subscribe_session, symbol)))
                subscribed = True
            kwargs: dict[str, Any] = {"qty": qty, "price": self._price_in(price_list[i % len(price_list)])}
            tasks.append(asyncio.ensure_future(s.client.insert_order(symbol, side_value, **kwargs)))
        if subscribe_session and not subscribed:
            tasks.append(asyncio.ensure_future(self.op_subscribe(subscribe_session, symbol)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        raised = [r for r in results if isinstance(r, BaseException)]
        # The first few failures in the shape the driver gives any error (type, message, codes),
        # for clients that raise a reject from insert instead of delivering an event.
        failures = [{"type": type(r).__name__, "message": str(r),
                     **{a: _plain(getattr(r, a)) for a in ("code", "raw_code") if getattr(r, a, None) is not None}}
                    for r in raised[:5]]
        return {"sent": count, "errors": [repr(r) for r in raised[:5]], "error_count": len(raised),
                "failures": failures}

    async def op_reset(self) -> dict[str, Any]:
        """Disconnect every session of this driver."""
        for s in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await s.client.close()
        self.sessions.clear()
        return {}

    async def op_wire_log(self, session: str = "s1") -> dict[str, Any]:
        s = self._s(session)
        return {"frames": list(s.wire)}

    # ------------------------------------------------------------------ load
    async def op_run_load_plan(
        self, session: str = "s1", plan: dict[str, Any] | None = None, sessions: list[str] | None = None
    ) -> dict[str, Any]:
        """Open-loop load through the driver's ``loadplan`` runner (docs/bench.md)."""
        import importlib

        loadplan = importlib.import_module("loadplan")
        plan = dict(plan or {})
        order = dict(plan.get("order") or {})
        symbol = str(order.get("symbol", "ABC"))
        side = getattr(refclient.Side, str(order.get("side", "BUY")))
        qty = int(order.get("qty", 1))
        price = self._price_in(str(order.get("price", "1.00")))
        clients = [self._s(name).client for name in (sessions or [session])]
        prefix = f"L{time.time_ns() % 10**9:x}-"
        kwargs: dict[str, Any] = {}
        tif = order.get("tif")
        if tif and HAS_TIF:
            kwargs["tif"] = getattr(vars(refclient)["TIF"], str(tif))
        elif tif and tif != "GTC":
            raise self.Unsupported(f"tif.{str(tif).lower()}", f"refclient {refclient.__version__} sends no TIF")

        # bench: the scale point spreads orders over many instruments (plan order "symbols").
        symbols = [str(name) for name in order.get("symbols") or [symbol]]
        # bench --upgrade: survive a gateway swap (resume the session, resend the same order).
        resume = _LoadResume(clients, float(order.get("reconnect_timeout_s", 30.0))) if order.get("reconnect") else None
        if resume is not None and not HAS_RESUME:
            raise self.Unsupported("session.resume", f"refclient {refclient.__version__} cannot resume a session")

        if HAS_SEND_ORDER and resume is None:
            # The load plan's hot path: the library's own future, read-time stamped by the
            # library, converted after the run (loadplan's ``outcome``): nothing per order here
            # beyond building the call. client_order_id exists on every send_order client.
            count = len(clients)
            symbol_count = len(symbols)

            def send(i: int) -> Any:
                return clients[i % count].send_order(
                    symbols[i % symbol_count], side, qty, price, client_order_id=f"{prefix}{i}", timeout=None, **kwargs
                )

            return await self._run_load(loadplan, plan, clients, send, _order_outcome, None)

        async def submit(i: int) -> tuple[str, int, int, int]:
            number = i % len(clients)
            client = clients[number]
            sent_ns = time.perf_counter_ns()
            extra = dict(kwargs)
            if VERSION >= (1, 1, 0):
                extra["client_order_id"] = f"{prefix}{i}"
            while True:
                if resume is not None:
                    # Never write on a connection whose resume logon is still pending.
                    await resume.settled(number)
                generation = resume.generations[number] if resume is not None else 0
                try:
                    await client.insert_order(symbols[i % len(symbols)], side, qty=qty, price=price, **extra)
                except Exception as exc:
                    if type(exc).__name__ in ("OrderRejected", "Throttled"):
                        return ("rejected", time.perf_counter_ns(), 0, sent_ns)
                    if resume is None or type(exc).__name__ != "SessionLost":
                        raise
                    # The same client_order_id again: a gateway that already has the order
                    # answers with it (duplicate), so nothing is sent twice.
                    await resume.recover(number, generation)
                    continue
                ack_ns = time.perf_counter_ns()
                if resume is not None and generation:
                    resume.acked(number, generation, ack_ns)
                return ("ack", ack_ns, 0, sent_ns)

        return await self._run_load(loadplan, plan, clients, submit, None, resume)

    async def _run_load(
        self, loadplan: Any, plan: dict[str, Any], clients: list[Any], submit: Any, outcome: Any, resume: Any
    ) -> dict[str, Any]:
        # bench: the wire-log hook turns every frame into a dict (~15% of the client's CPU under
        # load, measured with py-spy); it is a debugging aid, so it is off while measuring.
        hooks = [getattr(client, "wire_hook", None) for client in clients]
        for client in clients:
            if hasattr(client, "wire_hook"):
                client.wire_hook = None
        try:
            result: dict[str, Any] = await loadplan.run_load_plan(
                plan, submit, session_counts=lambda: {"gaps": 0, "duplicates": 0}, outcome=outcome
            )
            if resume is not None:
                result["reconnect"] = resume.report()
        finally:
            for client, hook in zip(clients, hooks, strict=True):
                if hasattr(client, "wire_hook"):
                    client.wire_hook = hook
                client.drain_events()  # every ack was also queued as an event: measured, dropped
        return result

    async def close(self) -> None:
        for s in self.sessions.values():
            with contextlib.suppress(Exception):
                await s.client.close()


def _order_outcome(value: Any) -> tuple[str, int]:
    """A send_order future's result or exception, as the load plan's (status, ack_ns)."""
    if isinstance(value, refclient.OrderRejected):  # Throttled is one too
        return ("rejected", value.received_ns)
    if isinstance(value, BaseException):
        raise value
    return ("ack", value.received_ns)


def _plain(value: Any) -> Any:
    """A JSON-able scalar: enums and other objects become their text."""
    return value if isinstance(value, int | float | str | bool) else str(value)
