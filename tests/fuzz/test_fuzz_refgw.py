"""Fuzz the gateway's client-protocol decoding in-process (HEAD, from gateways/refgw/src):
the Session protocol's frame cutting and dispatch, ``framing.read_frame`` over a StreamReader
and ``wire.extension_bytes``.

The session runs against a real ``Gateway`` core whose venue is a recorder (no exchange: this
layer is the client side's decoding); the live test drives the real process.

Properties: every answer is a well-formed frame; a frame that breaks the framing (length
below 4, oversize, EOF inside it) gets a Reject MALFORMED_MESSAGE; an oversize payload is
skipped, never buffered (the buffer stays below one capped frame); no request reaches the
session's catch-all Reject ("cannot process: ..."), which is how a handler bug shows.
"""

from __future__ import annotations

import asyncio

from fuzz_support import (
    CUTS,
    HUGE_U32,
    U32,
    RecordingTransport,
    cut,
    fuzz_settings,
    mutated,
    protobuf_message,
    split_frames,
)
from google.protobuf.message import Message
from hypothesis import example, given
from hypothesis import strategies as st
from refgw import refgw_pb2 as pb
from refgw.config import Config
from refgw.core import Gateway
from refgw.framing import MAX_FRAME, FrameError, encode, read_frame, skip_bytes
from refgw.model import InstrumentDef
from refgw.session import Session
from refgw.venues import Venue
from refgw.wire import EXT_MAX, EXT_MIN, extension_bytes

REQUESTS: dict[int, type[Message]] = {
    pb.LOGON_REQUEST: pb.LogonRequest,
    pb.LOGOUT: pb.Logout,
    pb.HEARTBEAT: pb.Heartbeat,
    pb.INSTRUMENTS_REQUEST: pb.InstrumentsRequest,
    pb.INSERT_ORDER: pb.InsertOrder,
    pb.CANCEL_ORDER: pb.CancelOrder,
    pb.SUBSCRIBE: pb.Subscribe,
    pb.AMEND_ORDER: pb.AmendOrder,
    pb.MASS_CANCEL: pb.MassCancel,
}
ANSWERS: dict[int, type[Message]] = {
    pb.LOGON_RESPONSE: pb.LogonResponse,
    pb.LOGOUT: pb.Logout,
    pb.HEARTBEAT: pb.Heartbeat,
    pb.INSTRUMENTS_RESPONSE: pb.InstrumentsResponse,
    pb.EXECUTION_REPORT: pb.ExecutionReport,
    pb.REJECT: pb.Reject,
    pb.MASS_CANCEL_ACK: pb.MassCancelAck,
    pb.TOP_OF_BOOK: pb.TopOfBook,
    pb.BOOK_SNAPSHOT: pb.BookSnapshot,
    pb.BOOK_INCREMENTAL: pb.BookIncremental,
    pb.INSTRUMENT_STATUS: pb.InstrumentStatus,
    pb.TRADE_REPORT: pb.TradeReport,
}
SYMBOLS = st.sampled_from(["ABC", "XYZ", "NOPE", ""]) | st.text(max_size=6)


