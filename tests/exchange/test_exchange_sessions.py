"""Session behaviour of both venues against an in-process exchange (real sockets, one loop)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compat.exchange import codes
from compat.exchange.client import ObxClient, TlxClient
from compat.exchange.inprocess import InProcessExchange
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues.obx_codec import encode

pytestmark = pytest.mark.integration

MEMBERS_FILE = """
version: 1
instruments:
  - {symbol: ABC, tick_size: "0.01", price_scale: 2}
  - {symbol: FLT, tick_size: "0.1"}
members:
  - {member_id: GW1, token: s1}
  - {member_id: GW2, token: s2}
  - {member_id: GW3, token: s3}
  - {member_id: OPS, token: ops, admin: true}
"""


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessExchange]:
    path: Path = tmp_path_factory.mktemp("exchange") / "instruments.yaml"
    path.write_text(MEMBERS_FILE)
    with InProcessExchange(venue="both", instruments=path) as running:
        yield running


def obx(exchange: InProcessExchange) -> ObxClient:
    return ObxClient(*exchange.addresses["obx"])


def tlx(exchange: InProcessExchange, member: str, begin: str = "TLX.2") -> TlxClient:
    return TlxClient(*exchange.addresses["tlx"], member=member, begin=begin)


# ---------------------------------------------------------------------------------- OBX


def test_obx_requests_before_logon_are_rejected_but_heartbeat_is_answered(exchange: InProcessExchange) -> None:
    with obx(exchange) as client:
        client.send(pb.Heartbeat(request_id=5))
        assert client.expect(pb.Heartbeat).request_id == 5
        client.send(pb.NewOrder(request_id=6, client_order_id="x", symbol="ABC"))
        reject = client.expect(pb.Reject)
        assert (reject.code, reject.request_id, reject.ref_message_type) == (codes.NOT_LOGGED_ON, 6, pb.NEW_ORDER)


@pytest.mark.parametrize(
    ("member", "token", "code"), [("GW1", "wrong", codes.BAD_TOKEN), ("NOPE", "x", codes.UNKNOWN_MEMBER)]
)
def test_obx_bad_credentials_get_a_coded_response_then_logout(
    exchange: InProcessExchange, member: str, token: str, code: int
) -> None:
    with obx(exchange) as client:
        assert client.logon(member, token).result_code == code
        assert client.expect(pb.Logout).code == code
        client.wait_closed()


def test_obx_second_logon_supersedes_the_first(exchange: InProcessExchange) -> None:
    with obx(exchange) as first, obx(exchange) as second:
        assert first.logon("GW2", "s2").result_code == 0
        assert second.logon("GW2", "s2").result_code == 0
        assert first.expect(pb.Logout).code == codes.SUPERSEDED
        first.wait_closed()
        second.send(pb.Heartbeat(request_id=1))
        assert second.expect(pb.Heartbeat).request_id == 1


def test_obx_fragmented_frames_are_reassembled(exchange: InProcessExchange) -> None:
    with obx(exchange) as client:
        client.logon("GW1", "s1")
        frame = encode(
            pb.NewOrder(
                request_id=1,
                client_order_id="frag",
                symbol="ABC",
                side=pb.BUY,
                order_type=pb.LIMIT,
                tif=pb.GTC,
                qty=1,
                price_ticks=1,
            )
        )
        for i in range(len(frame)):
            client.send_raw(frame[i : i + 1])
        assert client.expect(pb.OrderAccepted).client_order_id == "frag"
        client.send(pb.MassCancel(request_id=2, symbol="ABC"))
        assert client.expect(pb.MassCancelResponse).cancelled_count >= 1


def test_obx_admin_halt_create_and_amend(exchange: InProcessExchange) -> None:
    with obx(exchange) as ops, obx(exchange) as member:
        ops.logon("OPS", "ops")
        member.logon("GW1", "s1")
        member.send(pb.AdminSetInstrumentStatus(request_id=1, symbol="ABC", status=pb.HALTED))
        assert member.expect(pb.AdminResponse).result_code == codes.NOT_AUTHORISED

        ops.send(
            pb.AdminCreateInstrument(
                request_id=2,
                instrument=pb.Instrument(symbol="NEW", tick_size_units=5, price_scale=3, lot_size=1, max_order_qty=100),
            )
        )
        assert ops.expect(pb.AdminResponse).result_code == 0
        member.new_order("n1", "NEW", pb.BUY, 10, 100)  # right after creation: accepted
        assert member.expect(pb.OrderAccepted).client_order_id == "n1"
        member.send(pb.AmendOrder(request_id=3, orig_client_order_id="n1", qty=4))
        replaced = member.expect(pb.OrderReplaced)
        assert (replaced.priority_kept, replaced.leaves_qty) == (True, 4)

        ops.send(pb.AdminSetInstrumentStatus(request_id=4, symbol="NEW", status=pb.HALTED))
        assert ops.expect(pb.AdminResponse).result_code == 0
        assert member.expect(pb.InstrumentStatusUpdate).status == pb.HALTED
        member.new_order("n2", "NEW", pb.BUY, 1, 100)
        assert member.expect(pb.OrderRejected).code == codes.INSTRUMENT_HALTED
        member.send(pb.CancelOrder(request_id=5, orig_client_order_id="n1"))
        assert member.expect(pb.OrderCancelled).reason == pb.USER


# ---------------------------------------------------------------------------------- TLX


def test_tlx_gap_triggers_resend_request_and_gap_fill_releases_held_messages(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW1") as client:
        client.logon("s1", reset=True)
        client.send("1", [(112, "later")], seq=4)  # 2 and 3 are missing
        resend = client.expect("2")
        assert (resend.get(7), resend.get(16)) == ("2", "0")
        client.send("4", [(123, "Y"), (36, "4")], seq=2, poss_dup=True)
        assert client.expect("0").get(112) == "later"


def test_tlx_seq_too_low_is_a_logout_with_reason(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW2") as client:
        client.logon("s2", reset=True)
        client.send("0", [], seq=1)
        logout = client.expect("5")
        assert logout.get(58) == "MsgSeqNum too low, expecting 2 but received 1"
        client.wait_closed()


def test_tlx_reconnect_resends_and_delivers_events_made_while_away(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW1") as first:
        first.logon("s1", reset=True)
        first.send("D", [(11, "r1"), (55, "FLT"), (54, "1"), (38, "5"), (40, "2"), (44, "1.0")])
        ack = first.expect("8", lambda m: m.get(150) == "0")
        ack_seq = int(ack.get(34) or 0)
        sent = first.next_out
    with tlx(exchange, "GW2") as other:
        other.logon("s2", reset=True)
        other.send("D", [(11, "x1"), (55, "FLT"), (54, "2"), (38, "2"), (40, "2"), (44, "1.0"), (59, "3")])
        other.expect("8", lambda m: m.get(150) == "F")
    with tlx(exchange, "GW1") as again:
        again.next_out = sent
        reply = again.logon("s1", next_expected=ack_seq)
        assert reply.get(141) == "N"
        replayed = again.expect("8", lambda m: m.get(43) == "Y")
        assert (replayed.get(34), replayed.get(11)) == (str(ack_seq), "r1")
        fill = again.expect("8", lambda m: m.get(150) == "F")
        assert (fill.get(11), fill.get(32), fill.get(151), fill.get(43)) == ("r1", "2", "3", None)
        again.send("H", [(790, "st1"), (11, "r1")])
        status = again.expect("8", lambda m: m.get(150) == "I")
        assert (status.get(39), status.get(151), status.get(14), status.get(44)) == ("1", "3", "2", "1.0")
        again.send("q", [(11, "mc1"), (530, "7")])
        report = again.expect("r")
        assert (report.get(531), report.get(533)) == ("7", "1")


def test_tlx_fresh_logon_resumes_member_events_from_a_member_seq(exchange: InProcessExchange) -> None:
    """A fill sent into a session that a later 141=Y logon reset (a gateway's logon abandoned in a
    partition, arriving late) is gone for a resend; a fresh logon with 4021 gets it again, flagged
    PossResend, and a fresh logon without 4021 gets only new events, as before."""
    with tlx(exchange, "GW3") as first:
        first.logon("s3", reset=True)
        first.send("D", [(11, "p1"), (55, "FLT"), (54, "1"), (38, "5"), (40, "2"), (44, "2.0"), (5001, "d")])
        ack_member_seq = int(first.expect("8", lambda m: m.get(150) == "0").get(4001) or 0)
        with tlx(exchange, "GW2") as other:
            other.logon("s2", reset=True)
            other.send("D", [(11, "y1"), (55, "FLT"), (54, "2"), (38, "2"), (40, "2"), (44, "2.0"), (59, "3")])
            other.expect("8", lambda m: m.get(150) == "F")
        first.expect("8", lambda m: m.get(150) == "F")  # into the sequence the next logon resets
    with tlx(exchange, "GW3") as late:
        late.logon("s3", reset=True)
        late.send("1", [(112, "nothing-before-me")])
        assert late.expect("0").get(112) == "nothing-before-me"
        assert not [m for m in late.received if m.msg_type == "8"], "a fresh logon without 4021 replays nothing"
    with tlx(exchange, "GW3") as again:
        reply = again.logon("s3", reset=True, resume_from_member_seq=ack_member_seq)
        assert (reply.get(141), reply.get(34)) == ("Y", "1")
        accepted = again.expect("8", lambda m: m.get(150) == "0")
        fill = again.expect("8", lambda m: m.get(150) == "F")
        assert (accepted.get(97), accepted.get(43), accepted.get(11), accepted.get(5001)) == ("Y", None, "p1", "d")
        assert (fill.get(97), fill.get(4001), fill.get(32), fill.get(151)) == ("Y", str(ack_member_seq + 1), "2", "3")
        assert int(accepted.get(34) or 0) < int(fill.get(34) or 0), "replayed in member order, newly sequenced"
        again.send("1", [(112, "after")])
        again.expect("0", lambda m: m.get(112) == "after")
        assert len([m for m in again.received if m.msg_type == "8"]) == 2, "each event once"


def test_tlx_resume_from_member_seq_must_be_a_number(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW3") as client:
        client.send("A", [(98, "0"), (108, "30"), (141, "Y"), (4021, "x1"), (554, "s3")])
        logout = client.expect("5")
        assert (logout.get(58), logout.get(4000)) == (
            "ResumeFromMemberSeq (4021) is not a number",
            str(codes.MALFORMED_MESSAGE),
        )


def test_tlx1_has_no_fok(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW2", begin="TLX.1") as client:
        client.logon("s2", reset=True)
        client.send("D", [(11, "f1"), (55, "ABC"), (54, "1"), (38, "1"), (40, "2"), (44, "1.00"), (59, "4")])
        rejected = client.expect("8", lambda m: m.get(150) == "8")
        assert rejected.get(4000) == str(codes.INVALID_TIF) and "TLX.2" in (rejected.get(58) or "")


def test_tlx_silent_peer_gets_test_request_then_heartbeat_timeout(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW1") as client:
        client.logon("s1", heartbeat_s=1, reset=True)
        assert client.expect("1", timeout_s=5).get(112)
        logout = client.expect("5", timeout_s=5)
        assert (logout.get(58), logout.get(4000)) == ("heartbeat timeout", str(codes.HEARTBEAT_TIMEOUT))
        client.wait_closed()


def test_tlx_first_message_must_be_logon(exchange: InProcessExchange) -> None:
    with tlx(exchange, "GW1") as client:
        client.send("D", [(11, "x")])
        assert "Logon" in (client.expect("5").get(58) or "")
        client.wait_closed()
