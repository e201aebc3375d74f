"""The venue-session base: what every dialect does the same way with its TCP connection.

A :class:`Venue` tracks one dialect's live sessions (for supersede, shutdown and abort). A
:class:`VenueSession` is the asyncio protocol of one connection. It owns the transport (peer
name, the write-buffer guard, close), cuts what arrives into units with the dialect's
decoder and hands each unit to the dialect's ``_on_unit``, attaches the member to the hub at
logon and detaches it when the connection goes. A dialect (``obx``, ``tlx``) supplies its
decoder, ``_on_unit``, ``_send_logout`` and the hub callbacks (``on_member_event``,
``on_trade``, ``on_book_update``, ``on_status``).

The rules all dialects share (docs/exchange-protocol.md §1.3, §2.1): bytes that break the
framing end the session with a Logout naming the reason (after the whole units read before
them are handled); a member that stops reading is cut off once its write buffer passes
``MAX_WRITE_BUFFER``; a second logon of a member logs the first session out (SUPERSEDED).

Heartbeats (docs/exchange-protocol.md §0.3): a session whose logon agreed an interval gets a
timer here, ticking four times per interval, that hands the dialect's ``_on_heartbeat_tick``
how long each side has been silent; what to send and when to give up is the dialect's rule.
A tick that comes more than an interval late means the exchange itself did not run (stopped,
starved): the member's bytes may be waiting unread, so its silence is counted afresh from then.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from compat import timing
from compat.errors import FramingError
from compat.exchange import codes
from compat.exchange.events import BookUpdate, MemberEvent, StatusChange, TradePrint
from compat.exchange.hub import Hub

MAX_WRITE_BUFFER = 64 << 20  # a member that stops reading is cut off past this
# A heartbeat interval a member may ask for at logon (milliseconds; 0 = none). The floor keeps
# a timer storm off the event loop; the ceiling is FIX's HeartBtInt limit (300 s).
MIN_HEARTBEAT_MS = 50
MAX_HEARTBEAT_MS = 300_000
MIN_TICK_S = 0.01  # the heartbeat timer never ticks faster than this


def heartbeat_interval_problem(interval_ms: int) -> str | None:
    """Why a heartbeat interval asked for at logon cannot be kept, or None when it can."""
    if interval_ms == 0 or MIN_HEARTBEAT_MS <= interval_ms <= MAX_HEARTBEAT_MS:
        return None
    return f"must be 0 (none) or {MIN_HEARTBEAT_MS}..{MAX_HEARTBEAT_MS} milliseconds, got {interval_ms}"

Unit = TypeVar("Unit")  # what a dialect's decoder cuts the stream into: Frame, TlxMessage
Session = TypeVar("Session", bound="VenueSession[Any]")


class Decoder(Protocol[Unit]):
    """A dialect's incremental framing: bytes in, whole units out (FramingError past repair)."""

    @property
    def pending(self) -> int: ...

    def feed(self, data: bytes) -> list[Unit]: ...


