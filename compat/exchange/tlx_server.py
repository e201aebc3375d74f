"""The TLX venue: a FIX-like session layer (QuickFIX model) over the shared hub.

Session state (sequence numbers, the outbound store for resends, the member-stream cursor,
user-defined tags per order) belongs to the *member* and survives reconnects for the life of
the process; a connection is just the current carrier. See docs/exchange-protocol.md §2.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TypeGuard, cast

from compat import timing
from compat.errors import TlxFramingError
from compat.exchange import codes
from compat.exchange.events import (
    BUY,
    DAY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MAKER,
    MARKET,
    REASON_USER,
    SELL,
    BookUpdate,
    CancelRejected,
    MemberEvent,
    OrderAccepted,
    OrderCancelled,
    OrderFill,
    OrderRejected,
    OrderReplaced,
    ReplaceRejected,
    StatusChange,
    TradePrint,
)
from compat.exchange.hub import Hub
from compat.exchange.instruments import InstrumentSpec
from compat.exchange.tlx_codec import TlxDecoder, TlxMessage, encode, format_time

log = logging.getLogger("compat.exchange.tlx")

EXCHANGE_COMP_ID = "TLX"
MAX_WRITE_BUFFER = 64 << 20
MAX_HELD = 10_000  # inbound messages queued behind a sequence gap before we give up
USER_TAG_MIN = 5000
HEADER_TAGS = {35, 34, 49, 56, 52, 43, 122, 97}
BODY_TAGS: dict[str, set[int]] = {
    "A": {98, 108, 141, 789, 553, 554},
    "0": {112},
    "1": {112},
    "2": {7, 16},
    "3": {45, 371, 372, 373, 58},
    "4": {123, 36},
    "5": {58},
    "D": {11, 55, 54, 38, 40, 44, 59, 60},
    "F": {11, 41, 37, 55, 54, 38, 60},
    "G": {11, 41, 37, 55, 54, 38, 40, 44, 59, 60},
    "q": {11, 530, 55, 60},
    "H": {790, 37, 11, 55, 54},
    "x": {320, 559},
    "V": {262, 263, 264, 265, 146, 55, 267, 269},
}
PASSTHROUGH_TYPES = {"D", "F", "G"}
SIDES = {"1": BUY, "2": SELL}
SIDE_TEXT = {BUY: "1", SELL: "2"}
ORD_TYPES = {"1": MARKET, "2": LIMIT}
ORD_TYPE_TEXT = {MARKET: "1", LIMIT: "2"}
TIFS = {"0": DAY, "1": GTC, "3": IOC, "4": FOK}
TIF_TEXT = {DAY: "0", GTC: "1", IOC: "3", FOK: "4"}

REJ_REQUIRED_MISSING = 1
REJ_UNDEFINED_TAG = 3
REJ_VALUE_INCORRECT = 5
REJ_FORMAT = 6
REJ_COMPID = 9
REJ_INVALID_MSGTYPE = 11
REJ_REPEATED_TAG = 13


@dataclass
class Stored:
    msg_type: str
    body: list[tuple[int, str]]
    sending_time: str
    admin: bool


@dataclass
class TlxMemberState:
    """Everything about a member's TLX session that outlives a connection."""

    next_out: int = 1
    next_in: int = 1
    store: dict[int, Stored] = field(default_factory=dict)
    delivered_member_seq: int = 0
    begin: str = "TLX.2"
    next_request_id: int = 1
    requests: dict[int, tuple[str, str]] = field(default_factory=dict)  # request_id -> (ClOrdID, OrigClOrdID)
    tags_by_request: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    tags_by_order: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def reset(self) -> None:
        self.next_out = 1
        self.next_in = 1
        self.store.clear()


def _is_number(text: str | None) -> TypeGuard[str]:
    """ASCII digits that int() takes: str.isdigit alone also passes "²" (int() refuses it)
    and 5000-digit strings (beyond int()'s 4300-digit limit)."""
    return text is not None and text.isascii() and text.isdigit() and len(text) <= 18


