"""A record service written against msgpack: the "gateway" of this example.

It is what an application upgraded to the installed msgpack release does with a record: it
unpacks each request with that release's defaults and packs its answer with those defaults
too, never passing ``raw=`` or ``use_bin_type=``. It runs from the gateway's venv (whichever
msgpack that venv holds) and imports nothing but the standard library and msgpack.

Wire: every message is one frame, a 4-byte big-endian length followed by that many bytes of
msgpack. On connect the server sends a greeting ``{"server": "record-echo", "msgpack":
"1.0.8"}``; then each request frame is answered with ``{"echo": <the record as unpacked>}``,
or ``{"error": "<ExceptionType>: <message>"}`` when the request could not be unpacked.

    python echo_server.py --host 127.0.0.1

binds port 0 and prints ``READY 127.0.0.1:<port>`` once it listens (compat's default ready
line). SIGINT or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
from typing import Any

import msgpack

HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 20
MSGPACK_VERSION = ".".join(str(part) for part in msgpack.version)


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def answer(request: bytes) -> Any:
    """The reply to one request: the record echoed back, or what went wrong unpacking it."""
    try:
        record = msgpack.unpackb(request)
    except Exception as exc:  # an application reports a request it cannot read, and goes on
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"echo": record}


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(frame(msgpack.packb({"server": "record-echo", "msgpack": MSGPACK_VERSION})))
    try:
        while True:
            (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
            if size > MAX_FRAME:
                break
            request = await reader.readexactly(size)
            writer.write(frame(msgpack.packb(answer(request))))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away
    finally:
        writer.close()


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(serve_client, host, port)
    bound = server.sockets[0].getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"READY {shown}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
