"""compat's adapter for a client application written against msgpack (any release).

The driver runs this module inside the client's venv, so ``import msgpack`` is whichever release
the cell's client holds. Like the server (echo_server.py), it packs and unpacks with that
release's defaults, as an application upgraded to the release does. What differs between
applications written for 0.x and for 1.x is only how they read a reply: under msgpack < 1.0
every string arrives as ``bytes`` (``raw=True`` was the default), so a 0.x application indexes
maps with byte keys and decodes the fields it knows are text; under 1.x strings arrive as
``str`` and binary data as ``bytes``. The adapter hides nothing else: an exception from
``unpackb`` propagates (a ``fail``), and a field that comes back with another type is handed to
the scenario as it came.

Operations (docs/writing-scenarios.md):

- ``connect(session, host, port, ...)``: open the TCP connection and read the server's greeting;
- ``echo_record(session, sensor, values, payload_hex=None)``: send the record
  ``{"sensor": str, "values": [numbers], "payload": bytes}`` (no payload when ``payload_hex`` is
  None) and return the record the server echoed, as the application reads it, in JSON terms: a
  ``str`` stays a string, ``bytes`` become ``{"bytes": "<hex>"}``;
- ``disconnect(session)``.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgpack

VERSION = tuple(msgpack.version)
LEGACY = VERSION < (1, 0, 0)  # strings unpack as bytes, str and bytes both pack as raw
HEADER = struct.Struct("!I")
TIMEOUT_S = 5.0


class RecordRejected(Exception):
    """The server answered ``{"error": ...}``: it could not unpack what this client sent."""


class NotConnected(Exception):
    """An operation named a session that is not connected."""


def key(name: str) -> str | bytes:
    """A map key as this release's application spells it (byte keys under msgpack < 1.0)."""
    return name.encode("utf-8") if LEGACY else name


def text(value: Any) -> Any:
    """A field the application knows is text: a 0.x application decodes it itself."""
    if LEGACY and isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def as_json(value: Any) -> Any:
    """What the application holds, in terms JSON carries: bytes become ``{"bytes": hex}``."""
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, dict):
        return {str(text(k)): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def receive(self) -> Any:
        header = await asyncio.wait_for(self.reader.readexactly(HEADER.size), TIMEOUT_S)
        (size,) = HEADER.unpack(header)
        body = await asyncio.wait_for(self.reader.readexactly(size), TIMEOUT_S)
        return msgpack.unpackb(body)

    async def request(self, message: Any) -> Any:
        payload = msgpack.packb(message)
        self.writer.write(HEADER.pack(len(payload)) + payload)
        await self.writer.drain()
        return await self.receive()


class Adapter:
    def __init__(self, ctx: dict[str, Any]) -> None:
        self.unsupported = ctx["Unsupported"]
        self.sessions: dict[str, _Connection] = {}

    def _session(self, session: str) -> _Connection:
        connection = self.sessions.get(session)
        if connection is None:
            raise NotConnected(f"session {session!r} is not connected")
        return connection

    async def op_connect(self, session: str = "s1", host: str = "127.0.0.1", port: int = 0,
                         **_: Any) -> dict[str, Any]:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT_S)
        connection = _Connection(reader, writer)
        greeting = await connection.receive()
        self.sessions[session] = connection
        return {
            "negotiated_version": 1,
            "gateway_version": text(greeting[key("msgpack")]),
            "capabilities": [],
            "session_id": session,
            "client_msgpack": ".".join(str(part) for part in VERSION),
        }

    async def op_echo_record(self, session: str, sensor: str, values: list[Any],
                             payload_hex: str | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {"sensor": sensor, "values": values}
        if payload_hex is not None:
            record["payload"] = bytes.fromhex(payload_hex)
        reply = await self._session(session).request(record)
        error = reply.get(key("error"))
        if error is not None:
            raise RecordRejected(text(error))
        echoed = reply[key("echo")]
        result = {
            "sensor": as_json(text(echoed[key("sensor")])),
            "values": as_json(echoed[key("values")]),
        }
        if key("payload") in echoed:
            result["payload"] = as_json(echoed[key("payload")])
        return result

    async def op_disconnect(self, session: str) -> dict[str, Any]:
        connection = self.sessions.pop(session, None)
        if connection is not None:
            connection.writer.close()
        return {}

    async def op_reset(self) -> dict[str, Any]:
        for name in list(self.sessions):
            await self.op_disconnect(name)
        return {}