class _Reject(Exception):
    """A session-level Reject (35=3) for the message being processed."""

    def __init__(self, reason: int, tag: int, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.tag = tag
        self.text = text


class TlxVenue:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.members: dict[str, TlxMemberState] = {}
        self.sessions: set[TlxSession] = set()
        self.by_member: dict[str, TlxSession] = {}

    def protocol_factory(self) -> TlxSession:
        return TlxSession(self)

    def shutdown(self, reason: str) -> None:
        for session in list(self.sessions):
            session.logout(reason, codes.SHUTTING_DOWN)

    def abort_all(self) -> None:
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()


class TlxSession(asyncio.Protocol):
    def __init__(self, venue: TlxVenue) -> None:
        self.venue = venue
        self.hub = venue.hub
        self.decoder = TlxDecoder()
        self.transport: asyncio.Transport | None = None
        self.member: str | None = None
        self.state: TlxMemberState | None = None
        self.peer = "?"
        self.closing = False
        self.held: dict[int, TlxMessage] = {}  # inbound above the expected seq, until the gap is filled
        self.resend_requested = False
        self.heartbeat_s = 0
        self.last_in = timing.monotonic()
        self.last_out = timing.monotonic()
        self.test_request_sent_at: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.md_ids: dict[str, str] = {}  # symbol -> MDReqID
        self.pending_trades: dict[str, list[TradePrint]] = {}

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.venue.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        self.venue.sessions.discard(self)
        self.hub.unsubscribe_all(self)
        self.hub.unwatch_status(self)
        if self.member is not None:
            self.hub.detach(self.member, self)
            if self.venue.by_member.get(self.member) is self:
                del self.venue.by_member[self.member]
        log.info("tlx %s (%s): connection closed%s", self.peer, self.member, f": {exc}" if exc else "")

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_in = timing.monotonic()
        self.test_request_sent_at = None
        try:
            messages = self.decoder.feed(data)
        except TlxFramingError as exc:
            self._on_messages(exc.messages)  # whole messages before the bad one: as if read earlier
            self.logout(exc.reason, exc.code)
            return
        self._on_messages(messages)

    def _on_messages(self, messages: list[TlxMessage]) -> None:
        for message in messages:
            if self.closing:
                return
            try:
                self._on_message(message)
            except Exception as exc:  # one bad request must never take the exchange down
                log.exception("tlx %s (%s): failed on %s", self.peer, self.member, message.as_text())
                self._send_reject(message, REJ_VALUE_INCORRECT, 0, f"request could not be processed: {exc}")

    # ------------------------------------------------------------------ sending

    def _header(self, msg_type: str, seq: int, sending_time: str) -> list[tuple[int, str]]:
        return [
            (35, msg_type),
            (34, str(seq)),
            (49, EXCHANGE_COMP_ID),
            (56, self.member or "?"),
            (52, sending_time),
        ]

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self.closing:
            return
        transport.write(data)
        self.last_out = timing.monotonic()
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("tlx %s (%s): not reading: disconnecting", self.peer, self.member)
            self.closing = True
            transport.abort()

    def _send(self, msg_type: str, body: list[tuple[int, str]], admin: bool) -> None:
        """Sequence, store and send (stored even while disconnected: it is resent on demand)."""
        state = self.state
        begin = state.begin if state is not None else "TLX.2"
        sending_time = format_time(self.hub.now())
        if state is None:  # before logon: unsequenced (only a Logout can be sent then)
            self._write(encode(begin, [*self._header(msg_type, 1, sending_time), *body]))
            return
        seq = state.next_out
        state.next_out += 1
        state.store[seq] = Stored(msg_type, body, sending_time, admin)
        self._write(encode(begin, [*self._header(msg_type, seq, sending_time), *body]))

    def send_app(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self._send(msg_type, body, admin=False)

    def send_admin(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self._send(msg_type, body, admin=True)

    def logout(self, reason: str, code: int = 0) -> None:
        if self.closing or self.transport is None:
            return
        log.info("tlx %s (%s): logout: %s", self.peer, self.member, reason)
        body = [(58, reason)]
        if code:
            body.append((4000, str(code)))
        self.send_admin("5", body)
        self.closing = True
        self.transport.close()

    def _send_reject(self, message: TlxMessage, reason: int, tag: int, text: str) -> None:
        body = [(45, message.get(34) or "0")]
        if tag:
            body.append((371, str(tag)))
        body += [
            (372, message.msg_type or "?"),
            (373, str(reason)),
            (58, text),
            (4000, str(codes.MALFORMED_MESSAGE)),
        ]
        if self.state is None:
            self.logout(text, codes.MALFORMED_MESSAGE)
        else:
            self.send_admin("3", body)

    def resend(self, begin_seq: int, end_seq: int) -> None:
        """Resend [begin, end] (end 0 = latest): app messages with PossDup, admin as gap fills."""
        state = self.state
        assert state is not None
        last = state.next_out - 1
        end = last if end_seq == 0 or end_seq > last else end_seq
        seq = max(1, begin_seq)
        gap_start: int | None = None
        now = format_time(self.hub.now())
        while seq <= end:
            stored = state.store.get(seq)
            if stored is None or stored.admin:
                if gap_start is None:
                    gap_start = seq
            else:
                if gap_start is not None:
                    self._gap_fill(gap_start, seq, now)
                    gap_start = None
                fields = [
                    (35, stored.msg_type),
                    (34, str(seq)),
                    (49, EXCHANGE_COMP_ID),
                    (56, self.member or "?"),
                    (52, now),
                    (43, "Y"),
                    (122, stored.sending_time),
                    *stored.body,
                ]
                self._write(encode(state.begin, fields))
            seq += 1
        if gap_start is not None:
            self._gap_fill(gap_start, end + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: str) -> None:
        assert self.state is not None
        fields = [
            (35, "4"),
            (34, str(seq)),
            (49, EXCHANGE_COMP_ID),
            (56, self.member or "?"),
            (52, now),
            (43, "Y"),
            (122, now),
            (123, "Y"),
            (36, str(new_seq)),
        ]
        self._write(encode(self.state.begin, fields))

    # ------------------------------------------------------------------ inbound

    def _on_message(self, message: TlxMessage) -> None:
        if message.problem is not None:
            reason, tag, text = message.problem
            self._send_reject(message, reason, tag, text)
            return
        msg_type = message.msg_type
        if self.state is None:
            if msg_type != "A":
                self.logout("first message must be Logon (35=A)", codes.NOT_LOGGED_ON)
                return
            self._on_logon(message)
            return
        if message.begin != self.state.begin:
            self.logout("Incorrect BeginString", codes.BAD_FRAMING)
            return
        seq_text = message.get(34)
        if not _is_number(seq_text):
            self._send_reject(
                message,
                REJ_REQUIRED_MISSING if seq_text is None else REJ_FORMAT,
                34,
                "MsgSeqNum (34) missing or not a number",
            )
            return
        if message.get(49) != self.member or message.get(56) != EXCHANGE_COMP_ID:
            self.logout(f"CompID problem: expected 49={self.member} 56={EXCHANGE_COMP_ID}", codes.MALFORMED_MESSAGE)
            return
        seq = int(seq_text)
        state = self.state
        if msg_type == "4" and message.get(123) != "Y":
            self._on_sequence_reset(message, seq)  # reset mode ignores 34
            return
        if seq < state.next_in:
            if message.get(43) == "Y":
                return  # a duplicate we already processed
            self.logout(f"MsgSeqNum too low, expecting {state.next_in} but received {seq}", codes.SEQUENCE_ERROR)
            return
        if seq > state.next_in:
            if len(self.held) >= MAX_HELD:
                self.logout(
                    f"more than {MAX_HELD} messages held waiting for MsgSeqNum {state.next_in}", codes.SEQUENCE_ERROR
                )
                return
            self.held[seq] = message
            if not self.resend_requested:
                self.resend_requested = True
                self.send_admin("2", [(7, str(state.next_in)), (16, "0")])
            return
        self._process_in_order(message)
        while not self.closing and state.next_in in self.held:
            self._process_in_order(self.held.pop(state.next_in))
        if not self.held:
            self.resend_requested = False

    def _process_in_order(self, message: TlxMessage) -> None:
        state = self.state
        assert state is not None
        msg_type = message.msg_type
        if msg_type == "4":  # gap fill: jump to 36
            new_seq = message.get(36)
            if not _is_number(new_seq) or int(new_seq) < state.next_in:
                state.next_in += 1
                self._send_reject(message, REJ_VALUE_INCORRECT, 36, "NewSeqNo (36) missing or going backwards")
                return
            state.next_in = int(new_seq)
            return
        state.next_in += 1
        try:
            self._validate(message)
        except _Reject as exc:
            self._send_reject(message, exc.reason, exc.tag, exc.text)
            return
        handler = getattr(self, f"_on_{_HANDLER_NAMES[msg_type]}")
        try:
            handler(message)
        except _Reject as exc:
            self._send_reject(message, exc.reason, exc.tag, exc.text)

    def _validate(self, message: TlxMessage) -> None:
        msg_type = message.msg_type
        allowed = BODY_TAGS.get(msg_type)
        if allowed is None or msg_type not in _HANDLER_NAMES:
            raise _Reject(REJ_INVALID_MSGTYPE, 35, f"unsupported MsgType {msg_type!r}")
        seen: set[int] = set()
        for tag, _ in message.fields:
            if tag in seen and tag < USER_TAG_MIN:
                raise _Reject(REJ_REPEATED_TAG, tag, f"tag {tag} appears more than once")
            seen.add(tag)
            if tag not in HEADER_TAGS and tag not in allowed and tag < USER_TAG_MIN:
                raise _Reject(REJ_UNDEFINED_TAG, tag, f"tag {tag} is not defined for MsgType {msg_type}")
        if 52 not in seen:
            raise _Reject(REJ_REQUIRED_MISSING, 52, "SendingTime (52) is required")

    def _on_sequence_reset(self, message: TlxMessage, seq: int) -> None:
        assert self.state is not None
        new_seq = message.get(36)
        if not _is_number(new_seq) or int(new_seq) < self.state.next_in:
            self._send_reject(message, REJ_VALUE_INCORRECT, 36, "NewSeqNo (36) missing or going backwards")
            return
        self.state.next_in = int(new_seq)
        self.held = {s: m for s, m in self.held.items() if s >= self.state.next_in}

    # ------------------------------------------------------------------ session messages

    def _on_logon(self, message: TlxMessage) -> None:
        member = message.get(49) or ""
        if message.get(56) != EXCHANGE_COMP_ID:
            self.logout(f"TargetCompID (56) must be {EXCHANGE_COMP_ID}", codes.MALFORMED_MESSAGE)
            return
        code, text = self.hub.authenticate(member, message.get(554) or "")
        if code:
            self.logout(f"logon refused: {text}", code)
            return
        heartbeat = message.get(108)
        if not _is_number(heartbeat) or int(heartbeat) > 300:
            self.logout("HeartBtInt (108) is required: 0..300 seconds", codes.MALFORMED_MESSAGE)
            return
        seq_text = message.get(34) or ""
        if not _is_number(seq_text):
            self.logout("MsgSeqNum (34) missing or not a number", codes.MALFORMED_MESSAGE)
            return
        seq = int(seq_text)
        state = self.venue.members.setdefault(member, TlxMemberState())
        previous = self.venue.by_member.get(member)
        if previous is not None and previous is not self:
            previous.logout(f"member {member!r} logged on again from {self.peer}", codes.SUPERSEDED)
            self.hub.detach(member, previous)
        reset = message.get(141) == "Y"
        if reset:
            state.reset()
        elif seq < state.next_in and message.get(43) != "Y":
            self.member = member
            self.logout(f"MsgSeqNum too low, expecting {state.next_in} but received {seq}", codes.SEQUENCE_ERROR)
            return
        expected_by_member = message.get(789)
        if expected_by_member is not None and not _is_number(expected_by_member):
            self.logout("NextExpectedMsgSeqNum (789) is not a number", codes.MALFORMED_MESSAGE)
            return
        if expected_by_member is not None and int(expected_by_member) > state.next_out:
            self.member = member
            self.logout(
                f"NextExpectedMsgSeqNum {expected_by_member} is above our next MsgSeqNum {state.next_out}",
                codes.SEQUENCE_ERROR,
            )
            return
        self.member = member
        self.state = state
        state.begin = message.begin
        self.venue.by_member[member] = self
        gap = seq > state.next_in
        if not gap:
            state.next_in = seq + 1
        self.heartbeat_s = int(heartbeat)
        resume_from = state.delivered_member_seq + 1
        backlog = self.hub.attach(member, self, resume_from)
        self.hub.watch_status(self)
        self.send_admin("A", [(98, "0"), (108, heartbeat), (141, "Y" if reset else "N"), (789, str(state.next_in))])
        if expected_by_member is not None and int(expected_by_member) < state.next_out - 1:
            self.resend(int(expected_by_member), state.next_out - 2)  # everything before our Logon reply
        if gap:
            self.resend_requested = True
            self.held[seq] = TlxMessage(message.begin, [(35, "0"), (34, str(seq)), (52, "")])  # logon: done
            self.send_admin("2", [(7, str(state.next_in)), (16, "0")])
        for event in backlog:
            self.on_member_event(event)
        if self.heartbeat_s:
            self._schedule_heartbeat()
        log.info(
            "tlx %s: member %s logged on (%s), %d backlog events",
            self.peer,
            member,
            message.begin,
            len(backlog),
        )

    def _on_heartbeat(self, message: TlxMessage) -> None:
        pass

    def _on_test_request(self, message: TlxMessage) -> None:
        self.send_admin("0", [(112, message.get(112) or "")])

    def _on_resend_request(self, message: TlxMessage) -> None:
        begin, end = message.get(7), message.get(16)
        if not _is_number(begin) or not _is_number(end):
            raise_reject = _Reject(REJ_REQUIRED_MISSING, 7 if begin is None else 16, "ResendRequest needs 7 and 16")
            self._send_reject(message, raise_reject.reason, raise_reject.tag, raise_reject.text)
            return
        self.resend(int(begin), int(end))

    def _on_reject(self, message: TlxMessage) -> None:
        log.warning("tlx %s (%s): member rejected our message: %s", self.peer, self.member, message.as_text())

    def _on_logout(self, message: TlxMessage) -> None:
        self.logout("logout acknowledged")

    def _on_duplicate_logon(self, message: TlxMessage) -> None:
        raise_reject = _Reject(REJ_VALUE_INCORRECT, 35, f"already logged on as {self.member!r}")
        self._send_reject(message, raise_reject.reason, raise_reject.tag, raise_reject.text)

    def _schedule_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(max(0.05, self.heartbeat_s / 4), self._on_timer)

    def _on_timer(self) -> None:
        if self.closing:
            return
        now = timing.monotonic()
        interval = self.heartbeat_s
        if now - self.last_out >= interval:
            self.send_admin("0", [])
        if now - self.last_in >= interval:
            if self.test_request_sent_at is None:
                self.test_request_sent_at = now
                self.send_admin("1", [(112, f"TEST-{int(self.hub.now())}")])
            elif now - self.test_request_sent_at >= interval:
                self.logout("heartbeat timeout", codes.HEARTBEAT_TIMEOUT)
                return
        self._schedule_heartbeat()

    # ------------------------------------------------------------------ application messages

    def _new_request(self, clordid: str, orig: str, tags: list[tuple[int, str]]) -> int:
        state = self.state
        assert state is not None
        request_id = state.next_request_id
        state.next_request_id += 1
        state.requests[request_id] = (clordid, orig)
        if tags:
            state.tags_by_request[request_id] = tags
        return request_id

    @staticmethod
    def _user_tags(message: TlxMessage) -> list[tuple[int, str]]:
        return [(t, v) for t, v in message.fields if t >= USER_TAG_MIN]

    @staticmethod
    def _require(message: TlxMessage, *tags: int) -> None:
        for tag in tags:
            if not message.get(tag):
                raise _Reject(REJ_REQUIRED_MISSING, tag, f"tag {tag} is required for MsgType {message.msg_type}")

    @staticmethod
    def _int(message: TlxMessage, tag: int) -> int:
        text = message.get(tag) or ""
        if not (_is_number(text) or (text.startswith("-") and _is_number(text[1:]))):
            raise _Reject(REJ_FORMAT, tag, f"tag {tag} must be an integer, got {text!r}")
        return int(text)

    def _price(self, message: TlxMessage, spec: InstrumentSpec | None) -> int | None:
        """Ticks for tag 44; None = not on tick. Unknown instrument: 0 (the engine rejects)."""
        text = message.get(44) or ""
        if spec is None:
            return 0
        try:
            return spec.parse_price(text)
        except ValueError:
            raise _Reject(REJ_FORMAT, 44, f"Price (44) must be a decimal number, got {text!r}") from None

    def _on_new_order(self, message: TlxMessage) -> None:
        assert self.member is not None and self.state is not None
        self._require(message, 11, 55, 54, 38, 40)
        clordid = message.get(11) or ""
        symbol = message.get(55) or ""
        qty = self._int(message, 38)
        order_type = ORD_TYPES.get(message.get(40) or "", 0)
        side = SIDES.get(message.get(54) or "", 0)
        tif_text = message.get(59)
        tif = GTC if tif_text is None else TIFS.get(tif_text, -1)
        request_id = self._new_request(clordid, "", self._user_tags(message))
        spec = self.hub.spec(symbol)
        price = 0
        if order_type == LIMIT:
            self._require(message, 44)
            parsed = self._price(message, spec)
            if parsed is None:
                assert spec is not None
                self.hub.reject_order(
                    self.member,
                    request_id,
                    clordid,
                    symbol,
                    codes.PRICE_NOT_ON_TICK,
                    f"price {message.get(44)} is not a multiple of the tick {spec.tick_size}",
                )
                return
            price = parsed
        if tif == FOK and self.state.begin == "TLX.1":
            self.hub.reject_order(
                self.member,
                request_id,
                clordid,
                symbol,
                codes.INVALID_TIF,
                "FOK (59=4) needs BeginString TLX.2",
            )
            return
        self.hub.new_order(self.member, request_id, clordid, symbol, side, order_type, tif, qty, price)

    def _target(self, message: TlxMessage) -> tuple[int, str]:
        if message.get(37):
            return self._int(message, 37), message.get(41) or ""
        self._require(message, 41)
        return 0, message.get(41) or ""

    def _on_cancel(self, message: TlxMessage) -> None:
        assert self.member is not None
        self._require(message, 11)
        order_id, orig = self._target(message)
        request_id = self._new_request(message.get(11) or "", orig, self._user_tags(message))
        self.hub.cancel(self.member, request_id, order_id, orig if not order_id else "", message.get(55) or "")

    def _on_replace(self, message: TlxMessage) -> None:
        assert self.member is not None
        self._require(message, 11)
        order_id, orig = self._target(message)
        new_clordid = message.get(11) or ""
        request_id = self._new_request(new_clordid, orig, self._user_tags(message))
        qty = self._int(message, 38) if message.has(38) else None
        price: int | None = None
        if message.has(44):
            views = self.hub.order_status(self.member, order_id, orig, "")
            spec = self.hub.spec(views[0].symbol) if views else self.hub.spec(message.get(55) or "")
            parsed = self._price(message, spec)
            if parsed is None:
                assert spec is not None
                self.hub.reject_amend(
                    self.member,
                    request_id,
                    order_id,
                    orig,
                    new_clordid,
                    codes.PRICE_NOT_ON_TICK,
                    f"price {message.get(44)} is not a multiple of the tick {spec.tick_size}",
                )
                return
            price = parsed or None
        self.hub.amend(self.member, request_id, order_id, orig if not order_id else "", new_clordid, qty, price)

    def _on_mass_cancel(self, message: TlxMessage) -> None:
        assert self.member is not None
        self._require(message, 11, 530)
        kind = message.get(530)
        if kind not in ("1", "7"):
            raise _Reject(REJ_VALUE_INCORRECT, 530, "MassCancelRequestType (530) must be 1 (by symbol) or 7 (all)")
        symbol = message.get(55) or "" if kind == "1" else ""
        if kind == "1" and not symbol:
            raise _Reject(REJ_REQUIRED_MISSING, 55, "Symbol (55) is required when 530=1")
        request_id = self._new_request(message.get(11) or "", "", [])
        code, count = self.hub.mass_cancel(self.member, request_id, symbol)
        body = [(11, message.get(11) or ""), (530, kind), (531, "0" if code else kind), (533, str(count))]
        if symbol:
            body.append((55, symbol))
        if code:
            body += [(58, f"unknown instrument {symbol!r}"), (4000, str(code))]
        self.send_app("r", body)

    def _on_order_status(self, message: TlxMessage) -> None:
        assert self.member is not None
        order_id = self._int(message, 37) if message.get(37) else 0
        views = self.hub.order_status(self.member, order_id, message.get(11) or "", message.get(55) or "")
        req = message.get(790) or ""
        if not views:
            self.send_app(
                "8",
                [
                    (790, req),
                    (911, "0"),
                    (37, str(order_id)),
                    (11, message.get(11) or ""),
                    (150, "I"),
                    (39, "8"),
                    (58, "no such order"),
                    (4000, str(codes.UNKNOWN_ORDER)),
                ],
            )
            return
        for view in views:
            spec = self.hub.spec(view.symbol)
            status = {1: "0", 2: "1", 3: "2", 4: "4", 5: "8"}.get(view.state, "0")
            body = [
                (790, req),
                (911, str(len(views))),
                (37, str(view.order_id)),
                (11, view.client_order_id),
                (17, f"S{view.order_id}"),
                (150, "I"),
                (39, status),
                (55, view.symbol),
                (54, SIDE_TEXT.get(view.side, "0")),
                (38, str(view.qty)),
                (40, ORD_TYPE_TEXT.get(view.order_type, "0")),
                (59, TIF_TEXT.get(view.tif, "1")),
                (151, str(view.leaves_qty)),
                (14, str(view.cum_qty)),
            ]
            if view.order_type == LIMIT and spec is not None:
                body.append((44, spec.format_price(view.price_ticks)))
            self.send_app("8", body)

    def _on_security_list(self, message: TlxMessage) -> None:
        body: list[tuple[int, str]] = [(320, message.get(320) or ""), (146, "0")]
        instruments = self.hub.instruments()
        body[1] = (146, str(len(instruments)))
        for spec, status in instruments:
            body += [
                (55, spec.symbol),
                (107, spec.description),
                (15, spec.currency),
                (969, str(spec.tick_size)),
                (4010, str(spec.price_scale)),
                (4011, str(spec.tick_size_units)),
                (4012, str(spec.lot_size)),
                (4013, str(spec.max_order_qty)),
                (4014, str(status)),
            ]
        self.send_app("y", body)

    def _on_market_data_request(self, message: TlxMessage) -> None:
        self._require(message, 262, 263, 55)
        req_id = message.get(262) or ""
        symbol = message.get(55) or ""
        kind = message.get(263)
        if kind == "2":
            self.hub.unsubscribe(symbol, self)
            self.md_ids.pop(symbol, None)
            return
        if kind != "1":
            raise _Reject(REJ_VALUE_INCORRECT, 263, "SubscriptionRequestType (263) must be 1 or 2")
        snapshot = self.hub.subscribe(symbol, self)
        spec = self.hub.spec(symbol)
        if snapshot is None or spec is None:
            self.send_app(
                "Y",
                [
                    (262, req_id),
                    (281, "0"),
                    (58, f"unknown instrument {symbol!r}"),
                    (4000, str(codes.UNKNOWN_INSTRUMENT)),
                ],
            )
            return
        self.md_ids[symbol] = req_id
        self.pending_trades.pop(symbol, None)
        body = [
            (262, req_id),
            (55, symbol),
            (83, str(snapshot.book_seq)),
            (268, str(len(snapshot.bids) + len(snapshot.asks))),
        ]
        for entry_type, levels in (("0", snapshot.bids), ("1", snapshot.asks)):
            for price, qty, count in levels:
                body += [
                    (269, entry_type),
                    (270, spec.format_price(price)),
                    (271, str(qty)),
                    (346, str(count)),
                ]
        self.send_app("W", body)

    # ------------------------------------------------------------------ hub callbacks

    def on_member_event(self, event: MemberEvent) -> None:
        state = self.state
        if state is None or event.member_seq <= state.delivered_member_seq:
            return
        state.delivered_member_seq = event.member_seq
        spec = self.hub.spec(getattr(event, "symbol", ""))
        px = spec.format_price if spec is not None else str
        request = state.requests.get(getattr(event, "request_id", 0))
        if isinstance(event, OrderAccepted | OrderRejected):
            tags = state.tags_by_request.pop(event.request_id, [])
            if isinstance(event, OrderAccepted) and tags:
                state.tags_by_order[event.order_id] = tags
        else:
            order_id = getattr(event, "order_id", 0)
            update = state.tags_by_request.pop(getattr(event, "request_id", 0), None)
            if update:
                merged = dict(state.tags_by_order.get(order_id, []))
                merged.update(update)
                state.tags_by_order[order_id] = sorted(merged.items())
            tags = state.tags_by_order.get(order_id, [])
        common = [(4001, str(event.member_seq))]
        if isinstance(event, OrderAccepted):
            body = [
                (37, str(event.order_id)),
                (11, event.client_order_id),
                (17, f"E{event.member_seq}"),
                (150, "0"),
                (39, "0"),
                (55, event.symbol),
                (54, SIDE_TEXT[event.side]),
                (38, str(event.qty)),
                (40, ORD_TYPE_TEXT[event.order_type]),
            ]
            if event.order_type == LIMIT:
                body.append((44, px(event.price_ticks)))
            body += [(59, TIF_TEXT[event.tif]), (151, str(event.leaves_qty)), (14, "0")]
            self.send_app("8", body + common + tags)
        elif isinstance(event, OrderFill):
            body = [
                (37, str(event.order_id)),
                (11, event.client_order_id),
                (17, f"E{event.member_seq}"),
                (150, "F"),
                (39, "2" if event.leaves_qty == 0 else "1"),
                (55, event.symbol),
                (54, SIDE_TEXT[event.side]),
                (38, str(event.leaves_qty + event.cum_qty)),
                (32, str(event.qty)),
                (31, px(event.price_ticks)),
                (151, str(event.leaves_qty)),
                (14, str(event.cum_qty)),
                (880, str(event.trade_id)),
                (1057, "N" if event.liquidity == MAKER else "Y"),
            ]
            self.send_app("8", body + common + tags)
        elif isinstance(event, OrderCancelled):
            # 11 is the cancel request's ClOrdID for a user cancel, else the order's own.
            if event.reason == REASON_USER and request is not None and request[0] != event.client_order_id:
                clordid, orig = request[0], event.client_order_id
            else:
                clordid, orig = event.client_order_id, ""
            body = [(37, str(event.order_id)), (11, clordid)]
            if orig:
                body.append((41, orig))
            body += [
                (17, f"E{event.member_seq}"),
                (150, "4"),
                (39, "4"),
                (55, event.symbol),
                (151, "0"),
                (14, str(event.cum_qty)),
                (4003, str(event.reason)),
            ]
            self.send_app("8", body + common + tags)
        elif isinstance(event, OrderRejected):
            body = [
                (37, "0"),
                (11, event.client_order_id),
                (17, f"E{event.member_seq}"),
                (150, "8"),
                (39, "8"),
                (55, event.symbol),
                (151, "0"),
                (14, "0"),
                (58, event.text),
                (4000, str(event.code)),
            ]
            self.send_app("8", body + common + tags)
        elif isinstance(event, OrderReplaced):
            body = [
                (37, str(event.order_id)),
                (11, event.client_order_id),
                (41, event.orig_client_order_id),
                (17, f"E{event.member_seq}"),
                (150, "5"),
                (39, "1" if event.cum_qty else "0"),
                (55, event.symbol),
                (38, str(event.qty)),
                (44, px(event.price_ticks)),
                (151, str(event.leaves_qty)),
                (14, str(event.cum_qty)),
            ]
            self.send_app("8", body + common + tags)
        elif isinstance(event, ReplaceRejected | CancelRejected):
            clordid, orig = request if request is not None else (event.client_order_id, event.client_order_id)
            body = [
                (37, str(event.order_id)),
                (11, clordid),
                (41, orig or event.client_order_id),
                (39, "8" if event.code == codes.UNKNOWN_ORDER else "0"),
                (434, "2" if isinstance(event, ReplaceRejected) else "1"),
                (58, event.text),
                (4000, str(event.code)),
            ]
            self.send_app("9", body + common)

    def on_trade(self, event: TradePrint) -> None:
        self.pending_trades.setdefault(event.symbol, []).append(event)

    def on_book_update(self, event: BookUpdate) -> None:
        spec = self.hub.spec(event.symbol)
        if spec is None:
            return
        trades = self.pending_trades.pop(event.symbol, [])
        body = [
            (262, self.md_ids.get(event.symbol, "")),
            (55, event.symbol),
            (83, str(event.book_seq)),
            (268, str(len(trades) + len(event.changes))),
        ]
        for trade in trades:
            body += [
                (279, "0"),
                (269, "2"),
                (270, spec.format_price(trade.price_ticks)),
                (271, str(trade.qty)),
                (1003, str(trade.trade_id)),
                (2446, SIDE_TEXT[trade.aggressor_side]),
            ]
        for side, price, qty, count in event.changes:
            body += [
                (279, "2" if qty == 0 else "1"),
                (269, "0" if side == BUY else "1"),
                (270, spec.format_price(price)),
                (271, str(qty)),
                (346, str(count)),
            ]
        self.send_app("X", body)

    def on_status(self, event: StatusChange) -> None:
        self.send_app("f", [(55, event.symbol), (4014, str(event.status))])


_HANDLER_NAMES = {
    "A": "duplicate_logon",
    "0": "heartbeat",
    "1": "test_request",
    "2": "resend_request",
    "3": "reject",
    "5": "logout",
    "D": "new_order",
    "F": "cancel",
    "G": "replace",
    "q": "mass_cancel",
    "H": "order_status",
    "x": "security_list",
    "V": "market_data_request",
}
