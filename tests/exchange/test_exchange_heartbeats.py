"""Heartbeat intervals a member declares at logon, on both venues (docs/exchange-protocol.md §0.3).

OBX ``LogonRequest.heartbeat_interval_ms`` and TLX ``4020 HeartBtIntMs`` are opt-in: a member
that does not ask (every released gateway) gets exactly the session it got before, which the
control sessions below check side by side with a heartbeating one. Timeouts wait on the
exchange's own messages (its Heartbeat, TestRequest, Logout), never on sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compat.exchange import codes
from compat.exchange.client import ObxClient, TlxClient
from compat.exchange.inprocess import InProcessExchange
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues import obx
from compat.exchange.venues.base import MAX_HEARTBEAT_MS, MIN_HEARTBEAT_MS, heartbeat_interval_problem

pytestmark = pytest.mark.integration

INTERVAL_MS = 100
MEMBERS_FILE = """
version: 1
instruments:
  - {symbol: ABC, tick_size: "0.01", price_scale: 2}
"""


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessExchange]:
    path: Path = tmp_path_factory.mktemp("exchange") / "instruments.yaml"
    path.write_text(MEMBERS_FILE)
    with InProcessExchange(venue="both", instruments=path) as running:
        yield running


def obx_client(exchange: InProcessExchange) -> ObxClient:
    return ObxClient(*exchange.addresses["obx"])


def tlx_client(exchange: InProcessExchange, member: str) -> TlxClient:
    return TlxClient(*exchange.addresses["tlx"], member=member)


def test_heartbeat_interval_range() -> None:
    assert heartbeat_interval_problem(0) is None
    assert heartbeat_interval_problem(MIN_HEARTBEAT_MS) is None
    assert heartbeat_interval_problem(MAX_HEARTBEAT_MS) is None
    for bad in (1, MIN_HEARTBEAT_MS - 1, MAX_HEARTBEAT_MS + 1):
        problem = heartbeat_interval_problem(bad)
        assert problem is not None and str(bad) in problem and str(MIN_HEARTBEAT_MS) in problem


# ---------------------------------------------------------------------------------- OBX


def test_obx_silent_member_is_logged_out_after_three_intervals(exchange: InProcessExchange) -> None:
    """The exchange keeps the interval the member asked for: it heartbeats while idle, and a member
    that then says nothing is logged out HEARTBEAT_TIMEOUT with the silence named; a member that
    asked for no interval, silent just as long, stays logged on."""
    with obx_client(exchange) as silent, obx_client(exchange) as control:
        assert control.logon("OBXCTL").heartbeat_interval_ms == 0
        response = silent.logon("OBXSIL", heartbeat_interval_ms=INTERVAL_MS)
        assert (response.result_code, response.heartbeat_interval_ms) == (codes.OK, INTERVAL_MS)
        beat = silent.expect(pb.Heartbeat, timeout_s=5)
        assert beat.request_id == 0, "the exchange's own heartbeat must not ask for an answer"
        logout = silent.expect(pb.Logout, timeout_s=5)
        assert logout.code == codes.HEARTBEAT_TIMEOUT, logout
        assert "heartbeat timeout" in logout.reason and f"{obx.HEARTBEAT_MISSES} intervals of {INTERVAL_MS} ms" in (
            logout.reason
        ), logout.reason
        silent.wait_closed()
        # The control was silent all that time too: no heartbeat, no logout, and it still trades.
        control.new_order("c1", "ABC", pb.BUY, 1, 1000)
        accepted = control.expect(pb.OrderAccepted)
        assert accepted.client_order_id == "c1"
        assert not [m for m in control.received if isinstance(m, (pb.Heartbeat, pb.Logout))], control.received


def test_obx_member_that_heartbeats_stays_logged_on(exchange: InProcessExchange) -> None:
    """Answering each of the exchange's heartbeats keeps the member well inside three intervals of
    silence, for many intervals; the exchange echoes the member's heartbeats as before."""
    with obx_client(exchange) as member:
        assert member.logon("OBXBEAT", heartbeat_interval_ms=INTERVAL_MS).result_code == codes.OK
        for number in range(1, 4 * obx.HEARTBEAT_MISSES):
            member.expect(pb.Heartbeat, lambda m: m.request_id == 0, timeout_s=5)
            member.send(pb.Heartbeat(request_id=number))
            assert member.expect(pb.Heartbeat, lambda m, n=number: m.request_id == n, timeout_s=5)
        member.new_order("b1", "ABC", pb.BUY, 1, 1000)
        assert member.expect(pb.OrderAccepted).client_order_id == "b1"
        assert not [m for m in member.received if isinstance(m, pb.Logout)], member.received


