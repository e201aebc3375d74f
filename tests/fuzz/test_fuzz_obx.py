"""Fuzz the exchange's OBX decoders in-process: FrameDecoder, decode_payload and the OBX venue
session (real Hub and engine, a recording transport instead of a socket).

Properties: the decoder returns frames or raises FrameError (BAD_FRAMING / FRAME_TOO_LARGE),
decode_payload a message or PayloadError (UNKNOWN_MESSAGE_TYPE / MALFORMED_MESSAGE), nothing
else leaks; cutting the stream differently never changes the result; a huge length prefix is
refused at the header without buffering; the buffer stays below one capped frame; the
session answers every framing error with a Logout, never reaches its catch-all.
"""

from __future__ import annotations

import tracemalloc

from fuzz_support import (
    CUTS,
    HUGE_U32,
    U32,
    ErrorRecords,
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

from compat.errors import FrameError, PayloadError
from compat.exchange import codes
from compat.exchange.hub import Hub
from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE, load_config
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues.obx import ObxVenue
from compat.exchange.venues.obx_codec import (
    MAX_FRAME,
    MESSAGE_CLASSES,
    Frame,
    FrameDecoder,
    decode_payload,
    encode,
    encode_raw,
)

CONFIG = load_config(DEFAULT_INSTRUMENTS_FILE)
FRAMING_CODES = {codes.BAD_FRAMING, codes.FRAME_TOO_LARGE}
PAYLOAD_CODES = {codes.UNKNOWN_MESSAGE_TYPE, codes.MALFORMED_MESSAGE}
SYMBOLS = st.sampled_from(["ABC", "XYZ", "FLT", "NOPE", ""]) | st.text(max_size=8)

any_message = st.sampled_from(sorted(MESSAGE_CLASSES)).flatmap(lambda t: protobuf_message(MESSAGE_CLASSES[t], SYMBOLS))
valid_stream = st.lists(any_message, min_size=1, max_size=4).map(lambda ms: b"".join(encode(m) for m in ms))
garbage = st.one_of(
    st.binary(max_size=512),
    valid_stream.flatmap(mutated),
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=64)).map(
        lambda t: U32.pack(t[0]) + U32.pack(t[1]) + t[2]
    ),
)


def decode_stream(chunks: list[bytes]) -> tuple[list[Frame], FrameError | None, int]:
    """Frames, the FrameError that stopped the stream (if any), the most bytes ever pending."""
    decoder = FrameDecoder()
    frames: list[Frame] = []
    most = 0
    for chunk in chunks:
        try:
            frames += decoder.feed(chunk)
        except FrameError as exc:
            return frames + exc.decoded, exc, most
        most = max(most, decoder.pending)
    return frames, None, most


def check_stream(data: bytes, chunks: list[bytes]) -> tuple[list[Frame], FrameError | None]:
    frames, error, most = decode_stream(chunks)
    whole_frames, whole_error, _ = decode_stream([data])
    # FrameError.decoded carries the frames before the bad header, so that a bad header
    # costs the same frames however the reads were cut (it once dropped them).
    assert frames == whole_frames, "cutting the stream differently changed the frames"
    assert (error is None) == (whole_error is None), f"chunked: {error!r}, whole: {whole_error!r}"
    if error is not None:
        assert whole_error is not None and error.code == whole_error.code
        assert error.code in FRAMING_CODES, f"FrameError with code {error.code}: {error.reason}"
        assert error.reason, "a FrameError without a reason"
    assert most <= MAX_FRAME + 4, f"{most} bytes buffered, more than one capped frame"
    for frame in frames:
        try:
            message = decode_payload(frame)
        except PayloadError as exc:
            assert exc.code in PAYLOAD_CODES and exc.msg_type == frame.msg_type and exc.reason
        else:
            assert isinstance(message, Message)
    return frames, error


@fuzz_settings(100)
@given(CUTS, garbage)
def test_frame_decoder_takes_any_bytes_in_any_cutting(cuts: list[int], stream: bytes) -> None:
    check_stream(stream, cut(stream, cuts))


