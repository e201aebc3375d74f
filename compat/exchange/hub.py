"""The sequencer hub: one engine, the audit log, and fan-out to venue sessions.

Every venue session (OBX or TLX) calls into the hub from the one asyncio loop. Each call is
one engine command followed by :meth:`Hub._dispatch`, which journals the events and hands
them to the member's sessions and to market-data subscribers *before returning*. Nothing
awaits in between, so a subscribe (snapshot + registration in one synchronous step) can never
miss or repeat an incremental: the Optivex race is closed by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from compat import timing
from compat.exchange import codes
from compat.exchange.audit import AuditWriter
from compat.exchange.engine import Engine
from compat.exchange.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    InstrumentCreated,
    MemberEvent,
    OrderView,
    StatusChange,
    TradePrint,
)
from compat.exchange.instruments import ExchangeConfig, InstrumentSpec

EXCHANGE_VERSION = "compat-exchange 1"
log = logging.getLogger("compat.exchange.hub")

# Events every subscriber of a symbol (or of status) sees; anything else belongs to one member.
_PUBLIC_EVENTS: frozenset[type[Event]] = frozenset({BookUpdate, TradePrint, StatusChange, InstrumentCreated})


class MemberSink(Protocol):
    """A logged-on session receiving its member's order events."""

    def on_member_event(self, event: MemberEvent) -> None: ...


class MarketDataSink(Protocol):
    def on_trade(self, event: TradePrint) -> None: ...

    def on_book_update(self, event: BookUpdate) -> None: ...


class StatusSink(Protocol):
    def on_status(self, event: StatusChange) -> None: ...


# Member events kept for replay (a gateway resuming after a restart asks for what it missed):
# without a bound, a member's stream grows with every order for the exchange's lifetime, which
# a soak (``compat bench --soak``) reports as growth. 100,000 events is minutes of full load,
# far more than any resume needs; trimming starts past twice that (Engine.trim).
STREAM_RETENTION = 100_000