class RecordingVenue(Venue):
    """The venue side as a recorder: the gateway core's orders land in ``sent``."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0, "FUZZ", "", "fuzz", lambda ev: None, lambda ev: None, lambda n: None)
        self.instruments = {
            "ABC": InstrumentDef("ABC", "ABC", "EUR", 2, 1, 1, 1_000_000, "OPEN"),
            "XYZ": InstrumentDef("XYZ", "XYZ", "EUR", 3, 5, 1, 1_000_000, "HALTED"),
        }
        self._held_events = None
        self.sent: list[tuple[str, object]] = []

    def new_order(
        self, coid: str, symbol: str, side: str, order_type: str, tif: str, qty: int, price_ticks: int
    ) -> None:
        self.sent.append(("new", (coid, symbol, side, order_type, tif, qty, price_ticks)))

    def cancel(self, coid: str, symbol: str, exch_order_id: str = "") -> None:
        self.sent.append(("cancel", coid))

    def amend(
        self, coid: str, symbol: str, side: str, qty: int | None, price_ticks: int | None, exch_order_id: str = ""
    ) -> None:
        self.sent.append(("amend", coid))

    def mass_cancel(self, symbol: str) -> None:
        self.sent.append(("mass_cancel", symbol))

    def subscribe(self, symbol: str) -> None:
        self.sent.append(("subscribe", symbol))


any_request = st.sampled_from(sorted(REQUESTS)).flatmap(
    lambda t: protobuf_message(REQUESTS[t], SYMBOLS).map(lambda m: encode(t, m.SerializeToString()))
)
valid_stream = st.lists(any_request, min_size=1, max_size=4).map(b"".join)
garbage = st.one_of(
    valid_stream,
    st.binary(max_size=512),
    valid_stream.flatmap(mutated),
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=64)).map(
        lambda t: U32.pack(t[0]) + U32.pack(t[1]) + t[2]
    ),
    st.tuples(st.integers(0, 40), st.binary(max_size=64)).map(lambda t: encode(t[0], t[1])),  # any type, garbage body
)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


ORDER = pb.InsertOrder(
    request_id=5, symbol="ABC", side=pb.BUY, qty=1, order_type=pb.LIMIT, price_ticks=100, client_order_id="g1"
).SerializeToString()
GROUP_EXTENSION = varint(1500 << 3 | 3) + varint(1 << 3) + varint(7) + varint(1500 << 3 | 4)


def logon(version: int = 3) -> bytes:
    msg = pb.LogonRequest(request_id=1, username="fuzz", protocol_min=1, protocol_max=version)
    return encode(pb.LOGON_REQUEST, msg.SerializeToString())


def run_session(chunks: list[bytes], eof: bool = True) -> tuple[list[tuple[int, object]], RecordingTransport, int]:
    async def scenario() -> tuple[RecordingTransport, int]:
        gw = Gateway(RecordingVenue(), Config())
        session = Session(gw)
        transport = RecordingTransport()
        session.connection_made(transport)  # type: ignore[arg-type]
        most = 0
        for chunk in chunks:
            session.data_received(chunk)
            most = max(most, len(session._buf))
        if eof:
            session.eof_received()
        transport.closed_by_session = transport.closed
        session.connection_lost(None)
        return transport, most

    transport, most = asyncio.run(scenario())
    frames, tail = split_frames(bytes(transport.written))
    assert tail == b"", "the gateway wrote a partial frame"
    answers: list[tuple[int, object]] = []
    for msg_type, payload in frames:
        assert msg_type in ANSWERS, f"the gateway answered with message type {msg_type}"
        message = ANSWERS[msg_type]()
        message.ParseFromString(payload)
        answers.append((msg_type, message))
    return answers, transport, most


def rejects(answers: list[tuple[int, object]]) -> list[pb.Reject]:
    return [m for t, m in answers if t == pb.REJECT and isinstance(m, pb.Reject)]


@fuzz_settings(100)
@given(CUTS, st.sampled_from([b"", logon(2), logon(3)]), garbage)
@example([], logon(3), encode(pb.INSERT_ORDER, ORDER + GROUP_EXTENSION))  # a group once reached the catch-all
def test_session_decodes_any_bytes_in_any_cutting(cuts: list[int], prefix: bytes, stream: bytes) -> None:
    answers, _, most = run_session(cut(prefix + stream, cuts))
    assert most <= MAX_FRAME + 8, f"{most} bytes buffered, more than one capped frame"
    for reject in rejects(answers):
        assert reject.code and reject.text, f"a Reject without code or text: {reject}"
        assert not reject.text.startswith("cannot process"), f"a request reached the catch-all: {reject.text}"


@fuzz_settings(80)
@given(CUTS, HUGE_U32.filter(lambda n: n - 4 > MAX_FRAME), st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_oversize_frame_is_rejected_and_skipped_unbuffered(cuts: list[int], length: int, t: int, tail: bytes) -> None:
    stream = U32.pack(length) + U32.pack(t) + tail + logon()
    answers, transport, most = run_session(cut(stream, cuts), eof=False)
    assert most <= len(stream), f"{most} bytes buffered for an oversize frame"
    first = rejects(answers)[:1]
    assert first and first[0].code == pb.MALFORMED_MESSAGE and str(length - 4) in first[0].text, answers
    assert not transport.closed_by_session, "an oversize frame is skipped, the session stays open"
    # The claimed payload swallows everything after the header (it is still "arriving").
    assert [t for t, _ in answers] == [pb.REJECT], answers


@fuzz_settings(60)
@given(CUTS, st.integers(0, 3), st.integers(0, 2**32 - 1), st.binary(max_size=32))
def test_length_below_four_is_rejected_and_closes(cuts: list[int], length: int, t: int, tail: bytes) -> None:
    answers, transport, _ = run_session(cut(logon() + U32.pack(length) + U32.pack(t) + tail, cuts), eof=False)
    assert transport.closed_by_session
    last = rejects(answers)[-1]
    assert last.code == pb.MALFORMED_MESSAGE and f"frame length {length}" in last.text


@fuzz_settings(60)
@given(st.integers(1, MAX_FRAME), st.integers(0, 2**32 - 1), st.data())
def test_eof_inside_a_frame_is_rejected(payload_len: int, t: int, data: st.DataObject) -> None:
    sent = data.draw(st.integers(0, min(payload_len - 1, 256)))
    answers, transport, _ = run_session([U32.pack(payload_len + 4) + U32.pack(t) + b"\x00" * sent])
    assert transport.closed_by_session
    assert [r.code for r in rejects(answers)] == [pb.MALFORMED_MESSAGE]
    assert "truncated frame" in rejects(answers)[0].text


# ---------------------------------------------------------------------------- framing.read_frame


async def read_all(chunks: list[bytes]) -> tuple[list[tuple[int, bytes]], BaseException | None]:
    reader = asyncio.StreamReader(limit=1 << 16)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    frames: list[tuple[int, bytes]] = []
    while True:
        try:
            frames.append(await read_frame(reader))
        except FrameError as exc:
            if exc.fatal:
                return frames, exc
            assert exc.skip is not None and exc.skip > MAX_FRAME
            try:
                await skip_bytes(reader, exc.skip)
            except asyncio.IncompleteReadError as eof:
                return frames, eof
        except asyncio.IncompleteReadError as exc:
            return frames, exc


@fuzz_settings(80)
@given(CUTS, garbage)
def test_read_frame_raises_only_its_documented_errors(cuts: list[int], stream: bytes) -> None:
    frames, error = asyncio.run(read_all(cut(stream, cuts)))
    assert isinstance(error, FrameError | asyncio.IncompleteReadError), repr(error)
    if isinstance(error, asyncio.IncompleteReadError):
        # Only the clean end between frames ends this way (a header or payload cut short is a FrameError).
        assert error.partial == b"", repr(error)
    consumed = sum(8 + len(p) for _, p in frames)
    assert [(t, p) for t, p in frames] == split_frames(stream[:consumed])[0]


# ---------------------------------------------------------------------------- wire.extension_bytes


FIELD_NUMBERS = st.sampled_from([1, 2, 15, 16, 999, EXT_MIN, 1500, EXT_MAX, 2000]) | st.integers(1, 2**29 - 1)


@st.composite
def protobuf_field(draw: st.DrawFn, depth: int = 0) -> tuple[int, bytes]:
    """(number, encoding) of one varint/64-bit/length/32-bit field or a group of them."""
    number = draw(FIELD_NUMBERS)
    wire_type = draw(st.sampled_from([0, 1, 2, 5, 3] if depth < 2 else [0, 1, 2, 5]))
    if wire_type == 3:
        inner = draw(st.lists(protobuf_field(depth + 1), max_size=3))
        body = b"".join(f for _, f in inner) + varint(number << 3 | 4)
    else:
        body = {
            0: varint(draw(st.integers(0, 2**64 - 1))),
            1: draw(st.binary(min_size=8, max_size=8)),
            2: (lambda b: varint(len(b)) + b)(draw(st.binary(max_size=20))),
            5: draw(st.binary(min_size=4, max_size=4)),
        }[wire_type]
    return number, varint(number << 3 | wire_type) + body


@st.composite
def protobuf_fields(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(payload, its fields numbered EXT_MIN..EXT_MAX)."""
    fields = draw(st.lists(protobuf_field(), max_size=6))
    payload = b"".join(f for _, f in fields)
    return payload, b"".join(f for n, f in fields if EXT_MIN <= n <= EXT_MAX)


@fuzz_settings(80)
@given(protobuf_fields())
def test_extension_bytes_copies_exactly_the_extension_fields(fields: tuple[bytes, bytes]) -> None:
    payload, ext = fields
    assert extension_bytes(payload) == ext


@fuzz_settings(80)
@given(st.one_of(st.binary(max_size=256), protobuf_fields().flatmap(lambda f: mutated(f[0]))))
def test_extension_bytes_returns_bytes_or_raises_value_error(payload: bytes) -> None:
    try:
        out = extension_bytes(payload)
    except ValueError as exc:
        assert str(exc)
    else:
        assert len(out) <= len(payload)


@fuzz_settings(100)
@given(st.one_of(protobuf_fields().map(lambda f: ORDER + f[0]), protobuf_fields().flatmap(lambda f: mutated(f[0]))))
@example(ORDER + GROUP_EXTENSION)
def test_extension_bytes_takes_whatever_the_parser_takes(payload: bytes) -> None:
    try:
        pb.InsertOrder().ParseFromString(payload)
    except Exception:
        return  # the session rejects it before extension_bytes is reached
    extension_bytes(payload)  # must not raise: the order would get the catch-all Reject
