"""Bad input: malformed, oversize and fragmented frames never take the gateway down."""

from __future__ import annotations

import socket
import struct

import pytest

from compat import Scenario, Session

pytestmark = pytest.mark.compat


def _assert_still_serving(compat: Scenario, s: Session, order_id: str) -> None:
    again = s.insert(symbol=compat.symbol(), side="BUY", qty=1, price="10.00", tif="GTC", order_type="LIMIT")
    assert s.next_event(["accepted"], again["client_order_id"])["kind"] == "accepted"
    s.cancel(client_order_id=order_id)
    assert s.next_event(["cancelled"], order_id)["kind"] == "cancelled", "order state lost"


def _drain(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


@pytest.mark.parametrize("garbage", [
    pytest.param(b"\x00\x00\x00\x08\x00\x00\x00\x14\xff\xff\xff\xff", id="malformed"),
    pytest.param(struct.pack(">II", 64 * 1024 * 1024, 20) + b"x" * 64, id="oversize"),
    pytest.param(struct.pack(">II", 4 + 3, 777) + b"abc", id="unknown-type"),
    pytest.param(struct.pack(">II", 100, 20) + b"short", id="truncated"),
])
def test_bad_frame_isolated(compat: Scenario, garbage: bytes) -> None:
    """Garbage on one connection gets an error or a close; other sessions keep their orders."""
    good = compat.session()
    order = good.insert(symbol=compat.symbol(), side="BUY", qty=3, price="10.00", tif="GTC", order_type="LIMIT")
    good.next_event(["accepted"], order["client_order_id"])
    with compat.raw_connection(timeout_s=2.0) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        _drain(sock)
    assert compat.stack.gateway is not None and compat.stack.gateway.poll() is None, "the gateway died"
    _assert_still_serving(compat, good, order["client_order_id"])


def test_fragmented_frames(compat: Scenario) -> None:
    """Bytes dribbled one at a time are reassembled (the single-recv bug)."""
    proxy = compat.stack.gateway_proxy
    assert proxy is not None
    proxy.dribble(direction="upstream", delay_ms=1)
    try:
        s = compat.session()
        order = s.insert(symbol=compat.symbol(), side="BUY", qty=1, price="10.00", tif="GTC", order_type="LIMIT")
        assert s.next_event(["accepted"], order["client_order_id"], timeout_s=10.0)["kind"] == "accepted"
    finally:
        proxy.clear()
