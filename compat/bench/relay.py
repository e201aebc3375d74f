"""The floor: a minimal relay and echo speaking the gateway's framing, stdlib only.

``client -> relay -> echo -> relay -> client`` over the same loopback path as
``client -> gateway -> ...``, with no work beyond framing, gives the best latency any
gateway could reach on this machine in this run. Every gateway figure is reported as a
ratio to it.

Framing is the gateway protocol's: a 4-byte big-endian length (counting the type), a 4-byte
big-endian message type, then the payload. Both programs reassemble whole frames (so they
pay the same parsing cost a gateway pays at minimum) and forward every complete frame of one
read in a single write.

    python -m compat.bench.relay --mode echo                      # ECHO READY listen=127.0.0.1:PORT
    python -m compat.bench.relay --mode relay --upstream H:PORT   # RELAY READY listen=127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import sys
from typing import cast

_LENGTH = struct.Struct(">I")
MAX_FRAME = 1 << 20  # the gateway protocol's frame cap


class FrameSplitter:
    """Accumulates bytes; ``feed`` returns the bytes of every complete frame so far."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        buffer = self._buffer
        buffer += data
        end = 0
        available = len(buffer)
        while available - end >= 4:
            (length,) = _LENGTH.unpack_from(buffer, end)
            if length < 4 or length > MAX_FRAME:
                raise ValueError(f"bad frame length {length} (must be 4..{MAX_FRAME})")
            if available - end - 4 < length:
                break
            end += 4 + length
        if end == 0:
            return b""
        complete = bytes(buffer[:end])
        del buffer[:end]
        return complete


class _Forward(asyncio.Protocol):
    """Reads frames on one connection and writes them to ``peer`` (itself for echo)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.splitter = FrameSplitter()
        self.on_lost: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only duck-compatible.
        self.transport = cast(asyncio.Transport, transport)
        _nodelay(self.transport)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.splitter.feed(data)
        except ValueError as exc:
            print(f"relay: closing connection: {exc}", file=sys.stderr)
            self._close_both()
            return
        if frames and self.peer is not None:
            self.peer.write(frames)

    def connection_lost(self, exc: Exception | None) -> None:
        self._close_both()

    def _close_both(self) -> None:
        for transport in (self.transport, self.peer):
            if transport is not None and not transport.is_closing():
                transport.close()


class _Echo(_Forward):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.peer = self.transport


class _RelayInbound(_Forward):
    """A client connection; opens its own upstream connection before reading anything."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__()
        self.upstream = upstream

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        outbound = _Forward()
        outbound.peer = self.transport
        try:
            upstream, _ = await loop.create_connection(lambda: outbound, *self.upstream)
        except OSError as exc:
            print(f"relay: cannot reach upstream {self.upstream}: {exc}", file=sys.stderr)
            self._close_both()
            return
        self.peer = upstream
        assert self.transport is not None
        self.transport.resume_reading()


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


async def serve(mode: str, listen: tuple[str, int], upstream: tuple[str, int] | None) -> None:
    loop = asyncio.get_running_loop()
    if mode == "echo":
        server = await loop.create_server(_Echo, *listen)
    else:
        assert upstream is not None
        server = await loop.create_server(lambda: _RelayInbound(upstream), *listen)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"{mode.upper()} READY listen={host}:{port}", flush=True)
    print(f"relay: mode={mode} loop={type(loop).__module__}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.bench.relay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("relay", "echo"), required=True)
    parser.add_argument("--listen", type=_parse_address, default=("127.0.0.1", 0))
    parser.add_argument("--upstream", type=_parse_address, help="HOST:PORT of the echo (relay mode)")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="asyncio",
                        help="event loop; match the gateway's for a fair floor (default asyncio)")
    args = parser.parse_args(argv)
    if args.mode == "relay" and args.upstream is None:
        parser.error("--mode relay needs --upstream HOST:PORT")
    runner = asyncio.run
    if args.loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if args.loop == "uvloop":
                parser.error("--loop uvloop: uvloop is not installed in this Python")
        else:
            runner = uvloop.run
    runner(serve(args.mode, args.listen, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
