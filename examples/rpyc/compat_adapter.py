"""compat's adapter for a client application written against RPyC (any release from 4.0 on).

The driver runs this module inside the client's venv, so ``import rpyc`` is whichever release the
cell's client holds. It uses the API every release since 4.0 shares (``rpyc.connect``,
``connection.root``, ``connection.ping``), so no operation is unsupported. RPyC is blocking:
each operation runs in a worker thread (``asyncio.to_thread``) under a timeout, so a peer that
never answers is a ``Timeout`` error, never a hung driver. Exceptions RPyC raises propagate as
they are (a ``fail``).

Operations (docs/writing-scenarios.md), all taking ``session``:

- ``connect(host, port, ...)``: open the connection (RPyC sends nothing until it is used);
- ``ping()``: RPyC's own echo request, which touches no remote object;
- ``price(sku)``: ``root.price(sku)``, a call on the service → ``{"cents": int}``;
- ``basket(customer, items)``: ``root.open_basket(customer)`` returns a remote object (a
  netref); ``add(sku, qty)`` each ``[sku, qty]`` of ``items`` on it, then read ``total()`` and
  ``lines()`` → ``{"total": int, "lines": [[sku, qty], ...]}``;
- ``server_version()``: the RPyC release of the server;
- ``disconnect()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import rpyc

T = TypeVar("T")
CALL_TIMEOUT_S = 5.0  # RPyC's own sync_request_timeout: how long a call waits for its answer
CLOSE_TIMEOUT_S = 2.0


class Timeout(Exception):
    """The server did not answer within the operation's timeout."""


class NotConnected(Exception):
    """An operation named a session that is not connected."""


def client_version() -> str:
    version: Any = getattr(rpyc, "__version__", None) or rpyc.version.version
    return version if isinstance(version, str) else ".".join(str(part) for part in version)


async def blocking(call: Callable[[], T], what: str, timeout_s: float = CALL_TIMEOUT_S + 1.0) -> T:
    """Run a blocking RPyC call in a worker thread, bounded by ``timeout_s``."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(call), timeout_s)
    except TimeoutError:
        raise Timeout(f"{what}: no answer within {timeout_s:.0f}s") from None


class Adapter:
    def __init__(self, ctx: dict[str, Any]) -> None:
        self.unsupported = ctx["Unsupported"]
        self.sessions: dict[str, Any] = {}  # session name -> rpyc Connection

    def _connection(self, session: str) -> Any:
        connection = self.sessions.get(session)
        if connection is None:
            raise NotConnected(f"session {session!r} is not connected")
        return connection

    async def op_connect(self, session: str = "s1", host: str = "127.0.0.1", port: int = 0,
                         **_: Any) -> dict[str, Any]:
        config = {"sync_request_timeout": CALL_TIMEOUT_S}
        connection = await blocking(lambda: rpyc.connect(host, port, config=config), "connect")
        self.sessions[session] = connection
        return {"negotiated_version": 1, "capabilities": [], "session_id": session,
                "client_rpyc": client_version()}

    async def op_ping(self, session: str) -> dict[str, Any]:
        connection = self._connection(session)
        await blocking(lambda: connection.ping(timeout=CALL_TIMEOUT_S), "ping")
        return {"ok": True}

    async def op_server_version(self, session: str) -> dict[str, Any]:
        connection = self._connection(session)
        return {"version": str(await blocking(lambda: connection.root.server_version(), "server_version"))}

    async def op_price(self, session: str, sku: str) -> dict[str, Any]:
        connection = self._connection(session)
        return {"cents": int(await blocking(lambda: connection.root.price(sku), f"price({sku!r})"))}

    async def op_basket(self, session: str, customer: str, items: list[list[Any]]) -> dict[str, Any]:
        connection = self._connection(session)

        def shop() -> dict[str, Any]:
            basket = connection.root.open_basket(customer)  # a netref: the basket stays in the server
            for sku, qty in items:
                basket.add(sku, qty)
            return {"total": int(basket.total()),
                    "lines": [[str(sku), int(qty)] for sku, qty in basket.lines()]}

        return await blocking(shop, "basket")

    async def op_disconnect(self, session: str) -> dict[str, Any]:
        connection = self.sessions.pop(session, None)
        if connection is not None:
            # A peer that cannot even close cleanly: the socket goes with the driver.
            with contextlib.suppress(Exception):
                await blocking(connection.close, "close", timeout_s=CLOSE_TIMEOUT_S)
        return {}

    async def op_reset(self) -> dict[str, Any]:
        for name in list(self.sessions):
            await self.op_disconnect(name)
        return {}