def test_obx_heartbeat_interval_out_of_range_refuses_the_logon(exchange: InProcessExchange) -> None:
    with obx_client(exchange) as member:
        response = member.logon("OBXBAD", heartbeat_interval_ms=MIN_HEARTBEAT_MS - 1)
        assert response.result_code == codes.MALFORMED_MESSAGE, response
        assert "heartbeat_interval_ms" in response.text and str(MIN_HEARTBEAT_MS - 1) in response.text
        assert member.expect(pb.Logout).code == codes.MALFORMED_MESSAGE
        member.wait_closed()


# ---------------------------------------------------------------------------------- TLX


def test_tlx_heartbeat_in_milliseconds(exchange: InProcessExchange) -> None:
    """HeartBtIntMs (4020) is echoed and kept: a silent member gets a TestRequest and then the
    heartbeat-timeout logout within the milliseconds it asked for, not HeartBtInt's 30 s; a
    member logging on as every released gateway does (108=0, no 4020) gets no heartbeat at all."""
    with tlx_client(exchange, "TLXSIL") as silent, tlx_client(exchange, "TLXCTL") as control:
        assert control.logon(heartbeat_s=0, reset=True).get(4020) is None
        reply = silent.logon(heartbeat_s=30, reset=True, heartbeat_ms=INTERVAL_MS)
        assert (reply.get(108), reply.get(4020)) == ("30", str(INTERVAL_MS))
        assert silent.expect("1", timeout_s=5).get(112)
        logout = silent.expect("5", timeout_s=5)
        assert (logout.get(58), logout.get(4000)) == ("heartbeat timeout", str(codes.HEARTBEAT_TIMEOUT))
        silent.wait_closed()
        control.send("D", [(11, "t1"), (55, "ABC"), (54, "1"), (38, "1"), (40, "2"), (44, "10.00")])
        assert control.expect("8").get(150) == "0"
        assert not [m for m in control.received if m.msg_type in ("0", "1", "5")], control.received


def test_tlx_member_that_answers_test_requests_stays_logged_on(exchange: InProcessExchange) -> None:
    with tlx_client(exchange, "TLXBEAT") as member:
        member.logon(heartbeat_s=0, reset=True, heartbeat_ms=INTERVAL_MS)
        for _ in range(6):
            test = member.expect("1", timeout_s=5)
            member.send("0", [(112, test.get(112) or "")])
        member.send("D", [(11, "t2"), (55, "ABC"), (54, "1"), (38, "1"), (40, "2"), (44, "10.00")])
        assert member.expect("8").get(150) == "0"
        assert not [m for m in member.received if m.msg_type == "5"], member.received


@pytest.mark.parametrize("value", ["10", "300001", "abc"])
def test_tlx_bad_heartbeat_milliseconds_end_the_logon(exchange: InProcessExchange, value: str) -> None:
    with tlx_client(exchange, "TLXBAD") as member:
        member.send("A", [(98, "0"), (108, "0"), (141, "Y"), (4020, value)])
        logout = member.expect("5")
        assert logout.get(4000) == str(codes.MALFORMED_MESSAGE)
        assert "HeartBtIntMs (4020)" in (logout.get(58) or ""), logout.get(58)
        member.wait_closed()
