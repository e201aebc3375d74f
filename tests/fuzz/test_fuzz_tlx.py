"""Fuzz the exchange's TLX decoders in-process: TlxDecoder (tag=value framing) and the TLX venue
session (real Hub and engine, a recording transport instead of a socket).

Properties: the decoder returns messages or raises TlxFramingError (BAD_FRAMING /
FRAME_TOO_LARGE), nothing else leaks; cutting the stream differently never changes the
result; a huge or over-long BodyLength is refused at the header without buffering; the
buffer stays below one capped message; the session answers a framing error with one Logout
and closes, and no request reaches its catch-all (which logs an ERROR with a traceback).
"""

from __future__ import annotations

import asyncio
import tracemalloc

from fuzz_support import CUTS, ErrorRecords, RecordingTransport, cut, fuzz_settings, mutated
from hypothesis import example, given
from hypothesis import strategies as st

from compat.errors import TlxFramingError
from compat.exchange import codes
from compat.exchange.hub import Hub
from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE, load_config
from compat.exchange.venues.tlx import TlxVenue
from compat.exchange.venues.tlx_codec import MAX_MESSAGE, TlxDecoder, TlxMessage, encode
from compat.exchange.venues.tlx_tags import BODY_TAGS, HEADER_TAGS

CONFIG = load_config(DEFAULT_INSTRUMENTS_FILE)
FRAMING_CODES = {codes.BAD_FRAMING, codes.FRAME_TOO_LARGE}
MOST_PENDING = MAX_MESSAGE + 128  # one capped body plus its 8=, 9= and 10= fields
SENDING_TIME = "20261125-19:00:00.000"

# Values a hostile peer would try: numbers that only look like numbers (non-ASCII digits
# pass str.isdigit), signs, huge, empty, and plain random text.
VALUES = st.sampled_from(
    ["0", "1", "2", "3", "7", "Y", "N", "ABC", "XYZ", "", "-1", "²", "٣", "1.5", "99999999999999999999"]
) | st.text(alphabet=st.characters(exclude_characters="\x01", exclude_categories=["Cs"]), max_size=12)
VALUES = VALUES | st.sampled_from(["9" * 5000, "1" * 19])  # past int()'s 4300-digit limit, past int64
MSG_TYPES = st.sampled_from(sorted(BODY_TAGS)) | st.sampled_from(["", "Z", "8", "AA"])


def mostly(value: str) -> st.SearchStrategy[str]:
    """``value`` three times in four, else a hostile value."""
    return st.one_of(st.just(value), st.just(value), st.just(value), VALUES)


@st.composite
def tlx_message(draw: st.DrawFn, seq: int, member: str = "FUZZ") -> bytes:
    """A well-framed message: header (mostly right) plus random body tags of its type."""
    msg_type = draw(MSG_TYPES)
    fields: list[tuple[int, str]] = [
        (35, msg_type),
        (34, draw(mostly(str(seq)))),
        (49, draw(mostly(member))),
        (56, draw(mostly("TLX"))),
        (52, SENDING_TIME),
    ]
    tags = [*sorted(BODY_TAGS.get(msg_type, set()) | HEADER_TAGS), 5001, 9999, 0]
    fields += draw(st.lists(st.tuples(st.sampled_from(tags), VALUES), max_size=8))
    return encode(draw(st.sampled_from(["TLX.2", "TLX.1"])), fields)


def logon(member: str = "FUZZ", token: str = "") -> bytes:
    body = [(35, "A"), (34, "1"), (49, member), (56, "TLX"), (52, SENDING_TIME), (98, "0"), (108, "0"), (141, "Y")]
    return encode("TLX.2", body + ([(554, token)] if token else []))


valid_stream = st.integers(1, 4).flatmap(lambda n: st.tuples(*[tlx_message(s) for s in range(2, n + 2)]).map(b"".join))


@st.composite
def hostile_logon(draw: st.DrawFn) -> bytes:
    body = [(35, "A"), (34, draw(mostly("1"))), (49, "FUZZ"), (56, draw(mostly("TLX"))), (52, SENDING_TIME)]
    body += [(98, "0"), (108, draw(mostly("0"))), (141, draw(mostly("Y")))]
    body += draw(st.lists(st.tuples(st.sampled_from([789, 554, 43, 108]), VALUES), max_size=2))
    return encode("TLX.2", body)


garbage = st.one_of(
    valid_stream,  # well framed (checksums right) so hostile values reach the session's handlers
    st.binary(max_size=512),
    valid_stream.flatmap(mutated),
    st.tuples(st.sampled_from([b"8=TLX.2\x01", b"8=TLX.1\x01", b"8=", b"8=FIX.4.4\x01"]), st.binary(max_size=96)).map(
        b"".join
    ),
)


def decode_stream(chunks: list[bytes]) -> tuple[list[TlxMessage], TlxFramingError | None, int]:
    decoder = TlxDecoder()
    messages: list[TlxMessage] = []
    most = 0
    for chunk in chunks:
        try:
            messages += decoder.feed(chunk)
        except TlxFramingError as exc:
            return messages + exc.decoded, exc, most
        most = max(most, decoder.pending)
    return messages, None, most


def shape(messages: list[TlxMessage]) -> list[tuple[str, list[tuple[int, str]], object]]:
    return [(m.begin, m.fields, m.problem) for m in messages]


