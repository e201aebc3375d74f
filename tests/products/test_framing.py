"""``read_frame`` of refgw and of refclient's own copy: how EOF ends a stream.

A clean EOF between frames is the normal end (``asyncio.IncompleteReadError``, ``partial``
empty); an EOF inside a frame, header or payload, is a truncated frame (fatal ``FrameError``).
Both copies keep the same contract.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import ModuleType

import pytest
from refclient import framing as client_framing
from refgw import framing as gateway_framing

COPIES = [pytest.param(gateway_framing, id="refgw"), pytest.param(client_framing, id="refclient")]


def _read_all(framing: ModuleType, stream: bytes) -> tuple[list[tuple[int, bytes]], BaseException]:
    read_frame: Callable[[asyncio.StreamReader], Awaitable[tuple[int, bytes]]] = framing.read_frame

    async def run() -> tuple[list[tuple[int, bytes]], BaseException]:
        reader = asyncio.StreamReader()
        reader.feed_data(stream)
        reader.feed_eof()
        frames: list[tuple[int, bytes]] = []
        while True:
            try:
                frames.append(await read_frame(reader))
            except (asyncio.IncompleteReadError, framing.FrameError) as exc:
                return frames, exc

    return asyncio.run(run())


@pytest.mark.parametrize("framing", COPIES)
def test_a_clean_eof_between_frames_is_the_normal_end(framing: ModuleType) -> None:
    stream = framing.encode(7, b"abc") + framing.encode(9, b"")
    frames, end = _read_all(framing, stream)
    assert frames == [(7, b"abc"), (9, b"")]
    assert isinstance(end, asyncio.IncompleteReadError) and end.partial == b""
    frames, end = _read_all(framing, b"")
    assert frames == [] and isinstance(end, asyncio.IncompleteReadError) and end.partial == b""


@pytest.mark.parametrize("framing", COPIES)
def test_an_eof_inside_a_header_is_a_truncated_frame(framing: ModuleType) -> None:
    whole = framing.encode(7, b"abc")
    header = framing.HEADER.size
    for cut in range(1, header):
        frames, end = _read_all(framing, whole + framing.encode(9, b"xyz")[:cut])
        assert frames == [(7, b"abc")], f"cut {cut}"
        assert isinstance(end, framing.FrameError), f"cut {cut}: {end!r}"
        assert end.fatal
        assert str(end) == f"truncated frame: {cut} of {header} header bytes before EOF"


@pytest.mark.parametrize("framing", COPIES)
def test_an_eof_inside_a_payload_is_a_truncated_frame(framing: ModuleType) -> None:
    frames, end = _read_all(framing, framing.encode(9, b"xyz")[:-1])
    assert frames == []
    assert isinstance(end, framing.FrameError) and end.fatal
    assert str(end) == "truncated frame: 2 of 3 payload bytes before EOF"
