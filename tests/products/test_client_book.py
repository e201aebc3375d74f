"""The client's local order book: snapshot + incrementals, and resync on a gap.

Unit tests drive ``LocalBook`` with literal updates; the live test runs HEAD's client against
a real gateway and exchange, loses one incremental on the client's side (as a lossy link
would), and checks the client notices the gap, re-snapshots and converges.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory
from refclient import GatewayClient, LocalBook, Side
from refclient import refgw_pb2 as pb

BID, ASK = 1, 2


def _book() -> tuple[LocalBook, list[str]]:
    asked: list[str] = []
    return LocalBook("ABC", request_snapshot=asked.append, tick=Decimal("0.01")), asked


def test_snapshot_then_incrementals() -> None:
    book, asked = _book()
    book.on_snapshot(5, [(1000, 3)], [(1010, 4)])
    book.on_incremental(6, [(BID, 1001, 2)])
    book.on_incremental(7, [(ASK, 1010, 0), (ASK, 1011, 9)])
    assert book.seq == 7 and book.synced and not asked
    assert book.bids == [(Decimal("10.01"), 2), (Decimal("10.00"), 3)]
    assert book.asks == [(Decimal("10.11"), 9)]


def test_updates_before_the_snapshot_are_buffered_and_stale_ones_dropped() -> None:
    book, _ = _book()
    book.on_incremental(4, [(BID, 999, 1)])  # older than the snapshot: dropped
    book.on_incremental(6, [(BID, 1000, 7)])  # newer: applied after it
    book.on_snapshot(5, [(1000, 3)], [])
    assert book.seq == 6 and book.bids == [(Decimal("10.00"), 7)]


def test_a_gap_requests_a_snapshot_and_converges() -> None:
    book, asked = _book()
    book.on_snapshot(1, [(1000, 1)], [])
    book.on_incremental(3, [(BID, 1000, 5)])  # seq 2 was lost
    assert asked == ["ABC"] and not book.synced and book.resyncs == 1
    book.on_incremental(4, [(BID, 1001, 1)])  # buffered while resyncing
    book.on_snapshot(3, [(1000, 5)], [])  # the fresh snapshot includes seq 3
    assert book.synced and book.seq == 4
    assert book.bids == [(Decimal("10.01"), 1), (Decimal("10.00"), 5)]


def test_live_gap_is_detected_and_resynced(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        watcher = await GatewayClient.connect(*gw.addrs["client"], username="w")
        trader = await GatewayClient.connect(*gw.addrs["client"], username="t")
        book = await watcher.subscribe_book("XYZ")
        while not book.synced:
            await watcher.heartbeat()
        # Lose exactly one incremental on the watcher's side, as a lossy link would.
        original = watcher._dispatch
        dropped: list[int] = []

        def lossy(msg_type: int, msg: Any, payload: bytes = b"") -> None:
            if msg_type == pb.BOOK_INCREMENTAL and not dropped:
                dropped.append(msg.book_seq)
                return
            original(msg_type, msg, payload)

        watcher._dispatch = lossy  # type: ignore[method-assign]
        prices = ["2.500", "2.505", "2.510", "2.515"]
        for i, price in enumerate(prices):
            await trader.insert_order("XYZ", Side.BUY, qty=i + 1, price=Decimal(price))
        await trader.heartbeat()
        await watcher.heartbeat()  # the resync snapshot precedes this answer on the same connection
        assert dropped, "no incremental was dropped"
        assert book.resyncs == 1 and book.synced
        # The exchange book is shared with other tests: compare with a fresh, lossless view.
        reference = await GatewayClient.connect(*gw.addrs["client"], username="r")
        truth = await reference.subscribe_book("XYZ")
        while not truth.synced:
            await reference.heartbeat()
        assert (book.seq, book.bids, book.asks) == (truth.seq, truth.bids, truth.asks)
        for i, price in enumerate(prices):
            assert (Decimal(price), i + 1) in book.bids
        await reference.logout()
        await trader.mass_cancel("XYZ")
        await trader.logout()
        await watcher.logout()

    asyncio.run(asyncio.wait_for(scenario(), 30.0))