def check_stream(data: bytes, chunks: list[bytes]) -> tuple[list[TlxMessage], TlxFramingError | None]:
    messages, error, most = decode_stream(chunks)
    whole, whole_error, _ = decode_stream([data])
    # TlxFramingError.decoded carries the messages before the bad one, so that a bad
    # message costs the same messages however the reads were cut (it once dropped them).
    assert shape(messages) == shape(whole), "cutting the stream differently changed the messages"
    assert (error is None) == (whole_error is None), f"chunked: {error!r}, whole: {whole_error!r}"
    if error is not None:
        assert error.code in FRAMING_CODES and error.reason, f"TlxFramingError {error.code}: {error.reason!r}"
    assert most <= MOST_PENDING, f"{most} bytes buffered, more than one capped message"
    for message in messages:
        message.as_text()
        assert isinstance(message.msg_type, str)
        if message.problem is not None:
            reason, tag, text = message.problem
            assert reason > 0 and tag >= 0 and text
    return messages, error


@fuzz_settings(100)
@given(CUTS, garbage)
def test_decoder_takes_any_bytes_in_any_cutting(cuts: list[int], stream: bytes) -> None:
    check_stream(stream, cut(stream, cuts))


@fuzz_settings(60)
@given(CUTS, valid_stream)
def test_well_framed_messages_decode_identically_in_any_cutting(cuts: list[int], stream: bytes) -> None:
    messages, error = check_stream(stream, cut(stream, cuts))
    assert error is None and messages


@fuzz_settings(80)
@given(
    st.sampled_from([MAX_MESSAGE + 1, 9_999_999]) | st.integers(MAX_MESSAGE + 1, 9_999_999),
    st.sampled_from([10**7, 2**32 - 1, 2**63, 2**64 - 1]) | st.integers(10**7, 2**64 - 1),
    st.binary(max_size=64),
)
def test_huge_body_length_is_refused_at_the_header(over_cap: int, too_long: int, tail: bytes) -> None:
    for length, code in ((over_cap, codes.FRAME_TOO_LARGE), (too_long, codes.BAD_FRAMING)):
        header = f"8=TLX.2\x019={length}\x01".encode()
        decoder = TlxDecoder()
        tracemalloc.start()
        try:
            try:
                decoder.feed(header)  # the header alone: no body has arrived
            except TlxFramingError as exc:
                assert exc.code == code, f"BodyLength {length}: code {exc.code} ({exc.reason})"
            else:
                raise AssertionError(f"BodyLength {length} was not refused at the header")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 64 << 10, f"refusing BodyLength {length} allocated {peak} bytes"
        messages, error, _ = decode_stream([header + tail])
        assert messages == [] and error is not None and error.code == code


# ---------------------------------------------------------------------------- the venue session


def run_session(chunks: list[bytes]) -> tuple[list[TlxMessage], RecordingTransport, int]:
    async def scenario() -> tuple[RecordingTransport, int]:
        venue = TlxVenue(Hub(CONFIG))
        session = venue.protocol_factory()
        transport = RecordingTransport()
        session.connection_made(transport)  # type: ignore[arg-type]
        most = 0
        for chunk in chunks:
            session.data_received(chunk)
            most = max(most, session.decoder.pending)
        session.eof_received()
        transport.closed_by_session = transport.closed
        session.connection_lost(None)
        return transport, most

    transport, most = asyncio.run(scenario())
    answers, error, _ = decode_stream([bytes(transport.written)])
    assert error is None, f"the session wrote a stream its own decoder refuses: {error.reason}"
    return answers, transport, most


def with_seq(seq: str, msg_type: str = "0", extra: tuple[tuple[int, str], ...] = ()) -> bytes:
    return encode("TLX.2", [(35, msg_type), (34, seq), (49, "FUZZ"), (56, "TLX"), (52, SENDING_TIME), *extra])


REPRODUCERS = [  # found by this test: str.isdigit() passed these to int(), which raised
    (logon(), with_seq("²")),
    (logon(), with_seq("9" * 5000)),
    (encode("TLX.2", [(35, "A"), (34, "1"), (49, "FUZZ"), (56, "TLX"), (52, SENDING_TIME), (108, "²")]), b""),
    (logon(), with_seq("2", "2", ((7, "²"), (16, "0")))),
    (logon(), with_seq("2", "1", ((112, "T"),)) + b"8=TLX.2\x019=9999999\x01"),  # the TestRequest was dropped
]


@fuzz_settings(100)
@given(CUTS, st.sampled_from([b"", logon()]) | hostile_logon(), garbage)
@example([], *REPRODUCERS[0])
@example([], *REPRODUCERS[1])
@example([], *REPRODUCERS[2])
@example([], *REPRODUCERS[3])
@example([len(REPRODUCERS[4][0] + REPRODUCERS[4][1]) - 20], *REPRODUCERS[4])  # one read dropped the TestRequest
def test_session_answers_bad_input_with_reject_or_logout(cuts: list[int], prefix: bytes, stream: bytes) -> None:
    chunks = cut(prefix + stream, cuts)
    _, framing_error, _ = decode_stream([prefix + stream])
    with ErrorRecords("compat.exchange") as errors:
        answers, transport, most = run_session(chunks)
        one_read, _, _ = run_session([prefix + stream])
    assert [a.msg_type for a in answers] == [a.msg_type for a in one_read], "the answers depend on the read cuts"
    assert not errors.records, f"a request reached the session's catch-all:\n{errors.describe()}"
    assert most <= MOST_PENDING
    if framing_error is not None:
        assert transport.closed_by_session, f"framing error {framing_error.reason!r} did not close the connection"
        logouts = [a for a in answers if a.msg_type == "5"]
        assert len(logouts) == 1 and answers[-1] is logouts[0], f"expected one final Logout, got {answers!r}"
        assert logouts[0].get(58), "a Logout without a reason (58)"
    for answer in answers:
        if answer.msg_type == "3":
            assert answer.get(58) and answer.get(373), f"a Reject without text or reason: {answer.as_text()}"
