"""Just enough of the protobuf wire format to copy extension fields as raw bytes.

Request fields numbered 1000-1999 are reserved for client extensions. The gateway does not
know them; it copies their encoded bytes onto the order's execution reports, where they
merge into the message (concatenated protobuf encodings merge).
"""

from __future__ import annotations

EXT_MIN = 1000
EXT_MAX = 1999
_MAX_GROUP_DEPTH = 100  # the protobuf parser's own recursion limit


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


def _skip(data: bytes, pos: int, number: int, wire_type: int, depth: int = 0) -> int:
    """The position after the value of field ``number`` (its key already read)."""
    if wire_type == 0:
        _, pos = _varint(data, pos)
    elif wire_type == 1:
        pos += 8
    elif wire_type == 2:
        length, pos = _varint(data, pos)
        pos += length
    elif wire_type == 5:
        pos += 4
    elif wire_type == 3:
        # A group: deprecated but legal, the parser accepts it as an unknown field, so we must
        # too (it once raised here and the order got a catch-all Reject). Fields to its end tag.
        if depth >= _MAX_GROUP_DEPTH:
            raise ValueError(f"groups nested deeper than {_MAX_GROUP_DEPTH}")
        while True:
            key, pos = _varint(data, pos)
            if key & 7 == 4:
                if key >> 3 != number:
                    raise ValueError(f"group {number} ends with the end tag of {key >> 3}")
                break
            pos = _skip(data, pos, key >> 3, key & 7, depth + 1)
    else:
        raise ValueError(f"unsupported wire type {wire_type}")
    if pos > len(data):
        raise ValueError("field runs past the end of the payload")
    return pos


def extension_bytes(payload: bytes) -> bytes:
    """The raw encoding of every field numbered 1000-1999 in ``payload`` (b"" if none).

    Raises ValueError for bytes that are not a protobuf encoding."""
    out = bytearray()
    pos = 0
    end = len(payload)
    while pos < end:
        start = pos
        key, pos = _varint(payload, pos)
        number = key >> 3
        pos = _skip(payload, pos, number, key & 7)
        if EXT_MIN <= number <= EXT_MAX:
            out += payload[start:pos]
    return bytes(out)
