"""Client extension fields (numbers 1000-1999): encode onto requests, decode from reports."""

from __future__ import annotations

from typing import Any

EXT_MIN = 1000
EXT_MAX = 1999


def _put_varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def encode_extensions(fields: dict[int, Any]) -> bytes:
    """int -> varint field, str/bytes -> length-delimited field."""
    out = bytearray()
    for number, value in sorted(fields.items()):
        if not EXT_MIN <= number <= EXT_MAX:
            raise ValueError(f"extension field {number} is outside {EXT_MIN}-{EXT_MAX}")
        if isinstance(value, bool | int):
            _put_varint(out, number << 3)
            _put_varint(out, int(value))
        else:
            raw = value.encode() if isinstance(value, str) else bytes(value)
            _put_varint(out, number << 3 | 2)
            _put_varint(out, len(raw))
            out += raw
    return bytes(out)


def decode_extensions(payload: bytes) -> dict[int, Any]:
    """Fields 1000-1999 of a message: varints as int, length-delimited as str (or bytes)."""
    found: dict[int, Any] = {}
    pos = 0
    end = len(payload)
    try:
        while pos < end:
            key, pos = _get_varint(payload, pos)
            number, wire_type = key >> 3, key & 7
            value: Any
            if wire_type == 0:
                value, pos = _get_varint(payload, pos)
            elif wire_type == 1:
                value, pos = payload[pos : pos + 8], pos + 8
            elif wire_type == 2:
                length, pos = _get_varint(payload, pos)
                raw = payload[pos : pos + length]
                pos += length
                try:
                    value = raw.decode()
                except UnicodeDecodeError:
                    value = raw
            elif wire_type == 5:
                value, pos = payload[pos : pos + 4], pos + 4
            else:
                break
            if EXT_MIN <= number <= EXT_MAX:
                found[number] = value
    except IndexError:
        pass
    return found
