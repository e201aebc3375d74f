"""``read_frame`` of refgw and of refclient's own copy, and the products' own frame cutters
(the gateway's Session, the client's connection): how EOF ends a stream.

A clean EOF between frames is the normal end (``asyncio.IncompleteReadError``, ``partial``
empty); an EOF inside a frame, header or payload, is a truncated frame (fatal ``FrameError``).
Both copies keep the same contract.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC  # puts the client's source tree on sys.path

sys.path.insert(0, str(GW_SRC))
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


# ---------------------------------------------------------------------------- the callers
# The gateway's Session and the client's connection cut frames from the byte stream
# themselves (asyncio Protocols, not read_frame); at EOF they say what read_frame says.


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def _gateway_session() -> tuple[Any, _Transport]:
    from refgw.config import Config
    from refgw.core import Gateway
    from refgw.session import Session
    from refgw.venues import Venue

    def ignore(*_: object) -> None:
        pass

    session = Session(Gateway(Venue("127.0.0.1", 1, "M", "t", "test", ignore, ignore, ignore), Config()))
    transport = _Transport()
    session.writer = transport
    return session, transport


def _gateway_eof_after(unread: bytes) -> tuple[list[Any], bool]:
    """What a gateway session sends when EOF follows ``unread`` (a whole frame, then these bytes)."""
    from refgw import refgw_pb2 as pb

    session, transport = _gateway_session()
    frames: list[tuple[int, bytes]] = []
    session.on_frame = lambda msg_type, payload: frames.append((msg_type, payload))
    session.data_received(gateway_framing.encode(pb.HEARTBEAT, b"") + unread)
    assert frames == [(pb.HEARTBEAT, b"")]
    session.eof_received()
    rejects = []
    for frame in transport.written:
        msg_type = gateway_framing.HEADER.unpack_from(frame)[1]
        assert msg_type == pb.REJECT
        rejects.append(pb.Reject.FromString(frame[gateway_framing.HEADER.size :]))
    return rejects, transport.closed


@pytest.mark.parametrize("cut", range(1, 8))
def test_the_gateway_reports_an_eof_inside_a_header_as_a_truncated_frame(
    cut: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from refgw import refgw_pb2 as pb

    rejects, closed = _gateway_eof_after(gateway_framing.encode(pb.HEARTBEAT, b"\x08\x01")[:cut])
    reason = f"truncated frame: {cut} of 8 header bytes before EOF"
    assert [(r.code, r.text) for r in rejects] == [(pb.MALFORMED_MESSAGE, reason)] and closed
    assert f"{reason}; closing" in capsys.readouterr().err


def test_the_gateway_reports_an_eof_inside_a_payload_and_closes_quietly_between_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from refgw import refgw_pb2 as pb

    rejects, closed = _gateway_eof_after(gateway_framing.encode(pb.HEARTBEAT, b"\x08\x01\x02")[:-1])
    assert [r.text for r in rejects] == ["truncated frame: 2 of 3 payload bytes before EOF"] and closed
    assert "truncated frame: 2 of 3 payload bytes before EOF; closing" in capsys.readouterr().err
    rejects, closed = _gateway_eof_after(b"")
    assert rejects == [] and closed and capsys.readouterr().err == ""


class _Client:
    """Stands in for GatewayClient behind one client connection: records frames and losses."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.lost: list[str] = []
        self._protocol: object = None

    def _on_frame(self, msg_type: int, payload: bytes) -> None:
        self.frames.append((msg_type, payload))

    def _lose(self, reason: str) -> None:
        self.lost.append(reason)


def _client_eof_after(unread: bytes) -> list[str]:
    from refclient.client import _GatewayProtocol

    client = _Client()
    protocol = _GatewayProtocol(client)  # type: ignore[arg-type]
    client._protocol = protocol
    protocol.data_received(client_framing.encode(4, b"") + unread)
    assert client.frames == [(4, b"")]
    protocol.eof_received()
    protocol.connection_lost(None)
    return client.lost


@pytest.mark.parametrize("cut", range(1, 8))
def test_the_client_reports_an_eof_inside_a_header_as_a_truncated_frame(cut: int) -> None:
    lost = _client_eof_after(client_framing.encode(9, b"\x08\x01")[:cut])
    assert lost == [f"truncated frame: {cut} of 8 header bytes before EOF"]


def test_the_client_reports_an_eof_inside_a_payload_and_a_clean_close_between_frames() -> None:
    truncated = _client_eof_after(client_framing.encode(9, b"abc")[:-1])
    assert truncated == ["truncated frame: 2 of 3 payload bytes before EOF"]
    assert _client_eof_after(b"") == ["gateway closed the connection"]
