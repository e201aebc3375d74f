"""A userspace TCP fault proxy, in the spirit of Shopify's toxiproxy.

``FaultProxy(upstream=(host, port))`` listens on 127.0.0.1:0; clients connect to
``proxy.address`` and every connection is relayed to the upstream. While it runs, a scenario
switches faults ("toxics") per direction: ``upstream`` is client → server, ``downstream``
server → client, ``both`` is both.

=====================  =========================================================================
``latency(ms, jitter)``  every chunk is delivered ``ms ± jitter`` after it was read; order kept,
                         jitter deterministic from the proxy's ``seed``
``busy(us)``            every chunk is held by a busy wait until the proxy's thread has spent
                         ``us`` microseconds of CPU on it: exactly that CPU per chunk, and at
                         least that much delay (more while the thread waits for a core). A
                         timer could not: the loop's epoll waits whole milliseconds. The
                         benchmark's calibration injects a known cost per order with it
``bandwidth(bps)``      at most ``bps`` bytes per second
``dribble(delay_ms)``   one byte per write, ``delay_ms`` apart (fragmented frames)
``drop_after(n)``       forward ``n`` more bytes on each connection, then close it
``black_hole()``        read and discard everything; the connection stays open
``reset()``             send RST on every live connection now (SO_LINGER 0)
``cut()`` / ``heal()``  a partition: nothing moves and new connections wait; nothing is lost
``pause_downstream()``  stop reading from the server (a client that stops reading): the
                         server's send buffer fills; ``resume_downstream()`` reads again
``drop_next_frame(p)``  drop the next length-prefixed frame whose (type, payload) matches ``p``
``clear()``             remove every toxic and heal
=====================  =========================================================================

Why a thread with its own asyncio loop rather than a separate process: control calls are
plain method calls that take effect for the very next chunk (no control protocol, no
races between "switch the fault" and "send the order"), frame predicates are ordinary
Python callables, and there is nothing extra to start, stop or leak. The cost is sharing
the GIL with the test process, which is fine for fault scenarios; the latency benchmark
does not route through the proxy.

Frames are ``LENGTH u32 BE | TYPE u32 BE | payload`` with LENGTH counting TYPE and payload
(docs/exchange-protocol.md). Frame boundaries are *observed* without holding bytes back, so
an unframed stream passes through untouched; bytes are buffered by whole frames only while
a ``drop_next_frame`` rule is pending in that direction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Literal

from compat import timing
from compat.errors import ConfigError, HarnessError

logger = logging.getLogger("compat.harness")

Direction = Literal["upstream", "downstream"]
DirectionArg = Literal["upstream", "downstream", "both"]
FramePredicate = Callable[[int, bytes], bool]  # (frame type, payload) -> drop it?

_DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream")
_READ_SIZE = 65536
_MAX_HELD_FRAME = 16 * 1024 * 1024  # the protocol's limit is 1 MiB; anything bigger is not a frame
_QUEUE_CHUNKS = 64  # per direction; beyond it the reader waits, so a slow toxic backpressures


@dataclass(frozen=True)
class Toxics:
    """The faults of one direction. Replaced as a whole on every change (read lock-free)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    busy_us: float = 0.0
    bandwidth_bps: int | None = None
    dribble_delay_ms: float | None = None
    drop_after_bytes: int | None = None
    drop_after_generation: int = 0  # bumps on every drop_after(): counting restarts then
    black_hole: bool = False

    def describe(self) -> str:
        parts = []
        if self.latency_ms or self.jitter_ms:
            parts.append(f"latency {self.latency_ms:g}ms ± {self.jitter_ms:g}ms")
        if self.busy_us:
            parts.append(f"busy {self.busy_us:g}us per chunk")
        if self.bandwidth_bps is not None:
            parts.append(f"bandwidth {self.bandwidth_bps} B/s")
        if self.dribble_delay_ms is not None:
            parts.append(f"dribble 1 byte per {self.dribble_delay_ms:g}ms")
        if self.drop_after_bytes is not None:
            parts.append(f"close after {self.drop_after_bytes} bytes")
        if self.black_hole:
            parts.append("black hole")
        return ", ".join(parts) or "none"