class Venue(abc.ABC, Generic[Session]):
    """One dialect's live sessions: all of them, and the logged-on one per member."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sessions: set[Session] = set()
        self.by_member: dict[str, Session] = {}

    @abc.abstractmethod
    def protocol_factory(self) -> Session:
        """A session for a new connection (``loop.create_server`` calls this)."""

    def shutdown(self, reason: str) -> None:
        for session in list(self.sessions):
            session.logout(codes.SHUTTING_DOWN, reason)

    def abort_all(self) -> None:
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()


class VenueSession(asyncio.Protocol, abc.ABC, Generic[Unit]):
    """One connection of one dialect: transport plumbing, framing dispatch, hub attachment."""

    dialect: ClassVar[str]  # "obx" | "tlx": starts every log line
    log: ClassVar[logging.Logger]

    def __init__(self, venue: Venue[Any], decoder: Decoder[Unit]) -> None:
        self.venue = venue
        self.hub = venue.hub
        self.decoder = decoder
        self.transport: asyncio.Transport | None = None
        self.member: str | None = None
        self.peer = "?"
        self.closing = False
        # Heartbeats, once a logon agreed an interval (0 = none): when each side last spoke.
        self.heartbeat_s = 0.0
        self.last_in = self.last_out = timing.monotonic()
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._last_tick = 0.0

    # ------------------------------------------------------------------ the dialect's part

    @abc.abstractmethod
    def _on_unit(self, unit: Unit) -> None:
        """Handle one whole unit (frame, message) that arrived."""

    @abc.abstractmethod
    def _send_logout(self, code: int, reason: str) -> None:
        """Send the dialect's Logout (the connection is closed right after)."""

    @abc.abstractmethod
    def on_member_event(self, event: MemberEvent) -> None: ...

    @abc.abstractmethod
    def on_trade(self, event: TradePrint) -> None: ...

    @abc.abstractmethod
    def on_book_update(self, event: BookUpdate) -> None: ...

    @abc.abstractmethod
    def on_status(self, event: StatusChange) -> None: ...

    def _on_heartbeat_tick(self, now: float) -> None:
        """The dialect's heartbeat rule, run on every tick of an agreed interval (see
        ``start_heartbeats``); ``now - self.last_in`` / ``now - self.last_out`` are the
        silences. A dialect that agrees intervals overrides it."""

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.venue.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
        self.venue.sessions.discard(self)
        self.hub.unsubscribe_all(self)
        self.hub.unwatch_status(self)
        if self.member is not None:
            self.hub.detach(self.member, self)
            if self.venue.by_member.get(self.member) is self:
                del self.venue.by_member[self.member]
        self.log.info(
            "%s %s (%s): connection closed%s", self.dialect, self.peer, self.member, f": {exc}" if exc else ""
        )

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self.heartbeat_s:
            self.last_in = timing.monotonic()
        try:
            units = self.decoder.feed(data)
        except FramingError as exc:
            for unit in exc.decoded:  # whole units before the bad bytes: as if read earlier
                if self.closing:
                    return
                self._on_unit(unit)
            self.logout(exc.code, exc.reason)
            return
        for unit in units:
            if self.closing:
                return
            self._on_unit(unit)

    def eof_received(self) -> bool | None:
        if self.decoder.pending:
            self.log.info(
                "%s %s (%s): EOF inside a frame (%d bytes pending)",
                self.dialect,
                self.peer,
                self.member,
                self.decoder.pending,
            )
        return None

    def _write(self, data: bytes) -> None:
        """Write, unless closing; past MAX_WRITE_BUFFER queued the member is cut off."""
        transport = self.transport
        if transport is None or self.closing:
            return
        transport.write(data)
        if self.heartbeat_s:
            self.last_out = timing.monotonic()
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            self.log.warning(
                "%s %s (%s): not reading, %d bytes queued: disconnecting",
                self.dialect,
                self.peer,
                self.member,
                transport.get_write_buffer_size(),
            )
            self.closing = True
            transport.abort()

    def logout(self, code: int, reason: str) -> None:
        """Send a Logout with the result code and reason, then close (once)."""
        if self.closing or self.transport is None:
            return
        self.log.info("%s %s (%s): logout %d: %s", self.dialect, self.peer, self.member, code, reason)
        self._send_logout(code, reason)
        self.closing = True
        self.transport.close()

    # ------------------------------------------------------------------ heartbeats

    def start_heartbeats(self, interval_s: float) -> None:
        """Keep the interval a logon agreed (0: none): tick four times per interval from now."""
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        self.heartbeat_s = interval_s
        if interval_s <= 0:
            return
        self.last_in = self.last_out = self._last_tick = timing.monotonic()
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        loop = asyncio.get_running_loop()
        self._heartbeat_timer = loop.call_later(max(MIN_TICK_S, self.heartbeat_s / 4), self._heartbeat_tick)

    def _heartbeat_tick(self) -> None:
        self._heartbeat_timer = None
        if self.closing:
            return
        now = timing.monotonic()
        if now - self._last_tick > self.heartbeat_s:  # we did not run: the member is not to blame
            self.last_in = now
        self._last_tick = now
        self._on_heartbeat_tick(now)
        if not self.closing:
            self._schedule_tick()

    # ------------------------------------------------------------------ the hub

    def _supersede(self, member: str) -> None:
        """A new logon of ``member`` logs its previous session out."""
        previous = self.venue.by_member.get(member)
        if previous is not None and previous is not self:
            previous.logout(codes.SUPERSEDED, f"member {member!r} logged on again from {self.peer}")
            self.hub.detach(member, previous)

    def _attach(self, member: str, resume_from: int) -> list[MemberEvent]:
        """Bind the session to ``member``; the member's events from ``resume_from`` on to replay."""
        self.member = member
        self.venue.by_member[member] = self
        backlog = self.hub.attach(member, self, resume_from)
        self.hub.watch_status(self)
        return backlog
