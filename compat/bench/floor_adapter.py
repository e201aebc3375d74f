"""The floor's client adapter: loaded by the real driver (``driver.py --adapter THIS``).

Stdlib only. It gives the driver two operations, ``connect`` (one raw TCP connection per
session, to the relay) and ``run_load_plan`` (the same ``loadplan.run_load_plan`` the gateway
adapters call), with a trivial ``submit``: write one frame, resolve when the echo comes back.
So the floor and the gateway are measured by the same driver, runner and histograms.

Frame: 4-byte length (counting the type) + 4-byte type + payload, where the payload starts
with the order index as 8 bytes and is padded to ``payload_size`` (default 64, about the
size of an encoded insert order).
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

FLOOR_MESSAGE_TYPE = 0x0F100001
_HEADER = struct.Struct(">IIQ")  # length, type, order index
_LENGTH = struct.Struct(">I")
_INDEX = struct.Struct(">Q")


def _loadplan(ctx: dict[str, Any]) -> Any:
    """``loadplan`` is a sibling of driver.py; importable as a top-level module inside the driver."""
    driver_dir = str(ctx.get("driver_dir", ""))
    if driver_dir and driver_dir not in sys.path:
        sys.path.insert(0, driver_dir)
    return importlib.import_module("loadplan")


class _EchoReader(asyncio.Protocol):
    """Resolves the waiting future of every echoed frame, timestamped when the read returns."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.buffer = bytearray()
        self.duplicates = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.make_ack: Callable[[int], Any] = lambda now: ("ack", now)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only duck-compatible.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buffer = self.buffer
        buffer += data
        offset = 0
        available = len(buffer)
        while available - offset >= 16:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if available - offset - 4 < length:
                break
            (index,) = _INDEX.unpack_from(buffer, offset + 8)
            future = self.waiting.pop(index, None)
            if future is None:
                self.duplicates += 1
            elif not future.done():
                future.set_result(self.make_ack(now))
            offset += 4 + length
        if offset:
            del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Adapter:
    """Canonical operations over a raw framed connection (no client library at all)."""

    def __init__(self, ctx: dict[str, Any]) -> None:
        self._ctx = ctx
        self._sessions: dict[str, _EchoReader] = {}
        self._payload_size = 64

    async def op_connect(self, session: str = "s1", host: str = "127.0.0.1", port: int = 0,
                         payload_size: int = 64, **_ignored: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        _, reader = await loop.create_connection(_EchoReader, host, int(port))
        self._sessions[session] = reader
        self._payload_size = max(int(payload_size), 8)
        return {"negotiated_version": 0, "gateway_version": "floor", "capabilities": [],
                "session_id": session}

    async def op_run_load_plan(self, session: str = "s1", plan: dict[str, Any] | None = None,
                               sessions: list[str] | None = None) -> dict[str, Any]:
        loadplan = _loadplan(self._ctx)
        names = list(sessions or [session])
        readers = [self._sessions[name] for name in names]
        loop = asyncio.get_running_loop()
        padding = b"\0" * (self._payload_size - 8)
        frame_length = 4 + 8 + len(padding)
        pack = _HEADER.pack
        count = len(readers)
        make_ack = loadplan.AckTimes
        for reader in readers:
            reader.make_ack = lambda now: make_ack("ack", now)
        writers = [reader.transport for reader in readers]

        def submit(index: int) -> Awaitable[Any]:
            slot = index % count
            future: asyncio.Future[Any] = loop.create_future()
            readers[slot].waiting[index] = future
            writer = writers[slot]
            assert writer is not None
            writer.write(pack(frame_length, FLOOR_MESSAGE_TYPE, index) + padding)
            return future

        def session_counts() -> dict[str, int]:
            return {"duplicates": sum(reader.duplicates for reader in readers), "gaps": 0}

        result: dict[str, Any] = await loadplan.run_load_plan(plan or {}, submit,
                                                              session_counts=session_counts)
        return result

    async def op_disconnect(self, session: str = "s1") -> dict[str, Any]:
        reader = self._sessions.pop(session, None)
        if reader is not None and reader.transport is not None:
            reader.transport.close()
        return {}

    async def close(self) -> None:
        for name in list(self._sessions):
            await self.op_disconnect(name)
