"""refgw client-protocol framing (the client's own copy).

4-byte BE length (counting the type), 4-byte BE type, payload.
"""

from __future__ import annotations

import asyncio
import struct

HEADER = struct.Struct(">II")
MAX_FRAME = 1 << 20  # payload cap; a longer frame is refused without buffering it


class FrameError(Exception):
    """The byte stream broke the framing rules; ``fatal`` means it cannot be resynchronised."""

    def __init__(self, message: str, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


def encode(msg_type: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload) + 4, msg_type) + payload


async def read_frame(reader: asyncio.StreamReader, max_frame: int = MAX_FRAME) -> tuple[int, bytes]:
    """Read one whole frame (readexactly loops over partial reads).

    Raises ``asyncio.IncompleteReadError`` on a clean EOF between frames (partial == b"").
    """
    head = await reader.readexactly(HEADER.size)
    length, msg_type = HEADER.unpack(head)
    if length < 4:
        raise FrameError(f"frame length {length} is below the 4-byte type", fatal=True)
    if length - 4 > max_frame:
        raise FrameError(f"frame of {length - 4} payload bytes exceeds the {max_frame}-byte cap", fatal=True)
    try:
        payload = await reader.readexactly(length - 4)
    except asyncio.IncompleteReadError as exc:
        raise FrameError(
            f"truncated frame: {len(exc.partial)} of {length - 4} payload bytes before EOF", fatal=True
        ) from None
    return msg_type, payload
