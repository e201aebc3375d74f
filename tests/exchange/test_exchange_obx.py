"""Socket-level test of the OBX venue: the real `compat exchange` process, real TCP."""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from exchange_process import exchange_process

from compat.exchange import codes
from compat.exchange.audit import ClaimedFill, compare_claimed_fills, read_audit, reconcile
from compat.exchange.client import ObxClient
from compat.exchange.proto import obx_pb2 as pb

pytestmark = pytest.mark.integration



def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


def test_obx_logon_insert_fill_market_data_resume_and_bad_input(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    argv = [sys.executable, "-m", "compat.cli", "exchange", "--venue", "obx", "--audit-log", str(audit)]
    with exchange_process(argv, tmp_path / "exchange.log") as (proc, addrs):
        assert set(addrs) == {"obx"}
        host, port = addrs["obx"]
        buyer, seller, watcher = ObxClient(host, port), ObxClient(host, port), ObxClient(host, port)
        with buyer, seller, watcher:
            assert buyer.logon("GW1").result_code == 0
            assert seller.logon("GW2").result_code == 0
            assert watcher.logon("MD").result_code == 0

            watcher.send(pb.InstrumentListRequest(request_id=1))
            listing = watcher.expect(pb.InstrumentList)
            xyz = next(i for i in listing.instruments if i.symbol == "XYZ")
            assert (xyz.tick_size, xyz.tick_size_units, xyz.price_scale) == ("0.005", 5, 3)

            watcher.send(pb.MarketDataSubscribe(request_id=2, symbol="ABC"))
            snapshot = watcher.expect(pb.MarketDataSnapshot)
            assert (snapshot.book_seq, list(snapshot.bids), list(snapshot.asks)) == (0, [], [])

            buyer.new_order("b1", "ABC", pb.BUY, 10, 10025)
            accepted = buyer.expect(pb.OrderAccepted)
            assert (accepted.member_seq, accepted.client_order_id, accepted.leaves_qty) == (1, "b1", 10)
            inc = watcher.expect(pb.MarketDataIncremental)
            assert inc.book_seq == 1
            assert [(c.side, c.price_ticks, c.qty, c.order_count) for c in inc.changes] == [
                (pb.BUY, 10025, 10, 1)
            ]

            seller.new_order("s1", "ABC", pb.SELL, 4, 10000, tif=pb.IOC)
            taker = seller.expect(pb.OrderFill)
            maker = buyer.expect(pb.OrderFill)
            assert (taker.qty, taker.price_ticks, taker.liquidity, taker.leaves_qty) == (
                4,
                10025,
                pb.TAKER,
                0,
            )
            assert (maker.qty, maker.price_ticks, maker.liquidity, maker.leaves_qty, maker.cum_qty) == (
                4,
                10025,
                pb.MAKER,
                6,
                4,
            )
            assert maker.trade_id == taker.trade_id
            trade = watcher.expect(pb.TradePrint)
            inc = watcher.expect(pb.MarketDataIncremental)
            assert (trade.aggressor_side, trade.book_seq, inc.book_seq) == (pb.SELL, 2, 2)
            assert [(c.price_ticks, c.qty) for c in inc.changes] == [(10025, 6)]

            # Bad input from the seller: clear rejects, the session and everyone else carry on.
            seller.send_raw(struct.pack(">II", 4, 999))
            assert seller.expect(pb.Reject).code == codes.UNKNOWN_MESSAGE_TYPE
            seller.send_raw(struct.pack(">II", 7, pb.NEW_ORDER) + b"\xff\xff\xff")
            assert seller.expect(pb.Reject).code == codes.MALFORMED_MESSAGE
            seller.send(pb.OrderFill())
            assert seller.expect(pb.Reject).code == codes.UNEXPECTED_MESSAGE
            seller.new_order("s2", "ABC", pb.SELL, 1, 10025)
            assert seller.expect(pb.OrderFill).qty == 1

            # The buyer drops; a fill happens while it is away; it resumes after member_seq 2.
            buyer.close()
            seller.new_order("s3", "ABC", pb.SELL, 2, 10025, tif=pb.FOK)
            assert seller.expect(pb.OrderFill, where=lambda m: m.client_order_id == "s3").qty == 2
            with ObxClient(host, port) as again:
                response = again.logon("GW1", resume_from_seq=3)
                assert (response.replay_from_seq, response.replay_count, response.next_member_seq) == (
                    3,
                    2,
                    5,
                )
                replayed = [again.expect(pb.OrderFill), again.expect(pb.OrderFill)]
                assert [(f.member_seq, f.poss_dup, f.qty, f.leaves_qty) for f in replayed] == [
                    (3, True, 1, 5),
                    (4, True, 2, 3),
                ]
                again.send(pb.OrderStatusRequest(request_id=9))
                status = again.expect(pb.OrderStatusResponse)
                assert [(o.client_order_id, o.leaves_qty, o.cum_qty) for o in status.orders] == [("b1", 3, 7)]
                assert status.last_member_seq == 4

            # An oversize frame costs only that connection.
            with ObxClient(host, port) as rogue:
                rogue.send_raw(struct.pack(">II", (1 << 20) + 1, pb.NEW_ORDER))
                logout = rogue.expect(pb.Logout)
                assert logout.code == codes.FRAME_TOO_LARGE and "cap" in logout.reason
                rogue.wait_closed()
            watcher.send(pb.Heartbeat(request_id=77))
            assert watcher.expect(pb.Heartbeat).request_id == 77

            assert stop(proc) == 0
            assert watcher.expect(pb.Logout).code == codes.SHUTTING_DOWN

    ledgers = reconcile(read_audit(audit))
    claimed = [
        ClaimedFill(m.client_order_id, m.trade_id, m.qty, m.price_ticks)
        for m in buyer.received
        if isinstance(m, pb.OrderFill)
    ]
    claimed += [ClaimedFill("b1", f.trade_id, f.qty, f.price_ticks) for f in replayed]
    assert compare_claimed_fills(ledgers, "GW1", claimed) == []
    assert ledgers["GW1"][accepted.order_id].cum_qty == 7
