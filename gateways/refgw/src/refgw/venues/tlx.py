"""TLX: the exchange's FIX-like tag=value venue (docs/exchange-protocol.md §2).

A fresh gateway logs on with ResetSeqNumFlag=Y. A gateway restarting from its journal
(3.1+) resumes the FIX-style session instead: ResetSeqNumFlag=N with NextExpectedMsgSeqNum =
the journaled exchange MsgSeqNum + 1, so the exchange resends (PossDup) every message after
the last one the gateway journaled; the gateway's own MsgSeqNum restarts high and the
exchange's ResendRequest for the gap is answered with a SequenceReset (reset mode). If the
exchange no longer knows the session (it restarted), the gateway falls back to a fresh logon.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import sys
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from refgw.model import BookEvent, InstrumentDef, VenueNotice, VenueOrderEvent
from refgw.venues import Venue, VenueError

SOH = b"\x01"
_BEGIN = "TLX.2"
_MAX = 1 << 20
_STATUS = {"1": "PRE_OPEN", "2": "OPEN", "3": "HALTED", "4": "CLOSED"}
_CANCEL_REASONS = {
    "1": "USER",
    "2": "IOC_REMAINDER",
    "3": "FOK_KILL",
    "4": "MASS",
    "5": "HALT",
    "6": "EXPIRED",
}
_TIF = {"GTC": "1", "DAY": "0", "IOC": "3", "FOK": "4"}

Fields = list[tuple[int, str]]


def encode(fields: Fields) -> bytes:
    """Encode a body (starting with 35) into a full TLX message with 8, 9 and 10."""
    body = b"".join(f"{t}={v}".encode() + SOH for t, v in fields)
    head = f"8={_BEGIN}".encode() + SOH + f"9={len(body)}".encode() + SOH
    msg = head + body
    return msg + f"10={sum(msg) % 256:03d}".encode() + SOH


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class TlxVenue(Venue):
    name = "tlx"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._out_seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._logon: asyncio.Future[Fields] | None = None
        self._instr: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._alias: dict[str, str] = {}  # any ClOrdID the gateway used -> the order's key
        self._current: dict[str, str] = {}  # order key -> its ClOrdID at the exchange now
        self._oid: dict[str, str] = {}  # order key -> exchange OrderID (37)
        self._starting = True
        self._gap_answered: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, resume_from_seq: int = 0, venue_cursor: int = 0) -> None:
        await self._start(venue_cursor + 1 if venue_cursor else 0, resume_from_seq)

    async def reconnect(self, resume_from_seq: int, venue_cursor: int) -> None:
        # Always resume the FIX session (even with no order event yet: from MsgSeqNum 1): a
        # fresh logon (ResetSeqNumFlag=Y) would not resend what the exchange wrote to the
        # dead connection, and the in-flight events would be lost.
        await self.drop()
        self._starting = True
        self._held_events = []
        await self._start(venue_cursor + 1, resume_from_seq)

    async def _start(self, next_expected: int, resume_from_seq: int) -> None:
        """Log on resuming the session from ``next_expected`` (else, or if refused, afresh). Either
        logon asks for the member events from ``resume_from_seq`` again (4021, by the member
        stream, not the session sequence): a logon this gateway gave up in a partition may arrive
        late and reset the session, and what its old sequence carried is then gone for a resend.
        Events the session resend delivers as well are skipped by the core (PossDup, member_seq)."""
        if next_expected:
            try:
                await self._logon_once(next_expected, resume_from_seq)
            except VenueError as exc:
                print(f"refgw: TLX session resume refused ({exc}); logging on afresh", file=sys.stderr, flush=True)
                await self._drop_connection()
                await self._logon_once(0, resume_from_seq)
        else:
            await self._logon_once(0, resume_from_seq)
        self._send("x", [(320, f"sl{next(self._ids)}"), (559, "0")])
        instruments = self._instr
        assert instruments is not None
        await asyncio.wait_for(instruments, 10.0)
        self._starting = False
        self.release_held_events()
        self.start_watch()

    async def _logon_once(self, next_expected: int, resume_from_seq: int = 0) -> None:
        """Log on: afresh (``next_expected`` 0) or resuming the session from that exchange
        MsgSeqNum; with ``resume_from_seq`` the member events from there on again (4021)."""
        try:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise VenueError(f"cannot connect to TLX at {self.host}:{self.port}: {exc}") from None
        loop = asyncio.get_running_loop()
        self._logon = loop.create_future()
        self._instr = loop.create_future()
        self._gap_answered = loop.create_future()
        self._task = asyncio.create_task(self._read_loop())
        resume: Fields = [(4021, str(resume_from_seq))] if resume_from_seq > 0 else []
        if next_expected:
            # Our own MsgSeqNum is not journaled: start far above anything used before and let
            # the exchange's ResendRequest for the gap be answered with a SequenceReset.
            self._out_seq = itertools.count(time.time_ns() // 1_000_000)
            session: Fields = [(141, "N"), (789, str(next_expected))]
        else:
            self._out_seq = itertools.count(1)
            session = [(141, "Y")]
        self._send("A", [*self._heartbeat_fields(), *session, *resume, (554, self.token)])
        self.logon_pending = True
        fields = await asyncio.wait_for(self._logon, 10.0)
        if dict(fields).get(35) != "A":
            raise VenueError(f"TLX refused logon of member {self.member!r}: {dict(fields).get(58, '')}")
        gap_answered = self._gap_answered
        if next_expected and gap_answered is not None:
            await asyncio.wait_for(gap_answered, 10.0)

    def _heartbeat_fields(self) -> Fields:
        """EncryptMethod and the heartbeat interval: HeartBtInt (108) in whole seconds as FIX has
        it, and the exchange's HeartBtIntMs (4020) with the interval the watch keeps."""
        if self.heartbeat_ms <= 0:
            return [(98, "0"), (108, "0")]
        return [(98, "0"), (108, str(max(1, round(self.heartbeat_ms / 1000)))), (4020, str(self.heartbeat_ms))]

    async def _drop_connection(self) -> None:
        self.stop_watch()
        self.abandon_connection()
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.transport.abort()

    async def drop(self) -> None:
        await self._drop_connection()

    async def close(self) -> None:
        self.stop_watch()
        if self._writer is not None:
            try:
                self._send("5", [(58, "gateway stopping")])
                self._writer.close()
            except (OSError, RuntimeError):
                pass
        if self._task is not None:
            self._task.cancel()

    def _send(self, msg_type: str, body: Fields) -> None:
        assert self._writer is not None
        header: Fields = [
            (35, msg_type),
            (34, str(next(self._out_seq))),
            (49, self.member),
            (56, "TLX"),
            (52, _now()),
        ]
        self._writer.write(encode(header + body))

    # ------------------------------------------------------------------ orders
    def _price(self, symbol: str, ticks: int) -> str:
        instr = self.instruments[symbol]
        return str(instr.ticks_to_decimal(ticks))

    def _ticks(self, symbol: str, text: str) -> int:
        instr = self.instruments.get(symbol)
        if instr is None or not text:
            return 0
        try:
            return int(Decimal(text) / instr.tick)
        except InvalidOperation:
            return 0

    def new_order(
        self, coid: str, symbol: str, side: str, order_type: str, tif: str, qty: int, price_ticks: int
    ) -> None:
        self._alias[coid] = coid
        self._current[coid] = coid
        body: Fields = [
            (11, coid),
            (55, symbol),
            (54, "1" if side == "BUY" else "2"),
            (38, str(qty)),
            (40, "2" if order_type == "LIMIT" else "1"),
        ]
        if order_type == "LIMIT":
            body.append((44, self._price(symbol, price_ticks)))
        body.append((59, _TIF[tif]))
        self._send("D", body)

    def _ref(self, coid: str, exch_order_id: str = "") -> Fields:
        oid = self._oid.get(coid) or exch_order_id
        ref: Fields = [(41, self._current.get(coid, coid))]
        if oid:
            ref.append((37, oid))
        return ref

    def cancel(self, coid: str, symbol: str, exch_order_id: str = "") -> None:
        req = f"{coid}.c{next(self._ids)}"
        self._alias[req] = coid
        self._send("F", [(11, req), *self._ref(coid, exch_order_id), (55, symbol)])

    def amend(
        self, coid: str, symbol: str, side: str, qty: int | None, price_ticks: int | None, exch_order_id: str = ""
    ) -> None:
        new = f"{coid}.r{next(self._ids)}"
        self._alias[new] = coid
        body: Fields = [(11, new), *self._ref(coid, exch_order_id), (55, symbol), (54, "1" if side == "BUY" else "2")]
        if qty is not None:
            body.append((38, str(qty)))
        if price_ticks is not None:
            body.append((44, self._price(symbol, price_ticks)))
        self._send("G", body)

    def mass_cancel(self, symbol: str) -> None:
        req = f"mc{next(self._ids)}"
        body: Fields = [(11, req), (530, "1" if symbol else "7")]
        if symbol:
            body.append((55, symbol))
        self._send("q", body)

    def subscribe(self, symbol: str) -> None:
        self._send("V", [(262, f"md{next(self._ids)}"), (263, "1"), (146, "1"), (55, symbol)])

    def send_heartbeat(self, probe: bool) -> None:
        if probe:  # a TestRequest: the exchange must answer it with a Heartbeat
            self._send("1", [(112, f"hb{next(self._ids)}")])
        else:
            self._send("0", [])

    def link_silent(self, reason: str) -> None:
        if not self._starting:
            self.on_notice(VenueNotice(kind="closed", text=reason))  # the core drops it and reconnects

    # ------------------------------------------------------------------ receive
    async def _read_message(self) -> Fields:
        assert self._reader is not None
        head = await self._reader.readuntil(SOH)  # 8=TLX.x
        if not head.startswith(b"8="):
            raise VenueError(f"TLX framing lost: {head[:40]!r}")
        length_field = await self._reader.readuntil(SOH)
        if not length_field.startswith(b"9="):
            raise VenueError(f"TLX framing lost: {length_field[:40]!r}")
        length = int(length_field[2:-1])
        if length > _MAX:
            raise VenueError(f"TLX message of {length} bytes is over 1 MiB")
        body = await self._reader.readexactly(length)
        await self._reader.readuntil(SOH)  # 10=CCC
        fields: Fields = []
        for part in body.split(SOH):
            if part:
                tag, _, value = part.partition(b"=")
                fields.append((int(tag), value.decode()))
        return fields

    async def _read_loop(self) -> None:
        reason = "exchange closed the connection"
        try:
            while True:
                fields = await self._read_message()
                self.heard = True
                try:
                    self._dispatch(fields)
                except Exception as exc:  # one bad message must not stop the venue stream
                    print(f"refgw: TLX message not handled: {exc!r}", file=sys.stderr, flush=True)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except (VenueError, ValueError, asyncio.LimitOverrunError) as exc:
            reason = str(exc)
        except asyncio.CancelledError:
            return
        self.stop_watch()
        self.logon_pending = False  # the connection is gone: nothing more arrives from it
        for fut in (self._logon, self._instr, self._gap_answered):
            if fut is not None and not fut.done():
                fut.set_exception(VenueError(f"TLX at {self.host}:{self.port}: {reason}"))
        if not self._starting:
            self.on_notice(VenueNotice(kind="closed", text=reason))

    def _dispatch(self, fields: Fields) -> None:
        tags = dict(fields)
        mt = tags.get(35, "")
        if mt == "8":
            self._on_exec(tags)
        elif mt in ("X", "W"):
            if tags.get(43) != "Y":  # resent market data is stale: the book resubscribes
                self._on_md(fields, tags, snapshot=mt == "W")
        elif mt == "9":
            self._on_cancel_reject(tags)
        elif mt == "1":
            self._send("0", [(112, tags.get(112, ""))])
        elif mt == "2":
            self._answer_resend_request()
        elif mt == "A":
            self.logon_pending = False
            if self._logon is not None and not self._logon.done():
                self._logon.set_result(fields)
        elif mt == "5":
            self.logon_pending = False
            if self._logon is not None and not self._logon.done():
                self._logon.set_result(fields)
            if not self._starting:
                code = int(tags.get(4000, "0") or 0)
                self.on_notice(self.logout_notice(code, f"TLX logout: {tags.get(58, '')}"))
        elif mt == "y":
            self._on_security_list(fields)
        elif mt == "3":
            self.on_notice(VenueNotice(kind="reject", code=int(tags.get(4000, "0") or 0), text=tags.get(58, "")))

    def _answer_resend_request(self) -> None:
        """The gateway never resends its own messages: a SequenceReset (reset mode) skips the gap."""
        assert self._writer is not None
        seq = next(self._out_seq)
        header: Fields = [(35, "4"), (34, str(seq)), (49, self.member), (56, "TLX"), (52, _now())]
        self._writer.write(encode([*header, (123, "N"), (36, str(seq + 1))]))
        if self._gap_answered is not None and not self._gap_answered.done():
            self._gap_answered.set_result(None)

    def _key(self, tags: dict[int, str]) -> str:
        for tag in (41, 11):
            key = self._alias.get(tags.get(tag, ""))
            if key is not None:
                return key
        # Not sent by this process (a resend after a restart): every ClOrdID the gateway makes
        # is the order's key, or the key plus a ".c<n>"/".r<n>" suffix.
        return (tags.get(41) or tags.get(11, "")).split(".")[0]

    def _member_seq(self, tags: dict[int, str]) -> int:
        seq = int(tags.get(4001, "0") or 0)
        if seq > self.last_member_seq:
            self.last_member_seq = seq
        return seq

    def _on_exec(self, tags: dict[int, str]) -> None:
        et = tags.get(150, "")
        key = self._key(tags)
        symbol = tags.get(55, "")
        oid = tags.get(37, "")
        if oid and key:
            self._oid[key] = oid
        common: dict[str, Any] = dict(
            venue_coid=key,
            exch_order_id=oid,
            symbol=symbol,
            member_seq=self._member_seq(tags),
            poss_dup=tags.get(43) == "Y" or tags.get(97) == "Y",
            venue_seq=int(tags.get(34, "0") or 0),
            leaves_qty=int(tags.get(151, "0") or 0),
            cum_qty=int(tags.get(14, "0") or 0),
        )
        if et == "0":
            self.emit_order(
                VenueOrderEvent(
                    kind="accepted",
                    qty=int(tags.get(38, "0") or 0),
                    price_ticks=self._ticks(symbol, tags.get(44, "")),
                    **common,
                )
            )
        elif et == "F":
            self.emit_order(
                VenueOrderEvent(
                    kind="fill",
                    last_qty=int(tags.get(32, "0") or 0),
                    last_price_ticks=self._ticks(symbol, tags.get(31, "")),
                    trade_id=tags.get(880, ""),
                    liquidity="TAKER" if tags.get(1057) == "Y" else "MAKER",
                    **common,
                )
            )
        elif et == "4":
            self.emit_order(
                VenueOrderEvent(kind="cancelled", reason=_CANCEL_REASONS.get(tags.get(4003, "1"), "USER"), **common)
            )
        elif et == "5":
            if tags.get(11):
                self._current[key] = tags[11]
            self.emit_order(
                VenueOrderEvent(
                    kind="replaced",
                    qty=int(tags.get(38, "0") or 0),
                    price_ticks=self._ticks(symbol, tags.get(44, "")),
                    **common,
                )
            )
        elif et == "8":
            self.emit_order(
                VenueOrderEvent(kind="rejected", code=int(tags.get(4000, "0") or 0), text=tags.get(58, ""), **common)
            )

    def _on_cancel_reject(self, tags: dict[int, str]) -> None:
        kind = "replace_rejected" if tags.get(434) == "2" else "cancel_rejected"
        self.emit_order(
            VenueOrderEvent(
                kind=kind,
                venue_coid=self._key(tags),
                exch_order_id=tags.get(37, ""),
                code=int(tags.get(4000, "0") or 0),
                text=tags.get(58, ""),
                member_seq=self._member_seq(tags),
                poss_dup=tags.get(43) == "Y" or tags.get(97) == "Y",
                venue_seq=int(tags.get(34, "0") or 0),
            )
        )

    def _on_security_list(self, fields: Fields) -> None:
        entry: dict[int, str] = {}
        entries: list[dict[int, str]] = []
        for tag, value in fields:
            if tag == 55:
                entry = {}
                entries.append(entry)
            if entries:
                entry[tag] = value
        for e in entries:
            self.instruments[e[55]] = InstrumentDef(
                symbol=e[55],
                description=e.get(107, ""),
                currency=e.get(15, ""),
                price_scale=int(e.get(4010, "0")),
                tick_size_units=int(e.get(4011, "1")),
                lot_size=int(e.get(4012, e.get(1234, "1"))),
                max_order_qty=int(e.get(4013, "1000000")),
                status=_STATUS.get(e.get(4014, "2"), "OPEN"),
            )
        if self._instr is not None and not self._instr.done():
            self._instr.set_result(None)

    def _on_md(self, fields: Fields, tags: dict[int, str], snapshot: bool) -> None:
        symbol = tags.get(55, "")
        entries: list[dict[int, str]] = []
        in_group = False
        for tag, value in fields:
            if tag == 268:
                in_group = True
                continue
            if not in_group:
                continue
            if tag == 279 or (tag == 269 and (not entries or 269 in entries[-1])):
                entries.append({})
            if entries:
                entries[-1][tag] = value
        ev = BookEvent(symbol=symbol, book_seq=int(tags.get(83, "0") or 0), snapshot=snapshot)
        for e in entries:
            side = e.get(269, "0")
            ticks = self._ticks(symbol, e.get(270, ""))
            qty = int(e.get(271, "0") or 0)
            count = int(e.get(346, "0") or 0)
            if side == "2":
                ev.trades.append((e.get(1003, ""), ticks, qty, "BUY" if e.get(2446) == "1" else "SELL"))
            elif snapshot:
                (ev.bids if side == "0" else ev.asks).append((ticks, qty, count))
            else:
                if e.get(279) == "2":
                    qty = 0
                ev.changes.append(("BUY" if side == "0" else "SELL", ticks, qty, count))
        self.on_book(ev)