class FrameDrop:
    """A pending (then fulfilled) ``drop_next_frame`` rule. ``wait()`` until it dropped one."""

    def __init__(self, predicate: FramePredicate, direction: Direction) -> None:
        self.predicate = predicate
        self.direction = direction
        self.frame_type: int | None = None
        self.payload: bytes | None = None
        self._done = threading.Event()

    @property
    def dropped(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout_s: float) -> bool:
        """True once a matching frame was dropped; False if none came within ``timeout_s``."""
        return self._done.wait(timeout_s)

    def _fulfil(self, frame_type: int, payload: bytes) -> None:
        self.frame_type = frame_type
        self.payload = payload
        self._done.set()


class FrameFilter:
    """Tracks length-prefixed frame boundaries in one byte stream and drops matching frames.

    ``feed(data)`` returns the bytes to forward. With no rule pending, bytes pass straight
    through while the filter only counts where frames begin and end. With a rule pending,
    bytes from the next frame boundary on are held until each frame is complete, then the
    frame is forwarded or, if it matches, dropped (once per rule).
    """

    def __init__(
        self, take_rule: Callable[[int, bytes], FrameDrop | None], has_rules: Callable[[], bool]
    ) -> None:
        self._take_rule = take_rule
        self._has_rules = has_rules
        self._header = bytearray()  # length bytes of the current frame seen so far (pass-through)
        self._remaining = 0  # bytes of the current frame still to pass through
        self._held = bytearray()  # whole-frame buffering, from a boundary, while rules are pending

    def _at_boundary(self) -> bool:
        return self._remaining == 0 and not self._header

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        i = 0
        n = len(data)
        while i < n or self._held:
            if self._held or (self._at_boundary() and self._has_rules()):
                self._held += data[i:]
                i = n
                if not self._release_frames(out):
                    break  # a partial frame is held; wait for more bytes
                continue
            if i >= n:
                break
            if self._remaining:
                take = min(self._remaining, n - i)
                out += data[i : i + take]
                i += take
                self._remaining -= take
                continue
            take = min(4 - len(self._header), n - i)
            self._header += data[i : i + take]
            out += data[i : i + take]
            i += take
            if len(self._header) == 4:
                self._remaining = int.from_bytes(self._header, "big")
                self._header.clear()
        return bytes(out)

    def _release_frames(self, out: bytearray) -> bool:
        """Forward or drop complete held frames. True when the hold has been lifted."""
        while len(self._held) >= 4:
            total = 4 + int.from_bytes(self._held[:4], "big")
            if total > _MAX_HELD_FRAME:
                # Not a frame we could hold (or not a framed stream at all): never stall it.
                logger.warning("proxy: %d-byte frame is too large to inspect; passing it through", total)
                rest = bytes(self._held)
                self._held.clear()
                self._remaining = total
                out += self.feed(rest)
                return True
            if len(self._held) < total:
                return False
            frame = bytes(self._held[:total])
            del self._held[:total]
            frame_type = int.from_bytes(frame[4:8], "big") if total >= 8 else -1
            rule = self._take_rule(frame_type, frame[8:])
            if rule is None:
                out += frame
            if not self._has_rules():
                # No rule left: hand the rest back to pass-through (it starts at a boundary).
                rest = bytes(self._held)
                self._held.clear()
                out += self.feed(rest)
                return True
        return not self._held

    def flush(self) -> bytes:
        """At EOF: whatever is held (an incomplete frame) goes through unchanged."""
        rest = bytes(self._held)
        self._held.clear()
        return rest