@fuzz_settings(60)
@given(CUTS, valid_stream)
def test_valid_frames_decode_identically_in_any_cutting(cuts: list[int], stream: bytes) -> None:
    frames, error = check_stream(stream, cut(stream, cuts))
    assert error is None
    assert b"".join(encode_raw(f.msg_type, f.payload) for f in frames) == stream


@fuzz_settings(80)
@given(HUGE_U32, st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_huge_length_prefix_is_refused_at_the_header(length: int, msg_type: int, tail: bytes) -> None:
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        try:
            decoder.feed(U32.pack(length))  # the length alone: nothing else has arrived
        except FrameError as exc:
            assert exc.code == codes.FRAME_TOO_LARGE and str(length) in exc.reason
        else:
            raise AssertionError(f"length {length} was not refused at the header")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10, f"refusing length {length} allocated {peak} bytes"
    assert decoder.pending <= 4
    # The same prefix followed by more bytes in the same read is refused the same way.
    frames, error, _ = decode_stream([U32.pack(length) + U32.pack(msg_type) + tail])
    assert frames == [] and error is not None and error.code == codes.FRAME_TOO_LARGE


@fuzz_settings(80)
@given(st.integers(0, 2**32 - 1), st.binary(max_size=256))
def test_any_type_and_body_decode_or_raise_payload_error(msg_type: int, body: bytes) -> None:
    frames, error = check_stream(encode_raw(msg_type, body), [encode_raw(msg_type, body)])
    assert error is None and frames == [Frame(msg_type, body)]
    if msg_type not in MESSAGE_CLASSES:
        try:
            decode_payload(frames[0])
        except PayloadError as exc:
            assert exc.code == codes.UNKNOWN_MESSAGE_TYPE
        else:
            raise AssertionError(f"unknown type {msg_type} decoded")


# ---------------------------------------------------------------------------- the venue session


def logon(member: str) -> bytes:
    return encode(pb.LogonRequest(request_id=1, member_id=member, client_name="fuzz"))


def run_session(chunks: list[bytes]) -> tuple[list[Message], RecordingTransport, int]:
    venue = ObxVenue(Hub(CONFIG))
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
    frames, tail = split_frames(bytes(transport.written))
    assert tail == b"", "the session wrote a partial frame"
    return [decode_payload(Frame(t, p)) for t, p in frames], transport, most


@fuzz_settings(100)
@given(CUTS, st.booleans(), garbage)
@example([len(logon("FUZZ")) + 8], True, encode(pb.Heartbeat()) + U32.pack(2**32 - 1))  # one read dropped both
def test_session_answers_bad_input_with_reject_or_logout(cuts: list[int], logged_on: bool, stream: bytes) -> None:
    prefix = logon("FUZZ") if logged_on else b""
    chunks = cut(prefix + stream, cuts)
    _, framing_error, _ = decode_stream([prefix + stream])
    with ErrorRecords("compat.exchange") as errors:
        answers, transport, most = run_session(chunks)
        one_read, _, _ = run_session([prefix + stream])
    assert [type(a) for a in answers] == [type(a) for a in one_read], "the answers depend on how reads were cut"
    assert not errors.records, f"a request reached the session's catch-all:\n{errors.describe()}"
    assert most <= MAX_FRAME + 4
    if framing_error is not None:
        assert transport.closed_by_session, f"framing error {framing_error.reason!r} did not close the connection"
        # The Logout names the framing error, unless the session ended earlier for a reason
        # of its own (a LogoutRequest, a refused logon) before the bad header arrived.
        logouts = [a for a in answers if isinstance(a, pb.Logout)]
        assert len(logouts) == 1, f"expected one Logout for {framing_error.reason!r}, got {answers!r}"
        assert logouts[0].reason and answers[-1] is logouts[0]
    for answer in answers:
        if isinstance(answer, pb.Reject):
            assert answer.code and answer.text, f"a Reject without code or text: {answer!r}"
