"""Socket-level test of the TLX venue: the real exchange process (python -m compat.exchange)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from exchange_process import exchange_process

from compat.exchange import codes
from compat.exchange.audit import ClaimedFill, compare_claimed_fills, read_audit, reconcile
from compat.exchange.client import TlxClient

pytestmark = pytest.mark.integration



def test_tlx_session_insert_fill_market_data_and_bad_input(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    argv = [sys.executable, "-m", "compat.exchange", "--venue", "both", "--audit-log", str(audit)]
    with exchange_process(argv, tmp_path / "exchange.log") as (proc, addrs):
        assert set(addrs) == {"obx", "tlx"}
        host, port = addrs["tlx"]
        with TlxClient(host, port, "GW1") as buyer, TlxClient(host, port, "GW2") as seller:
            logon = buyer.logon(heartbeat_s=30)
            assert (logon.begin, logon.get(34), logon.get(789), logon.get(49)) == ("TLX.2", "1", "2", "TLX")
            seller.logon()

            buyer.send("x", [(320, "sec1"), (559, "0")])
            listing = buyer.expect("y")
            ticks = [v for t, v in listing.fields if t == 969]
            assert ticks == ["0.01", "0.005", "0.1"]

            buyer.send("V", [(262, "md1"), (263, "1"), (146, "1"), (55, "FLT")])
            snapshot = buyer.expect("W")
            assert (snapshot.get(83), snapshot.get(268)) == ("0", "0")

            # 0.3 on a 0.1 tick: the float edge, exact here.
            buyer.send(
                "D",
                [
                    (11, "b1"),
                    (55, "FLT"),
                    (54, "1"),
                    (38, "10"),
                    (40, "2"),
                    (44, "0.3"),
                    (59, "1"),
                    (5001, "desk-7"),
                ],
            )
            ack = buyer.expect("8", lambda m: m.get(150) == "0")
            assert (ack.get(11), ack.get(44), ack.get(151), ack.get(5001), ack.get(4001)) == (
                "b1",
                "0.3",
                "10",
                "desk-7",
                "1",
            )
            assert buyer.expect("X").get(83) == "1"

            seller.send(
                "D", [(11, "s1"), (55, "FLT"), (54, "2"), (38, "4"), (40, "2"), (44, "0.2"), (59, "3")]
            )
            taker = seller.expect("8", lambda m: m.get(150) == "F")
            maker = buyer.expect("8", lambda m: m.get(150) == "F")
            assert (taker.get(31), taker.get(32), taker.get(1057), taker.get(39)) == ("0.3", "4", "Y", "2")
            assert (maker.get(31), maker.get(151), maker.get(14), maker.get(1057), maker.get(5001)) == (
                "0.3",
                "6",
                "4",
                "N",
                "desk-7",
            )
            update = buyer.expect("X")
            entries = [(t, v) for t, v in update.fields if t in (269, 270, 271)]
            assert update.get(83) == "2"
            assert entries == [(269, "2"), (270, "0.3"), (271, "4"), (269, "0"), (270, "0.3"), (271, "6")]

            # Off tick: a business reject with the exchange code, never a silent rounding.
            seller.send("D", [(11, "s2"), (55, "FLT"), (54, "2"), (38, "1"), (40, "2"), (44, "0.25")])
            rejected = seller.expect("8", lambda m: m.get(150) == "8")
            assert rejected.get(4000) == str(codes.PRICE_NOT_ON_TICK)

            # Session-level rejects keep the session up.
            seller.send(
                "D", [(11, "s3"), (55, "FLT"), (54, "2"), (38, "1"), (40, "2"), (44, "0.3"), (4999, "x")]
            )
            assert (r := seller.expect("3")).get(373) == "3" and r.get(371) == "4999"
            seller.send("Z", [])
            assert seller.expect("3").get(373) == "11"
            seller.send("1", [(112, "ping")])
            assert seller.expect("0").get(112) == "ping"

            # Resend: everything from our seq 2 again, with PossDup; admin messages gap-filled.
            buyer.send("2", [(7, "2"), (16, "0")])
            resent = buyer.expect("8", lambda m: m.get(43) == "Y")
            assert (resent.get(34), resent.get(11), resent.get(122) is not None) == ("4", "b1", True)

            # Cancel the rest; 11 is the cancel request's id, 41 the order's.
            buyer.send("F", [(11, "c1"), (41, "b1"), (55, "FLT"), (54, "1")])
            cancelled = buyer.expect("8", lambda m: m.get(150) == "4")
            assert (cancelled.get(11), cancelled.get(41), cancelled.get(4003), cancelled.get(14)) == (
                "c1",
                "b1",
                "1",
                "4",
            )

            # Bad framing costs only that connection.
            with TlxClient(host, port, "GW3", begin="FIX.4.4") as wrong:
                wrong.send("A", [(98, "0"), (108, "30")])
                assert wrong.expect("5").get(58) == "Incorrect BeginString"
                wrong.wait_closed()
            with TlxClient(host, port, "GW4") as garbled:
                raw = bytearray(garbled.message("A", [(98, "0"), (108, "30")]))
                raw[-4:-1] = b"000" if raw[-4:-1] != b"000" else b"001"
                garbled.send_raw(bytes(raw))
                assert "CheckSum" in (garbled.expect("5").get(58) or "")
                garbled.wait_closed()
            seller.send("0", [])
            seller.send("1", [(112, "still-there")])
            assert seller.expect("0", lambda m: m.get(112) == "still-there")

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert buyer.expect("5").get(4000) == str(codes.SHUTTING_DOWN)

    fills = [m for m in buyer.received if m.get(150) == "F" and m.get(43) != "Y"]
    ledgers = reconcile(read_audit(audit))
    claimed = [ClaimedFill(m.get(11) or "", int(m.get(880) or 0), int(m.get(32) or 0), 3) for m in fills]
    assert compare_claimed_fills(ledgers, "GW1", claimed) == []
