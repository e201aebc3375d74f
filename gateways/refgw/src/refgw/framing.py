"""Client-protocol framing: 4-byte BE length (counting the type), 4-byte BE type, payload."""

from __future__ import annotations

import asyncio
import struct

HEADER = struct.Struct(">II")
MAX_FRAME = 1 << 20  # payload cap; a longer frame is refused without buffering it


class FrameError(Exception):
    """The byte stream broke the framing rules; ``fatal`` means it cannot be resynchronised."""

    def __init__(self, message: str, fatal: bool, skip: int | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.skip = skip  # payload bytes to discard to stay in sync (oversize frames)


def encode(msg_type: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload) + 4, msg_type) + payload


def truncated_at_eof(unread: bytes | bytearray) -> str | None:
    """Why an EOF with ``unread`` bytes of a frame still buffered is not a clean close (a
    truncated frame: part of its header, or its header and part of its payload); None when
    nothing is buffered (the clean end between frames)."""
    if not unread:
        return None
    if len(unread) < HEADER.size:
        return f"truncated frame: {len(unread)} of {HEADER.size} header bytes before EOF"
    length = HEADER.unpack_from(unread)[0]
    return f"truncated frame: {len(unread) - HEADER.size} of {length - 4} payload bytes before EOF"


async def read_frame(reader: asyncio.StreamReader, max_frame: int = MAX_FRAME) -> tuple[int, bytes]:
    """Read one whole frame (readexactly loops over partial reads).

    EOF ends the stream in one of two ways:

    * a clean EOF between frames, the normal end: ``asyncio.IncompleteReadError`` with
      ``partial == b""`` (always empty: it is raised for nothing else);
    * an EOF inside a frame, its header or its payload: a truncated frame,
      ``FrameError(fatal=True)`` naming how many bytes of which part arrived.
    """
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise  # the clean end between frames
        raise FrameError(truncated_at_eof(exc.partial) or "", fatal=True) from None
    length, msg_type = HEADER.unpack(head)
    if length < 4:
        raise FrameError(f"frame length {length} is below the 4-byte type", fatal=True)
    if length - 4 > max_frame:
        raise FrameError(
            f"frame of {length - 4} payload bytes exceeds the {max_frame}-byte cap",
            fatal=False,
            skip=length - 4,
        )
    try:
        payload = await reader.readexactly(length - 4)
    except asyncio.IncompleteReadError as exc:
        raise FrameError(truncated_at_eof(head + exc.partial) or "", fatal=True) from None
    return msg_type, payload


async def skip_bytes(reader: asyncio.StreamReader, count: int) -> None:
    """Discard ``count`` bytes without buffering them all (an oversize frame's payload)."""
    while count > 0:
        chunk = await reader.read(min(count, 1 << 16))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(chunk)
