"""OBX framing: 4-byte big-endian length (type + payload), 4-byte big-endian type, protobuf.

:class:`FrameDecoder` is fed whatever bytes arrived (one at a time is fine) and returns the
complete frames; it never trusts a length before checking it against the cap.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from google.protobuf.message import DecodeError, Message

from compat.errors import FrameError, PayloadError
from compat.exchange import codes
from compat.exchange.proto import obx_pb2 as pb

MAX_FRAME = 1 << 20  # LENGTH cap: 1 MiB
_HEADER = struct.Struct(">II")
_LENGTH = struct.Struct(">I")

MESSAGE_CLASSES: dict[int, type[Message]] = {
    pb.LOGON_REQUEST: pb.LogonRequest,
    pb.LOGON_RESPONSE: pb.LogonResponse,
    pb.LOGOUT_REQUEST: pb.LogoutRequest,
    pb.LOGOUT: pb.Logout,
    pb.HEARTBEAT: pb.Heartbeat,
    pb.REJECT: pb.Reject,
    pb.INSTRUMENT_LIST_REQUEST: pb.InstrumentListRequest,
    pb.INSTRUMENT_LIST: pb.InstrumentList,
    pb.INSTRUMENT_STATUS_UPDATE: pb.InstrumentStatusUpdate,
    pb.ADMIN_SET_INSTRUMENT_STATUS: pb.AdminSetInstrumentStatus,
    pb.ADMIN_CREATE_INSTRUMENT: pb.AdminCreateInstrument,
    pb.ADMIN_RESPONSE: pb.AdminResponse,
    pb.NEW_ORDER: pb.NewOrder,
    pb.CANCEL_ORDER: pb.CancelOrder,
    pb.AMEND_ORDER: pb.AmendOrder,
    pb.MASS_CANCEL: pb.MassCancel,
    pb.ORDER_STATUS_REQUEST: pb.OrderStatusRequest,
    pb.ORDER_ACCEPTED: pb.OrderAccepted,
    pb.ORDER_REJECTED: pb.OrderRejected,
    pb.ORDER_FILL: pb.OrderFill,
    pb.ORDER_CANCELLED: pb.OrderCancelled,
    pb.ORDER_REPLACED: pb.OrderReplaced,
    pb.REPLACE_REJECTED: pb.ReplaceRejected,
    pb.CANCEL_REJECTED: pb.CancelRejected,
    pb.MASS_CANCEL_RESPONSE: pb.MassCancelResponse,
    pb.ORDER_STATUS_RESPONSE: pb.OrderStatusResponse,
    pb.MARKET_DATA_SUBSCRIBE: pb.MarketDataSubscribe,
    pb.MARKET_DATA_UNSUBSCRIBE: pb.MarketDataUnsubscribe,
    pb.MARKET_DATA_SNAPSHOT: pb.MarketDataSnapshot,
    pb.MARKET_DATA_INCREMENTAL: pb.MarketDataIncremental,
    pb.TRADE_PRINT: pb.TradePrint,
}
TYPE_OF: dict[type[Message], int] = {cls: number for number, cls in MESSAGE_CLASSES.items()}


class Frame(NamedTuple):
    """One whole frame. A NamedTuple, not a frozen dataclass: one is built per message on
    the hot path, and a frozen dataclass's __init__ sets each field via object.__setattr__."""

    msg_type: int
    payload: bytes


def enum_value(value: int) -> Any:
    """An int for a protobuf enum field: the .pyi types enums as their wrapper class, but on
    the wire (and to the runtime) an enum is just its number; unknown numbers are legal."""
    return value


def encode(message: Message) -> bytes:
    """One complete frame for a message of a known type."""
    payload = message.SerializeToString()
    return _HEADER.pack(4 + len(payload), TYPE_OF[type(message)]) + payload


def encode_raw(msg_type: int, payload: bytes) -> bytes:
    return _HEADER.pack(4 + len(payload), msg_type) + payload


def decode_payload(frame: Frame) -> Message:
    """The message inside a frame; PayloadError for an unknown type or a bad payload."""
    cls = MESSAGE_CLASSES.get(frame.msg_type)
    if cls is None:
        raise PayloadError(codes.UNKNOWN_MESSAGE_TYPE, f"unknown OBX message type {frame.msg_type}", frame.msg_type)
    message = cls()
    try:
        message.ParseFromString(frame.payload)
    except DecodeError as exc:
        raise PayloadError(
            codes.MALFORMED_MESSAGE,
            f"payload of {cls.__name__} (type {frame.msg_type}, {len(frame.payload)} bytes) does not parse: {exc}",
            frame.msg_type,
        ) from exc
    return message


class FrameDecoder:
    """Incremental frame reader: loops until whole frames have arrived, enforces the cap."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        if not buffer and len(data) >= 8:
            # The common read: exactly one whole frame and nothing pending. No copy into the
            # buffer and back out; the checks are the ones below.
            (length,) = _LENGTH.unpack_from(data, 0)
            if len(data) == 4 + length and 4 <= length <= self._max:
                return [Frame(_LENGTH.unpack_from(data, 4)[0], bytes(data[8:]))]
        buffer += data
        frames: list[Frame] = []
        offset = 0
        size = len(buffer)
        while size - offset >= 4:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > self._max or length < 4:
                error = (
                    FrameError(codes.FRAME_TOO_LARGE, f"frame length {length} exceeds the {self._max}-byte cap")
                    if length > self._max
                    else FrameError(codes.BAD_FRAMING, f"frame length {length} is below the minimum of 4")
                )
                error.decoded = frames
                raise error
            if size - offset - 4 < length:
                break
            (msg_type,) = _LENGTH.unpack_from(buffer, offset + 4)
            frames.append(Frame(msg_type, bytes(buffer[offset + 8 : offset + 4 + length])))
            offset += 4 + length
        if offset:
            del buffer[:offset]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buffer)
