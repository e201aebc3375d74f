"""OBX framing: round trips of every message type, byte-at-a-time reassembly, bad frames."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compat.errors import FrameError, PayloadError
from compat.exchange import codes
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues.obx_codec import (
    MAX_FRAME,
    MESSAGE_CLASSES,
    Frame,
    FrameDecoder,
    decode_payload,
    encode,
    encode_raw,
)


def sample(msg_type: int) -> object:
    """A message of each type with some fields set (the first scalar fields of its descriptor)."""
    message = MESSAGE_CLASSES[msg_type]()
    for fd in message.DESCRIPTOR.fields:
        if fd.is_repeated or fd.message_type is not None:
            continue
        if fd.type == fd.TYPE_STRING:
            setattr(message, fd.name, f"v-{fd.name}")
        elif fd.type == fd.TYPE_BOOL:
            setattr(message, fd.name, True)
        elif fd.type == fd.TYPE_ENUM:
            setattr(message, fd.name, 1)
        elif fd.type in (fd.TYPE_SINT32, fd.TYPE_SINT64, fd.TYPE_INT64, fd.TYPE_INT32):
            setattr(message, fd.name, -(fd.number + 3) if fd.type in (fd.TYPE_SINT32, fd.TYPE_SINT64) else fd.number)
        else:
            setattr(message, fd.name, fd.number * 1000 + 7)
    return message


def test_the_type_table_matches_the_proto_enum() -> None:
    names = {v.number: v.name for v in pb.MessageType.DESCRIPTOR.values if v.number}
    assert set(names) == set(MESSAGE_CLASSES)


@pytest.mark.parametrize("msg_type", sorted(MESSAGE_CLASSES))
def test_every_message_round_trips_byte_by_byte(msg_type: int) -> None:
    message = sample(msg_type)
    data = encode(message)  # type: ignore[arg-type]
    (length, wire_type) = struct.unpack(">II", data[:8])
    assert (length, wire_type) == (len(data) - 4, msg_type)
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for i in range(len(data)):
        frames += decoder.feed(data[i : i + 1])
    assert len(frames) == 1 and decoder.pending == 0
    assert decode_payload(frames[0]) == message


def test_nested_and_repeated_fields_round_trip() -> None:
    snap = pb.MarketDataSnapshot(symbol="ABC", book_seq=9, bids=[pb.Level(price_ticks=10025, qty=5, order_count=2)])
    amend = pb.AmendOrder(order_id=3, qty=0)  # explicit presence: qty=0 is not "unset"
    frames = FrameDecoder().feed(encode(snap) + encode(amend))
    assert decode_payload(frames[0]) == snap
    decoded = decode_payload(frames[1])
    assert isinstance(decoded, pb.AmendOrder) and decoded.HasField("qty") and not decoded.HasField("price_ticks")


@given(st.lists(st.binary(max_size=40), max_size=8), st.integers(1, 7))
def test_any_split_of_a_stream_gives_the_same_frames(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_raw(900 + i, p) for i, p in enumerate(payloads))
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for i in range(0, len(stream), chunk):
        frames += decoder.feed(stream[i : i + chunk])
    assert frames == [Frame(900 + i, p) for i, p in enumerate(payloads)]


def test_oversize_frame_is_refused_before_reading_it() -> None:
    with pytest.raises(FrameError) as info:
        FrameDecoder().feed(struct.pack(">I", MAX_FRAME + 1))
    assert info.value.code == codes.FRAME_TOO_LARGE and "cap" in info.value.reason


def test_frame_at_the_cap_is_accepted() -> None:
    payload = b"\x00" * (MAX_FRAME - 4)
    (frame,) = FrameDecoder().feed(encode_raw(5, payload))
    assert len(frame.payload) == MAX_FRAME - 4


def test_length_below_four_is_bad_framing() -> None:
    with pytest.raises(FrameError) as info:
        FrameDecoder().feed(struct.pack(">II", 3, 1))
    assert info.value.code == codes.BAD_FRAMING


def test_truncated_frame_stays_pending() -> None:
    data = encode(pb.Heartbeat(request_id=1))
    decoder = FrameDecoder()
    assert decoder.feed(data[:-1]) == []
    assert decoder.pending == len(data) - 1


def test_unknown_type_and_garbage_payload_are_payload_errors() -> None:
    with pytest.raises(PayloadError) as unknown:
        decode_payload(Frame(999, b""))
    assert unknown.value.code == codes.UNKNOWN_MESSAGE_TYPE
    with pytest.raises(PayloadError) as garbage:
        decode_payload(Frame(pb.NEW_ORDER, b"\xff\xff\xff"))
    assert garbage.value.code == codes.MALFORMED_MESSAGE and "NewOrder" in garbage.value.reason