@dataclass(eq=False)  # identity semantics: kept in a set
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]

    def close(self) -> None:
        self.closed = True
        for writer in self.writers():
            with contextlib.suppress(Exception):
                writer.close()

    def reset(self) -> None:
        """RST both sockets: linger 0, then abort (no FIN, unsent data discarded)."""
        self.closed = True
        for writer in self.writers():
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    """A TCP relay with runtime-switchable faults. Thread-safe control; ``close()`` ends it."""

    def __init__(
        self,
        upstream: tuple[str, int] | None,
        *,
        name: str = "proxy",
        seed: int = 0,
        listen_host: str = "127.0.0.1",
        start_timeout_s: float = 5.0,
        recv_buffer: int | None = None,
    ) -> None:
        """``recv_buffer``: SO_RCVBUF of the sockets to the server, set before connecting so the
        window the server sees is small from the start (a small-window client: with
        pause_downstream() the server's writes back up after a few KiB, not a few MiB).

        ``upstream=None``: the server is not up yet. The proxy listens all the same, and holds
        every connection it accepts (nothing is read or lost) until ``set_upstream`` names the
        server: a client can start before its server reported ready (the stack starts the
        gateway while the exchange starts)."""
        self.name = name
        self._recv_buffer = recv_buffer
        self._upstream = None if upstream is None else (upstream[0], int(upstream[1]))
        self._lock = threading.Lock()
        self._toxics: dict[Direction, Toxics] = {d: Toxics() for d in _DIRECTIONS}
        # What clear() returns to: a run-wide link condition (e.g. --compat-link-delay) that
        # outlives each scenario's own faults.
        self._baseline: dict[Direction, Toxics] = dict(self._toxics)
        self._rules: dict[Direction, list[FrameDrop]] = {d: [] for d in _DIRECTIONS}
        self._rng = random.Random(seed)
        self._connections: set[_Connection] = set()  # touched on the loop thread only
        self._bytes: dict[Direction, int] = dict.fromkeys(_DIRECTIONS, 0)
        self._accepted = 0
        self._faults = 0  # fault calls so far (toxics, frame drops, cuts, pauses, resets)
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._healed = asyncio.Event()  # created here, used only on the loop thread
        self._healed.set()
        self._upstream_known = asyncio.Event()  # set once there is an upstream (loop thread only)
        if self._upstream is not None:
            self._upstream_known.set()
        # Set while bytes from the server are read; cleared by pause_downstream().
        self._downstream_flowing = asyncio.Event()
        self._downstream_flowing.set()
        self._server: asyncio.base_events.Server | None = None
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._accept, listen_host, 0, reuse_address=True)
                )
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._finish_tasks()
            self._loop.close()

        self._thread = threading.Thread(target=serve, name=f"compat-proxy-{name}", daemon=True)
        self._thread.start()
        if not started.wait(start_timeout_s) or failure:
            reason = failure[0] if failure else f"no listening socket within {start_timeout_s:.1f}s"
            raise HarnessError(f"fault proxy {name} could not listen on {listen_host}:0: {reason}")
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address: tuple[str, int] = (host, port)
        where = "not yet known (connections are held)" if self._upstream is None else \
            f"{self._upstream[0]}:{self._upstream[1]}"
        logger.info("proxy %s: listening on %s:%d, upstream %s", name, host, port, where)

    # -- control (any thread) ---------------------------------------------------------------

    @property
    def upstream(self) -> tuple[str, int] | None:
        """Where new connections go; None until the proxy made without one is given one."""
        with self._lock:
            return self._upstream

    def set_upstream(self, upstream: tuple[str, int]) -> None:
        """New connections go to ``upstream``; live ones stay where they are. Connections held
        while there was none (``upstream=None``) go there now."""
        with self._lock:
            first = self._upstream is None
            self._upstream = (upstream[0], int(upstream[1]))
        logger.info("proxy %s: upstream is now %s:%d", self.name, *self._upstream)
        if first:
            self._call(self._know_upstream(), 5.0)

    def toxics(self, direction: Direction) -> Toxics:
        with self._lock:
            return self._toxics[direction]

    def _update(self, direction: DirectionArg, **changes: object) -> None:
        directions = _DIRECTIONS if direction == "both" else (direction,)
        if any(d not in _DIRECTIONS for d in directions):
            raise ConfigError(f"proxy direction {direction!r}: use 'upstream', 'downstream' or 'both'")
        with self._lock:
            self._faults += 1
            for d in directions:
                self._toxics[d] = replace(self._toxics[d], **changes)  # type: ignore[arg-type]
                logger.info("proxy %s: %s toxics now: %s", self.name, d, self._toxics[d].describe())

    def latency(self, ms: float, jitter_ms: float = 0.0, direction: DirectionArg = "both") -> None:
        if ms < 0 or jitter_ms < 0:
            raise ConfigError(f"proxy latency {ms}ms ± {jitter_ms}ms: both must be >= 0")
        self._update(direction, latency_ms=float(ms), jitter_ms=float(jitter_ms))

    def busy(self, us: float, direction: DirectionArg = "upstream") -> None:
        """Hold every chunk ``us`` microseconds by a busy wait (0 stops): a known cost per message."""
        if us < 0:
            raise ConfigError(f"proxy busy {us}us: must be >= 0")
        self._update(direction, busy_us=float(us))

    def bandwidth(self, bytes_per_s: int | None, direction: DirectionArg = "both") -> None:
        """Limit throughput; None lifts the limit."""
        if bytes_per_s is not None and bytes_per_s <= 0:
            raise ConfigError(f"proxy bandwidth {bytes_per_s} B/s: must be > 0 (None for unlimited)")
        self._update(direction, bandwidth_bps=bytes_per_s)

    def dribble(self, delay_ms: float | None = 1.0, direction: DirectionArg = "both") -> None:
        """One byte per write, ``delay_ms`` apart; None stops dribbling."""
        self._update(direction, dribble_delay_ms=delay_ms)

    def drop_after(self, n_bytes: int | None, direction: DirectionArg = "downstream") -> None:
        """Each connection forwards ``n_bytes`` more bytes this way, then is closed."""
        if n_bytes is not None and n_bytes < 0:
            raise ConfigError(f"proxy drop_after {n_bytes}: must be >= 0")
        with self._lock:
            generation = max(t.drop_after_generation for t in self._toxics.values()) + 1
        self._update(direction, drop_after_bytes=n_bytes, drop_after_generation=generation)

    def black_hole(self, enabled: bool = True, direction: DirectionArg = "both") -> None:
        self._update(direction, black_hole=enabled)

    def drop_next_frame(self, predicate: FramePredicate, direction: Direction = "downstream") -> FrameDrop:
        """Drop the next frame (on any connection) for which ``predicate(type, payload)`` holds."""
        if direction not in _DIRECTIONS:
            raise ConfigError(f"drop_next_frame direction {direction!r}: use 'upstream' or 'downstream'")
        rule = FrameDrop(predicate, direction)
        with self._lock:
            self._faults += 1
            self._rules[direction].append(rule)
        logger.info("proxy %s: will drop the next matching %s frame", self.name, direction)
        return rule

    def cut(self) -> None:
        """Partition: stop moving bytes both ways and hold new connections, until heal()."""
        logger.info("proxy %s: cut (partition)", self.name)
        with self._lock:
            self._faults += 1
        self._call(self._set_healed(False), 5.0)

    def heal(self) -> None:
        logger.info("proxy %s: healed", self.name)
        self._call(self._set_healed(True), 5.0)

    def pause_downstream(self) -> None:
        """A consumer that stops reading: nothing more is read from the server side of any
        connection (live or new) until resume_downstream(), so the server's socket send buffer
        fills and its writes queue up. Bytes already read are still delivered."""
        logger.info("proxy %s: downstream paused (not reading from the server)", self.name)
        with self._lock:
            self._faults += 1
        self._call(self._set_downstream_flowing(False), 5.0)

    def resume_downstream(self) -> None:
        logger.info("proxy %s: downstream resumed", self.name)
        self._call(self._set_downstream_flowing(True), 5.0)

    def reset(self, timeout_s: float = 5.0) -> int:
        """RST every live connection now; returns how many were reset."""
        with self._lock:
            self._faults += 1
        count: int = self._call(self._reset_all(), timeout_s)
        logger.info("proxy %s: reset %d connection(s)", self.name, count)
        return count

    def set_baseline(self, latency_ms: float = 0.0, jitter_ms: float = 0.0) -> None:
        """The link's standing condition: applied now, and what ``clear()`` returns to."""
        self.latency(latency_ms, jitter_ms)
        with self._lock:
            self._baseline = {d: Toxics(latency_ms=float(latency_ms), jitter_ms=float(jitter_ms))
                              for d in _DIRECTIONS}

    def clear(self) -> None:
        """Remove every toxic and pending frame rule (back to the baseline), and heal a cut."""
        with self._lock:
            generation = max(t.drop_after_generation for t in self._toxics.values()) + 1
            self._toxics = {d: replace(self._baseline[d], drop_after_generation=generation) for d in _DIRECTIONS}
            self._rules = {d: [] for d in _DIRECTIONS}
        logger.info("proxy %s: cleared toxics back to the baseline (%s)", self.name,
                    self._baseline["upstream"].describe())
        if not self._closed:
            self.heal()
            self._call(self._set_downstream_flowing(True), 5.0)

    @property
    def faults_injected(self) -> int:
        """How many faults were asked of this proxy so far (toxics, baselines included, frame
        drops, cuts, downstream pauses, resets): a count that changed means its link was disturbed."""
        with self._lock:
            return self._faults

    def stats(self) -> dict[str, int]:
        """Bytes forwarded per direction and connections accepted so far."""
        with self._lock:
            counts: dict[str, int] = {str(d): n for d, n in self._bytes.items()}
            counts["accepted"] = self._accepted
            return counts

    def connection_count(self, timeout_s: float = 5.0) -> int:
        count: int = self._call(self._count(), timeout_s)
        return count

    def close(self) -> None:
        """Stop listening, drop every connection, end the loop thread. Safe to call twice."""
        if self._closed:
            return
        with contextlib.suppress(Exception):
            self._call(self._shutdown(), 5.0)
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        logger.info("proxy %s: closed", self.name)

    @property
    def running(self) -> bool:
        """True while the relay's loop thread is alive (False once close() ended it)."""
        return self._thread.is_alive()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _finish_tasks(self) -> None:
        """On the loop thread, after the loop stopped: let every connection task end (as
        asyncio.run does), so closing never leaves "Task was destroyed but it is pending"."""
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.wait(pending, timeout=5.0))

    def _call(self, coro: Coroutine[object, object, int], timeout_s: float) -> int:
        """Run ``coro`` on the loop thread and wait for it, so its effect is in place on return."""
        if self._closed:
            coro.close()
            raise HarnessError(f"fault proxy {self.name} is closed; start a new one")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise HarnessError(f"fault proxy {self.name} did not answer within {timeout_s:.1f}s") from None

    # -- the relay (loop thread) ------------------------------------------------------------

    async def _know_upstream(self) -> int:
        self._upstream_known.set()
        return 0

    async def _set_healed(self, healed: bool) -> int:
        if healed:
            self._healed.set()
        else:
            self._healed.clear()
        return 0

    async def _set_downstream_flowing(self, flowing: bool) -> int:
        # The pump stops calling read(), and the socket stops being read at all, so the kernel's
        # receive buffer (not the StreamReader's 128 KiB) is all that absorbs the server's bytes.
        for conn in self._connections:
            transport = conn.upstream.transport if conn.upstream is not None else None
            if transport is None or transport.is_closing():
                continue
            with contextlib.suppress(Exception):
                if flowing:
                    transport.resume_reading()  # type: ignore[attr-defined]
                else:
                    transport.pause_reading()  # type: ignore[attr-defined]
        if flowing:
            self._downstream_flowing.set()
        else:
            self._downstream_flowing.clear()
        return 0

    async def _connect_upstream(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._recv_buffer is None:
            return await asyncio.open_connection(host, port)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._recv_buffer)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    async def _count(self) -> int:
        return len(self._connections)

    async def _reset_all(self) -> int:
        connections = list(self._connections)
        for conn in connections:
            conn.reset()
            self._connections.discard(conn)
        return len(connections)

    async def _shutdown(self) -> int:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.reset()
        for conn in list(self._connections):
            for task in conn.tasks:
                task.cancel()
        return 0

    def _take_rule(self, direction: Direction) -> Callable[[int, bytes], FrameDrop | None]:
        def take(frame_type: int, payload: bytes) -> FrameDrop | None:
            with self._lock:
                for rule in self._rules[direction]:
                    if rule.predicate(frame_type, payload):
                        self._rules[direction].remove(rule)
                        break
                else:
                    return None
            rule._fulfil(frame_type, payload)
            logger.info("proxy %s: dropped a %s frame of type %d", self.name, direction, frame_type)
            return rule

        return take

    def _has_rules(self, direction: Direction) -> Callable[[], bool]:
        return lambda: bool(self._rules[direction])

    def _accept(self, client_reader: asyncio.StreamReader,
                client_writer: asyncio.StreamWriter) -> Coroutine[object, object, None]:
        """A new connection, known to the proxy at once (in the protocol's ``connection_made``,
        before its task first runs), so close() resets it even if the task never got to run;
        a connection held for its upstream may still be waiting when the proxy closes."""
        conn = _Connection(client_writer)
        self._connections.add(conn)
        with self._lock:
            self._accepted += 1
        return self._handle(conn, client_reader)

    async def _handle(self, conn: _Connection, client_reader: asyncio.StreamReader) -> None:
        client_writer = conn.client
        try:
            await self._upstream_known.wait()  # a proxy made before its server is up holds them
            await self._healed.wait()  # a partition holds new connections too
            upstream = self.upstream
            assert upstream is not None  # known: _upstream_known is set
            host, port = upstream
            try:
                upstream_reader, upstream_writer = await self._connect_upstream(host, port)
            except OSError as exc:
                logger.warning(
                    "proxy %s: upstream %s:%d refused: %s; closing client", self.name, host, port, exc
                )
                return
            conn.upstream = upstream_writer
            conn.tasks = [
                asyncio.create_task(self._pump(conn, client_reader, upstream_writer, "upstream")),
                asyncio.create_task(self._pump(conn, upstream_reader, client_writer, "downstream")),
            ]
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        except asyncio.CancelledError:
            # Only close() cancels this, the connection's outermost task. Ending normally keeps
            # asyncio's stream callback (3.11) from logging the cancellation as an error.
            return
        finally:
            conn.close()
            self._connections.discard(conn)

    async def _pump(
        self,
        conn: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: Direction,
    ) -> None:
        """Read one direction, apply the read-side toxics, queue chunks for the writer."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        writer_task = asyncio.create_task(self._deliver(conn, queue, writer, direction))
        frames = FrameFilter(self._take_rule(direction), self._has_rules(direction))
        sent = 0
        generation = -1
        last_due = 0.0
        try:
            while not conn.closed:
                await self._healed.wait()
                if direction == "downstream":
                    await self._downstream_flowing.wait()
                try:
                    data = await reader.read(_READ_SIZE)
                except (ConnectionError, OSError):
                    break
                if not data:
                    tail = frames.flush()
                    if tail:
                        await queue.put((last_due, tail))
                    break
                await self._healed.wait()
                toxics = self.toxics(direction)
                if toxics.black_hole:
                    continue
                data = frames.feed(data)
                if not data:
                    continue
                if toxics.busy_us:
                    _busy_wait(toxics.busy_us)
                close_after = False
                if toxics.drop_after_bytes is not None:
                    if toxics.drop_after_generation != generation:
                        generation, sent = toxics.drop_after_generation, 0
                    allowed = max(0, toxics.drop_after_bytes - sent)
                    if len(data) >= allowed:
                        data, close_after = data[:allowed], True
                    sent += len(data)
                due = timing.monotonic() + self._delay_s(toxics)
                last_due = max(due, last_due)  # jitter never reorders bytes
                if data:
                    await queue.put((last_due, data))
                if close_after:
                    await queue.put(None)
                    await writer_task
                    logger.info(
                        "proxy %s: %s reached drop_after; closing the connection", self.name, direction
                    )
                    conn.close()
                    return
        finally:
            if not writer_task.done():
                await queue.put(None)
                with contextlib.suppress(Exception):
                    await writer_task
        # EOF this way: pass the half-close on, the other direction keeps flowing.
        if not conn.closed:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()

    def _delay_s(self, toxics: Toxics) -> float:
        if not toxics.latency_ms and not toxics.jitter_ms:
            return 0.0
        with self._lock:
            jitter = self._rng.uniform(-toxics.jitter_ms, toxics.jitter_ms) if toxics.jitter_ms else 0.0
        return max(0.0, toxics.latency_ms + jitter) / 1000.0

    async def _deliver(
        self,
        conn: _Connection,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
        direction: Direction,
    ) -> None:
        """Write queued chunks when due, applying the write-side toxics (bandwidth, dribble)."""
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                wait = due - timing.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._healed.wait()
                toxics = self.toxics(direction)
                if toxics.dribble_delay_ms is not None:
                    for index in range(len(data)):
                        if index:
                            await asyncio.sleep(toxics.dribble_delay_ms / 1000.0)
                        writer.write(data[index : index + 1])
                        await writer.drain()
                elif toxics.bandwidth_bps is not None:
                    step = max(1, toxics.bandwidth_bps // 100)  # ~10ms worth of bytes per write
                    for start in range(0, len(data), step):
                        if start:
                            await asyncio.sleep(step / toxics.bandwidth_bps)
                        writer.write(data[start : start + step])
                        await writer.drain()
                else:
                    writer.write(data)
                    await writer.drain()
                with self._lock:
                    self._bytes[direction] += len(data)
        except (ConnectionError, OSError):
            conn.close()


def _busy_wait(us: float) -> None:
    """Spin until this thread has spent ``us`` microseconds of CPU: a known cost, whatever the load.

    Counted in the thread's own CPU time, not on the wall clock: on a busy machine a spin of
    wall time is preempted and costs less CPU than it says, so the cost would not be known.
    """
    until = time.thread_time_ns() + int(us * 1000)
    while time.thread_time_ns() < until:
        pass
