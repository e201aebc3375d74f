"""Just enough of the protobuf wire format to copy extension fields as raw bytes.

Request fields numbered 1000-1999 are reserved for client extensions. The gateway does not
know them; it copies their encoded bytes onto the order's execution reports, where they
merge into the message (concatenated protobuf encodings merge).
"""

from __future__ import annotations

EXT_MIN = 1000
EXT_MAX = 1999


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def extension_bytes(payload: bytes) -> bytes:
    """The raw encoding of every field numbered 1000-1999 in ``payload`` (b"" if none)."""
    out = bytearray()
    pos = 0
    end = len(payload)
    while pos < end:
        start = pos
        key, pos = _varint(payload, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, pos = _varint(payload, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 2:
            length, pos = _varint(payload, pos)
            pos += length
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        if pos > end:
            raise ValueError("field runs past the end of the payload")
        if EXT_MIN <= number <= EXT_MAX:
            out += payload[start:pos]
    return bytes(out)
