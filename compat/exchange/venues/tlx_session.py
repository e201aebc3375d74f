"""TLX's session layer (QuickFIX model): sequence numbers, resend, gap fill, heartbeats, logon.

Session state (sequence numbers both ways, the outbound store for resends, the member-stream
cursor) belongs to the *member* and survives reconnects for the life of the process; a
connection is just the current carrier (docs/exchange-protocol.md §2.2, §2.3). The messages
this layer lets through in sequence are handed to the application handler that
``handlers`` names for their type; the application layer (``tlx.py``) supplies those.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar, TypeGuard

from compat.errors import TlxReject
from compat.exchange import codes
from compat.exchange.events import MemberEvent
from compat.exchange.venues.base import Venue, VenueSession, heartbeat_interval_problem
from compat.exchange.venues.tlx_codec import TlxDecoder, TlxMessage, encode, format_time
from compat.exchange.venues.tlx_tags import BODY_TAGS, HEADER_TAGS, USER_TAG_MIN, RejectReason, Tag

log = logging.getLogger("compat.exchange.tlx")

EXCHANGE_COMP_ID = "TLX"
MAX_HELD = 10_000  # inbound messages queued behind a sequence gap before we give up
# Outbound messages kept per member for ResendRequest and a Logon's 789: the latest this many
# (trimmed past twice that, so the cost per message stays O(1) amortised), as the member
# stream keeps its latest STREAM_RETENTION events. Without a bound a member's store held every
# message it was ever sent (~1.3 KB each with the request map, for the exchange's lifetime).
# A resend of older messages is a SequenceReset-GapFill, as for admin messages.
STORE_RETENTION = 100_000


@dataclass
class Stored:
    msg_type: str
    body: list[tuple[int, str]]
    sending_time: str
    admin: bool


@dataclass
class SessionState:
    """A member's TLX session that outlives a connection."""

    next_out: int = 1
    next_in: int = 1
    store: dict[int, Stored] = field(default_factory=dict)
    delivered_member_seq: int = 0  # the member stream up to here went into the outbound sequence
    begin: str = "TLX.2"
    retention: int = field(default_factory=lambda: STORE_RETENTION)  # read at creation: tests lower it

    def reset(self) -> None:
        self.next_out = 1
        self.next_in = 1
        self.store.clear()

    def keep(self, seq: int, stored: Stored) -> None:
        """Store outbound ``seq``; past twice the retention, only the latest ``retention`` stay."""
        store = self.store
        store[seq] = stored
        if len(store) > 2 * self.retention:
            drop_oldest(store, len(store) - self.retention)


def drop_oldest(mapping: dict[int, Any], count: int) -> None:
    """Remove the first ``count`` keys of ``mapping`` (insertion order: the oldest)."""
    for key in list(islice(mapping, count)):
        del mapping[key]


def is_number(text: str | None) -> TypeGuard[str]:
    """ASCII digits that int() takes: str.isdigit alone also passes "²" (int() refuses it)
    and 5000-digit strings (beyond int()'s 4300-digit limit)."""
    return text is not None and text.isascii() and text.isdigit() and len(text) <= 18


def session_reject(session_reason: int, tag: int, text: str) -> TlxReject:
    """The session Reject (35=3) of the message being processed, to raise."""
    return TlxReject(codes.MALFORMED_MESSAGE, text, session_reason, tag)


