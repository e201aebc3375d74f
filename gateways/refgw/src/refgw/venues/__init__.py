"""Venue adapters: one per exchange dialect, all behind the same small interface.

The gateway core speaks ticks and the names in ``refgw.model``; an adapter owns the
connection, the venue's session rules and the translation. Sends are synchronous writes on
the hot path (no awaits); answers come back through the three callbacks.

Heartbeats (3.1): with ``heartbeat_ms`` > 0 the adapter declares the interval at logon and,
once logged on, a watch ticks four times per interval: a heartbeat goes out every interval
(a probe the exchange must answer once it has been silent for one), and after
``missed_heartbeats`` silent intervals the link is reported closed, although its TCP
connection may still be open: a partition is noticed in bounded time, not when TCP gives up.
The adapters only mark that something arrived (``heard``, one store per read); a tick that
comes more than an interval late means the gateway itself did not run, so the exchange's
silence is counted afresh.

Abandoned logons: a reconnect attempt that times out in a partition leaves its logon held in
the network; delivered after a later attempt logged on, the exchange takes it for a second
logon and logs the live session out SUPERSEDED. So each logon given up unanswered excuses one
SUPERSEDED logout: it is reported as a plain drop (the gateway reconnects) instead of as the
member taken over elsewhere (which stops the gateway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from refgw.model import BookEvent, InstrumentDef, VenueNotice, VenueOrderEvent

SUPERSEDED = -4009  # the exchange's logout code when the member logged on again elsewhere

OrderCallback = Callable[[VenueOrderEvent], None]
BookCallback = Callable[[BookEvent], None]
NoticeCallback = Callable[[VenueNotice], None]


class VenueError(Exception):
    """The venue refused the gateway (logon, protocol) or the connection broke."""


class Venue:
    """Interface every venue adapter implements."""

    name = "?"

    def __init__(
        self,
        host: str,
        port: int,
        member: str,
        token: str,
        client_name: str,
        on_order: OrderCallback,
        on_book: BookCallback,
        on_notice: NoticeCallback,
        heartbeat_ms: int = 0,
        missed_heartbeats: int = 3,
    ) -> None:
        self.host = host
        self.port = port
        self.member = member
        self.token = token
        self.client_name = client_name
        self.on_order = on_order
        self.on_book = on_book
        self.on_notice = on_notice
        self.instruments: dict[str, InstrumentDef] = {}
        self.last_member_seq = 0  # newest member-stream event seen: the journal's cursor
        # Order events that arrive while logging on (a replay) wait for the instrument list.
        self._held_events: list[VenueOrderEvent] | None = []
        # Called right after a logon's replay has been handed over, in the same loop step (so no
        # client request can slip in between the replayed events and what the core does next).
        self.after_replay: Callable[[], None] | None = None
        self.heartbeat_ms = heartbeat_ms
        self.missed_heartbeats = missed_heartbeats
        self.heard = False  # something arrived since the watch last looked
        self._watch: asyncio.TimerHandle | None = None
        self._last_heard = self._last_tick = self._last_beat = 0.0
        self.logon_pending = False  # a logon was sent on the current connection, not yet answered
        self.abandoned_logons = 0  # logons given up unanswered: each excuses one SUPERSEDED

    def emit_order(self, ev: VenueOrderEvent) -> None:
        if self._held_events is not None:
            self._held_events.append(ev)
        else:
            self.on_order(ev)

    def release_held_events(self) -> None:
        """Called once the instruments are known: deliver what the logon replayed."""
        held, self._held_events = self._held_events or [], None
        for ev in held:
            self.on_order(ev)
        if self.after_replay is not None:
            self.after_replay()

    # ------------------------------------------------------------------ heartbeats
    def start_watch(self) -> None:
        """Logged on: heartbeat and watch the exchange's silence (no-op without an interval)."""
        self.stop_watch()
        if self.heartbeat_ms <= 0:
            return
        self._last_heard = self._last_tick = self._last_beat = time.monotonic()
        self.heard = False
        self._schedule_watch()

    def stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _schedule_watch(self) -> None:
        self._watch = asyncio.get_running_loop().call_later(self.heartbeat_ms / 4000, self._watch_tick)

    def _watch_tick(self) -> None:
        self._watch = None
        now = time.monotonic()
        interval = self.heartbeat_ms / 1000
        if self.heard or now - self._last_tick > interval:  # heard, or we did not run to hear it
            self._last_heard = now
            self.heard = False
        self._last_tick = now
        silent = now - self._last_heard
        if silent >= self.missed_heartbeats * interval:
            self.link_silent(
                f"exchange silent for {silent * 1000:.0f} ms, {self.missed_heartbeats} heartbeat intervals of "
                f"{self.heartbeat_ms} ms missed; its TCP connection may still be open"
            )
            return
        if now - self._last_beat >= interval:
            self._last_beat = now
            try:
                self.send_heartbeat(probe=silent >= interval)
            except (OSError, RuntimeError) as exc:  # a transport already closing: its loss is reported
                self.link_silent(f"heartbeat could not be sent: {exc}")
                return
        self._schedule_watch()

    def send_heartbeat(self, probe: bool) -> None:
        """One heartbeat; ``probe``: the exchange has been silent for an interval, ask it to answer."""
        raise NotImplementedError

    def link_silent(self, reason: str) -> None:
        """The watch gave up on the exchange: report the link closed with ``reason``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ logons
    def abandon_connection(self) -> None:
        """The current connection is being given up: a logon still unanswered on it may yet
        arrive at the exchange (held in a partition)."""
        if self.logon_pending:
            self.abandoned_logons += 1
            self.logon_pending = False

    def logout_notice(self, code: int, text: str) -> VenueNotice:
        """The notice of a logout: SUPERSEDED is final, unless it may be an abandoned logon of ours."""
        if code == SUPERSEDED and self.abandoned_logons > 0:
            self.abandoned_logons -= 1
            return VenueNotice(
                kind="closed",
                text=f"{text} (taken for a logon this gateway gave up in a partition and that arrived late)",
            )
        return VenueNotice(kind="closed", code=code, text=text)

    async def start(self, resume_from_seq: int = 0, venue_cursor: int = 0) -> None:
        """Connect and log on; ``resume_from_seq``: member stream (OBX), ``venue_cursor``: the
        last journaled venue MsgSeqNum (TLX session resume)."""
        raise NotImplementedError

    async def reconnect(self, resume_from_seq: int, venue_cursor: int) -> None:
        """Log on again after the connection dropped (3.1+), resuming the member stream so that
        every event the exchange made while the link was down is delivered (once: the core skips
        resent events it already processed). Returns once the replay has been handed over."""
        raise NotImplementedError

    async def drop(self) -> None:
        """Abandon the current connection without a logout (a failed or dead link)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def new_order(
        self, coid: str, symbol: str, side: str, order_type: str, tif: str, qty: int, price_ticks: int
    ) -> None:
        raise NotImplementedError

    def cancel(self, coid: str, symbol: str, exch_order_id: str = "") -> None:
        raise NotImplementedError

    def amend(
        self, coid: str, symbol: str, side: str, qty: int | None, price_ticks: int | None, exch_order_id: str = ""
    ) -> None:
        raise NotImplementedError

    def mass_cancel(self, symbol: str) -> None:
        raise NotImplementedError

    def subscribe(self, symbol: str) -> None:
        raise NotImplementedError


def make_venue(kind: str, **kwargs: object) -> Venue:
    if kind == "obx":
        from refgw.venues.obx import ObxVenue

        return ObxVenue(**kwargs)
    if kind == "tlx":
        from refgw.venues.tlx import TlxVenue

        return TlxVenue(**kwargs)
    raise VenueError(f"unknown venue {kind!r}: expected obx or tlx")
