"""Venue adapters: one per exchange dialect, all behind the same small interface.

The gateway core speaks ticks and the names in ``refgw.model``; an adapter owns the
connection, the venue's session rules and the translation. Sends are synchronous writes on
the hot path (no awaits); answers come back through the three callbacks.
"""

from __future__ import annotations

from collections.abc import Callable

from refgw.model import BookEvent, InstrumentDef, VenueNotice, VenueOrderEvent

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