class TlxSessionLayer(VenueSession[TlxMessage]):
    """The TLX session of one connection, without the application messages."""

    dialect = "tlx"
    log = log
    # MsgType -> the method that handles it once it is in sequence and valid; the
    # application layer adds its types. "4" (SequenceReset) is handled by sequencing itself.
    handlers: ClassVar[dict[str, str]] = {
        "A": "_on_duplicate_logon",
        "0": "_on_heartbeat",
        "1": "_on_test_request",
        "2": "_on_resend_request",
        "3": "_on_reject",
        "5": "_on_logout",
    }

    def __init__(self, venue: Venue[Any]) -> None:
        super().__init__(venue, TlxDecoder())
        self.state: SessionState | None = None
        self.held: dict[int, TlxMessage] = {}  # inbound above the expected seq, until the gap is filled
        self.resend_requested = False
        self.test_request_sent_at: float | None = None

    @abc.abstractmethod
    def _member_state(self, member: str) -> SessionState:
        """The member's state, kept by the venue across connections (made on first logon)."""

    @abc.abstractmethod
    def resend_member_event(self, event: MemberEvent) -> None:
        """Send again, as a new message flagged PossResend (97=Y), a member event that went into
        an earlier outbound sequence (a logon's ResumeFromMemberSeq, 4021)."""

    # ------------------------------------------------------------------ transport

    def data_received(self, data: bytes) -> None:
        self.test_request_sent_at = None  # the member spoke: any TestRequest is answered
        super().data_received(data)

    def _on_unit(self, message: TlxMessage) -> None:
        try:
            self._on_message(message)
        except Exception as exc:  # one bad request must never take the exchange down
            log.exception("tlx %s (%s): failed on %s", self.peer, self.member, message.as_text())
            self._send_reject(message, RejectReason.VALUE_INCORRECT, 0, f"request could not be processed: {exc}")

    # ------------------------------------------------------------------ sending

    def _header(self, msg_type: str, seq: int, sending_time: str) -> list[tuple[int, str]]:
        return [
            (Tag.MSG_TYPE, msg_type),
            (Tag.MSG_SEQ_NUM, str(seq)),
            (Tag.SENDER_COMP_ID, EXCHANGE_COMP_ID),
            (Tag.TARGET_COMP_ID, self.member or "?"),
            (Tag.SENDING_TIME, sending_time),
        ]

    def _send(self, msg_type: str, body: list[tuple[int, str]], admin: bool) -> None:
        """Sequence, store and send (stored even while disconnected: it is resent on demand)."""
        state = self.state
        sending_time = format_time(self.hub.now())
        if state is None:  # before logon: unsequenced (only a Logout can be sent then)
            self._write(encode("TLX.2", [*self._header(msg_type, 1, sending_time), *body]))
        else:
            seq = state.next_out
            state.next_out += 1
            state.keep(seq, Stored(msg_type, body, sending_time, admin))
            self._write(encode(state.begin, [*self._header(msg_type, seq, sending_time), *body]))

    def send_app(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self._send(msg_type, body, admin=False)

    def send_admin(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self._send(msg_type, body, admin=True)

    def _send_logout(self, code: int, reason: str) -> None:
        body: list[tuple[int, str]] = [(Tag.TEXT, reason)]
        if code:
            body.append((Tag.RESULT_CODE, str(code)))
        self.send_admin("5", body)

    def _send_reject(self, message: TlxMessage, reason: int, tag: int, text: str) -> None:
        body: list[tuple[int, str]] = [(Tag.REF_SEQ_NUM, message.get(Tag.MSG_SEQ_NUM) or "0")]
        if tag:
            body.append((Tag.REF_TAG_ID, str(tag)))
        body += [
            (Tag.REF_MSG_TYPE, message.msg_type or "?"),
            (Tag.SESSION_REJECT_REASON, str(reason)),
            (Tag.TEXT, text),
            (Tag.RESULT_CODE, str(codes.MALFORMED_MESSAGE)),
        ]
        if self.state is None:
            self.logout(codes.MALFORMED_MESSAGE, text)
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
                    (Tag.MSG_TYPE, stored.msg_type),
                    (Tag.MSG_SEQ_NUM, str(seq)),
                    (Tag.SENDER_COMP_ID, EXCHANGE_COMP_ID),
                    (Tag.TARGET_COMP_ID, self.member or "?"),
                    (Tag.SENDING_TIME, now),
                    (Tag.POSS_DUP_FLAG, "Y"),
                    (Tag.ORIG_SENDING_TIME, stored.sending_time),
                    *stored.body,
                ]
                self._write(encode(state.begin, fields))
            seq += 1
        if gap_start is not None:
            self._gap_fill(gap_start, end + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: str) -> None:
        assert self.state is not None
        fields: list[tuple[int, str]] = [
            (Tag.MSG_TYPE, "4"),
            (Tag.MSG_SEQ_NUM, str(seq)),
            (Tag.SENDER_COMP_ID, EXCHANGE_COMP_ID),
            (Tag.TARGET_COMP_ID, self.member or "?"),
            (Tag.SENDING_TIME, now),
            (Tag.POSS_DUP_FLAG, "Y"),
            (Tag.ORIG_SENDING_TIME, now),
            (Tag.GAP_FILL_FLAG, "Y"),
            (Tag.NEW_SEQ_NO, str(new_seq)),
        ]
        self._write(encode(self.state.begin, fields))

    # ------------------------------------------------------------------ inbound: sequencing

    def _on_message(self, message: TlxMessage) -> None:
        """Sequence one message: in order it is processed, above the expected seq it is held."""
        if message.problem is not None:
            reason, tag, text = message.problem
            self._send_reject(message, reason, tag, text)
            return
        msg_type = message.msg_type
        if self.state is None:
            if msg_type != "A":
                self.logout(codes.NOT_LOGGED_ON, "first message must be Logon (35=A)")
                return
            self._on_logon(message)
            return
        if message.begin != self.state.begin:
            self.logout(codes.BAD_FRAMING, "Incorrect BeginString")
            return
        seq_text = message.get(Tag.MSG_SEQ_NUM)
        if not is_number(seq_text):
            self._send_reject(
                message,
                RejectReason.REQUIRED_TAG_MISSING if seq_text is None else RejectReason.INCORRECT_DATA_FORMAT,
                Tag.MSG_SEQ_NUM,
                "MsgSeqNum (34) missing or not a number",
            )
            return
        if message.get(Tag.SENDER_COMP_ID) != self.member or message.get(Tag.TARGET_COMP_ID) != EXCHANGE_COMP_ID:
            self.logout(codes.MALFORMED_MESSAGE, f"CompID problem: expected 49={self.member} 56={EXCHANGE_COMP_ID}")
            return
        seq = int(seq_text)
        state = self.state
        if msg_type == "4" and message.get(Tag.GAP_FILL_FLAG) != "Y":
            self._on_sequence_reset(message, seq)  # reset mode ignores 34
            return
        if seq < state.next_in:
            if message.get(Tag.POSS_DUP_FLAG) == "Y":
                return  # a duplicate we already processed
            self.logout(codes.SEQUENCE_ERROR, f"MsgSeqNum too low, expecting {state.next_in} but received {seq}")
            return
        if seq > state.next_in:
            if len(self.held) >= MAX_HELD:
                self.logout(
                    codes.SEQUENCE_ERROR,
                    f"more than {MAX_HELD} messages held waiting for MsgSeqNum {state.next_in}",
                )
                return
            self.held[seq] = message
            if not self.resend_requested:
                self._request_resend(state.next_in)
            return
        self._process_in_order(message)
        while not self.closing and state.next_in in self.held:
            self._process_in_order(self.held.pop(state.next_in))
        if not self.held:
            self.resend_requested = False

    def _request_resend(self, begin: int) -> None:
        self.resend_requested = True
        self.send_admin("2", [(Tag.BEGIN_SEQ_NO, str(begin)), (Tag.END_SEQ_NO, "0")])

    def _process_in_order(self, message: TlxMessage) -> None:
        state = self.state
        assert state is not None
        msg_type = message.msg_type
        if msg_type == "4":  # gap fill: jump to 36
            new_seq = message.get(Tag.NEW_SEQ_NO)
            if not is_number(new_seq) or int(new_seq) < state.next_in:
                state.next_in += 1
                self._send_reject(
                    message, RejectReason.VALUE_INCORRECT, Tag.NEW_SEQ_NO, "NewSeqNo (36) missing or going backwards"
                )
                return
            state.next_in = int(new_seq)
            return
        state.next_in += 1
        try:
            self._validate(message)
            getattr(self, self.handlers[msg_type])(message)
        except TlxReject as exc:
            self._send_reject(message, exc.session_reason, exc.tag, exc.reason)

    def _validate(self, message: TlxMessage) -> None:
        msg_type = message.msg_type
        allowed = BODY_TAGS.get(msg_type)
        if allowed is None or msg_type not in self.handlers:
            raise session_reject(RejectReason.INVALID_MSG_TYPE, Tag.MSG_TYPE, f"unsupported MsgType {msg_type!r}")
        seen: set[int] = set()
        for tag, _ in message.fields:
            if tag in seen and tag < USER_TAG_MIN:
                raise session_reject(RejectReason.TAG_REPEATED, tag, f"tag {tag} appears more than once")
            seen.add(tag)
            if tag not in HEADER_TAGS and tag not in allowed and tag < USER_TAG_MIN:
                raise session_reject(
                    RejectReason.UNDEFINED_TAG, tag, f"tag {tag} is not defined for MsgType {msg_type}"
                )
        if Tag.SENDING_TIME not in seen:
            raise session_reject(RejectReason.REQUIRED_TAG_MISSING, Tag.SENDING_TIME, "SendingTime (52) is required")

    def _on_sequence_reset(self, message: TlxMessage, seq: int) -> None:
        assert self.state is not None
        new_seq = message.get(Tag.NEW_SEQ_NO)
        if not is_number(new_seq) or int(new_seq) < self.state.next_in:
            self._send_reject(
                message, RejectReason.VALUE_INCORRECT, Tag.NEW_SEQ_NO, "NewSeqNo (36) missing or going backwards"
            )
            return
        self.state.next_in = int(new_seq)
        self.held = {s: m for s, m in self.held.items() if s >= self.state.next_in}

    # ------------------------------------------------------------------ session messages

    def _on_logon(self, message: TlxMessage) -> None:
        member = message.get(Tag.SENDER_COMP_ID) or ""
        if message.get(Tag.TARGET_COMP_ID) != EXCHANGE_COMP_ID:
            self.logout(codes.MALFORMED_MESSAGE, f"TargetCompID (56) must be {EXCHANGE_COMP_ID}")
            return
        code, text = self.hub.authenticate(member, message.get(Tag.PASSWORD) or "")
        if code:
            self.logout(code, f"logon refused: {text}")
            return
        heartbeat = message.get(Tag.HEART_BT_INT)
        if not is_number(heartbeat) or int(heartbeat) > 300:
            self.logout(codes.MALFORMED_MESSAGE, "HeartBtInt (108) is required: 0..300 seconds")
            return
        heartbeat_ms = message.get(Tag.HEART_BT_INT_MS)
        if heartbeat_ms is not None:
            problem = heartbeat_interval_problem(int(heartbeat_ms)) if is_number(heartbeat_ms) else "not a number"
            if problem:
                self.logout(codes.MALFORMED_MESSAGE, f"HeartBtIntMs (4020) {problem}")
                return
        seq_text = message.get(Tag.MSG_SEQ_NUM) or ""
        if not is_number(seq_text):
            self.logout(codes.MALFORMED_MESSAGE, "MsgSeqNum (34) missing or not a number")
            return
        resume_member = message.get(Tag.RESUME_FROM_MEMBER_SEQ)
        if resume_member is not None and not is_number(resume_member):
            self.logout(codes.MALFORMED_MESSAGE, "ResumeFromMemberSeq (4021) is not a number")
            return
        seq = int(seq_text)
        state = self._member_state(member)
        self._supersede(member)
        reset = message.get(Tag.RESET_SEQ_NUM_FLAG) == "Y"
        if reset:
            state.reset()
        elif seq < state.next_in and message.get(Tag.POSS_DUP_FLAG) != "Y":
            self.member = member
            self.logout(codes.SEQUENCE_ERROR, f"MsgSeqNum too low, expecting {state.next_in} but received {seq}")
            return
        expected_by_member = message.get(Tag.NEXT_EXPECTED_MSG_SEQ_NUM)
        if expected_by_member is not None and not is_number(expected_by_member):
            self.logout(codes.MALFORMED_MESSAGE, "NextExpectedMsgSeqNum (789) is not a number")
            return
        if expected_by_member is not None and int(expected_by_member) > state.next_out:
            self.member = member
            self.logout(
                codes.SEQUENCE_ERROR,
                f"NextExpectedMsgSeqNum {expected_by_member} is above our next MsgSeqNum {state.next_out}",
            )
            return
        self.state = state
        state.begin = message.begin
        gap = seq > state.next_in
        if not gap:
            state.next_in = seq + 1
        undelivered = state.delivered_member_seq + 1
        # What went into an outbound sequence that a fresh logon (141=Y) reset since is gone for a
        # resend: 4021 asks for the member events from that MemberSeq again, by the member stream
        # (as OBX's resume_from_seq), whatever became of the sequence.
        resume_from = undelivered
        if resume_member is not None and int(resume_member) >= 1:
            resume_from = min(int(resume_member), undelivered)
        backlog = self._attach(member, resume_from)
        reply = [
            (Tag.ENCRYPT_METHOD, "0"),
            (Tag.HEART_BT_INT, heartbeat),
            (Tag.RESET_SEQ_NUM_FLAG, "Y" if reset else "N"),
            (Tag.NEXT_EXPECTED_MSG_SEQ_NUM, str(state.next_in)),
        ]
        if heartbeat_ms is not None:
            reply.append((Tag.HEART_BT_INT_MS, heartbeat_ms))
        self.send_admin("A", reply)
        if expected_by_member is not None and int(expected_by_member) < state.next_out - 1:
            self.resend(int(expected_by_member), state.next_out - 2)  # everything before our Logon reply
        if gap:  # the logon itself is done: hold a heartbeat in its place until the gap is filled
            self.held[seq] = TlxMessage(
                message.begin, [(Tag.MSG_TYPE, "0"), (Tag.MSG_SEQ_NUM, str(seq)), (Tag.SENDING_TIME, "")]
            )
            self._request_resend(state.next_in)
        for event in backlog:
            if event.member_seq < undelivered:
                self.resend_member_event(event)
            else:
                self.on_member_event(event)
        # HeartBtIntMs (an exchange extension) says it finer than HeartBtInt's whole seconds.
        self.start_heartbeats(int(heartbeat_ms) / 1000 if heartbeat_ms is not None else int(heartbeat))
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
        self.send_admin("0", [(Tag.TEST_REQ_ID, message.get(Tag.TEST_REQ_ID) or "")])

    def _on_resend_request(self, message: TlxMessage) -> None:
        begin, end = message.get(Tag.BEGIN_SEQ_NO), message.get(Tag.END_SEQ_NO)
        if not is_number(begin) or not is_number(end):
            tag = Tag.BEGIN_SEQ_NO if begin is None else Tag.END_SEQ_NO
            self._send_reject(message, RejectReason.REQUIRED_TAG_MISSING, tag, "ResendRequest needs 7 and 16")
            return
        self.resend(int(begin), int(end))

    def _on_reject(self, message: TlxMessage) -> None:
        log.warning("tlx %s (%s): member rejected our message: %s", self.peer, self.member, message.as_text())

    def _on_logout(self, message: TlxMessage) -> None:
        self.logout(codes.OK, "logout acknowledged")

    def _on_duplicate_logon(self, message: TlxMessage) -> None:
        self._send_reject(message, RejectReason.VALUE_INCORRECT, Tag.MSG_TYPE, f"already logged on as {self.member!r}")

    def _on_heartbeat_tick(self, now: float) -> None:
        """QuickFIX's rule: a Heartbeat after an interval of our silence, a TestRequest after an
        interval of the member's, and a logout if that goes unanswered for another interval."""
        interval = self.heartbeat_s
        if now - self.last_out >= interval:
            self.send_admin("0", [])
        if now - self.last_in >= interval:
            if self.test_request_sent_at is None:
                self.test_request_sent_at = now
                self.send_admin("1", [(Tag.TEST_REQ_ID, f"TEST-{int(self.hub.now())}")])
            elif now - self.test_request_sent_at >= interval:
                self.logout(codes.HEARTBEAT_TIMEOUT, "heartbeat timeout")