class Hub:
    def __init__(
        self,
        config: ExchangeConfig,
        clock: Callable[[], int] = timing.wall_ns,
        seed: int = 0,
        audit: AuditWriter | None = None,
        stream_retention: int | None = STREAM_RETENTION,
    ) -> None:
        self.config = config
        self.engine = Engine(config.instruments, clock=clock, seed=seed, stream_retention=stream_retention)
        self.audit = audit
        self.now = clock
        self._members = {m.member_id: m for m in config.members} if config.members is not None else None
        self._member_sinks: dict[str, list[MemberSink]] = {}
        self._md_sinks: dict[str, list[MarketDataSink]] = {}
        self._status_sinks: list[StatusSink] = []
        if audit is not None:
            audit.write_header(seed, config.instruments)

    # ------------------------------------------------------------------ members

    def authenticate(self, member_id: str, token: str) -> tuple[int, str]:
        if not member_id:
            return codes.UNKNOWN_MEMBER, "member id is empty"
        if self._members is None:
            return codes.OK, ""
        member = self._members.get(member_id)
        if member is None:
            return codes.UNKNOWN_MEMBER, f"unknown member {member_id!r}"
        if member.token != token:
            return codes.BAD_TOKEN, f"wrong token for member {member_id!r}"
        return codes.OK, ""

    def is_admin(self, member_id: str) -> bool:
        if self._members is None:
            return True
        member = self._members.get(member_id)
        return member is not None and member.admin

    def attach(self, member_id: str, sink: MemberSink, resume_from: int) -> list[MemberEvent]:
        """Register a session for its member's events; returns the events to replay first
        (member_seq >= resume_from; none when resume_from is 0). Atomic with respect to
        new events: nothing created after this call is in the replay, nothing before it is
        delivered live."""
        state = self.engine.member(member_id)
        self._member_sinks.setdefault(member_id, []).append(sink)
        return state.events_from(resume_from) if resume_from > 0 else []

    def detach(self, member_id: str, sink: MemberSink) -> None:
        sinks = self._member_sinks.get(member_id)
        if sinks and sink in sinks:
            sinks.remove(sink)

    def next_member_seq(self, member_id: str) -> int:
        return self.engine.member(member_id).last_seq + 1

    def events_from(self, member_id: str, seq: int) -> list[MemberEvent]:
        return self.engine.member(member_id).events_from(seq)

    # ------------------------------------------------------------------ market data

    def subscribe(self, symbol: str, sink: MarketDataSink) -> BookSnapshot | None:
        """Snapshot and registration in one step; None for an unknown symbol."""
        snapshot = self.engine.snapshot(symbol)
        if snapshot is None:
            return None
        sinks = self._md_sinks.setdefault(symbol, [])
        if sink not in sinks:
            sinks.append(sink)
        return snapshot

    def unsubscribe(self, symbol: str, sink: MarketDataSink) -> None:
        sinks = self._md_sinks.get(symbol)
        if sinks and sink in sinks:
            sinks.remove(sink)

    def unsubscribe_all(self, sink: MarketDataSink) -> None:
        for sinks in self._md_sinks.values():
            if sink in sinks:
                sinks.remove(sink)

    def watch_status(self, sink: StatusSink) -> None:
        self._status_sinks.append(sink)

    def unwatch_status(self, sink: StatusSink) -> None:
        if sink in self._status_sinks:
            self._status_sinks.remove(sink)

    # ------------------------------------------------------------------ commands

    def new_order(
        self,
        member: str,
        request_id: int,
        client_order_id: str,
        symbol: str,
        side: int,
        order_type: int,
        tif: int,
        qty: int,
        price_ticks: int,
    ) -> int:
        order_id = self.engine.new_order(
            member, request_id, client_order_id, symbol, side, order_type, tif, qty, price_ticks
        )
        self._dispatch()
        return order_id

    def cancel(self, member: str, request_id: int, order_id: int, client_order_id: str, symbol: str = "") -> bool:
        done = self.engine.cancel(member, request_id, order_id, client_order_id, symbol)
        self._dispatch()
        return done

    def amend(
        self,
        member: str,
        request_id: int,
        order_id: int,
        orig_client_order_id: str,
        new_client_order_id: str,
        qty: int | None,
        price_ticks: int | None,
    ) -> bool:
        done = self.engine.amend(
            member, request_id, order_id, orig_client_order_id, new_client_order_id, qty, price_ticks
        )
        self._dispatch()
        return done

    def reject_order(
        self, member: str, request_id: int, client_order_id: str, symbol: str, code: int, text: str
    ) -> None:
        self.engine.reject_order(member, request_id, client_order_id, symbol, code, text)
        self._dispatch()

    def reject_amend(
        self,
        member: str,
        request_id: int,
        order_id: int,
        orig_client_order_id: str,
        new_client_order_id: str,
        code: int,
        text: str,
    ) -> None:
        self.engine.reject_amend(member, request_id, order_id, orig_client_order_id, new_client_order_id, code, text)
        self._dispatch()

    def mass_cancel(self, member: str, request_id: int, symbol: str) -> tuple[int, int]:
        result = self.engine.mass_cancel(member, request_id, symbol)
        self._dispatch()
        return result

    def set_status(self, symbol: str, status: int, cancel_resting: bool) -> int:
        code = self.engine.set_status(symbol, status, cancel_resting)
        self._dispatch()
        return code

    def create_instrument(self, spec: InstrumentSpec) -> int:
        code = self.engine.create_instrument(spec)
        self._dispatch()
        return code

    def order_status(self, member: str, order_id: int, client_order_id: str, symbol: str) -> list[OrderView]:
        return self.engine.order_status(member, order_id, client_order_id, symbol)

    def instruments(self) -> list[tuple[InstrumentSpec, int]]:
        return [(book.spec, book.status) for book in self.engine.books.values()]

    def spec(self, symbol: str) -> InstrumentSpec | None:
        book = self.engine.books.get(symbol)
        return book.spec if book is not None else None

    # ------------------------------------------------------------------ fan-out

    def _dispatch(self) -> None:
        events = self.engine.take_events()
        if not events:
            return
        if self.audit is not None:
            self.audit.write_events(events)
        member_sinks = self._member_sinks
        for event in events:
            if type(event) in _PUBLIC_EVENTS:
                self._deliver_public(event)
                continue
            # A member event (OrderAccepted, OrderFill, ...: every order's ack, the hot path):
            # one type test, not the isinstance chain, and no _safely call per sink.
            member_event = cast(MemberEvent, event)
            for sink in tuple(member_sinks.get(member_event.member, ())):
                try:
                    sink.on_member_event(member_event)
                except Exception:
                    log.exception("delivering %s to %r failed; other sessions are unaffected",
                                  type(event).__name__, sink)

    def _deliver_public(self, event: Event) -> None:
        if isinstance(event, BookUpdate):
            sinks = self._md_sinks.get(event.symbol)
            if sinks:  # every resting order updates the book; mostly nobody is subscribed
                for md in tuple(sinks):
                    self._safely(md.on_book_update, event, md)
        elif isinstance(event, TradePrint):
            for md in tuple(self._md_sinks.get(event.symbol, ())):
                self._safely(md.on_trade, event, md)
        elif isinstance(event, StatusChange):
            for watcher in tuple(self._status_sinks):
                self._safely(watcher.on_status, event, watcher)

    @staticmethod
    def _safely(deliver: Callable[[Any], None], event: Event, sink: object) -> None:
        """One session failing to take an event must not keep it from the others."""
        try:
            deliver(event)
        except Exception:
            log.exception("delivering %s to %r failed; other sessions are unaffected", type(event).__name__, sink)

    def housekeeping(self) -> None:
        """Periodic: flush the audit log and apply retention limits."""
        self.engine.trim()
        if self.audit is not None:
            self.audit.flush()

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()
            self.audit = None
