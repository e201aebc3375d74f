"""The Optivex race: subscribers joining mid-flow under concurrent order load must see
snapshot S, then exactly S+1, S+2, ... with no gap and no duplicate, and their local book
must converge to the exchange's book."""

from __future__ import annotations

import random
import threading

import pytest

from compat import timing
from compat.errors import ExchangeClientError
from compat.exchange.client import ObxClient
from compat.exchange.inprocess import InProcessExchange
from compat.exchange.proto import obx_pb2 as pb

pytestmark = pytest.mark.integration

TRADERS = 4
ORDERS_PER_TRADER = 200
CHUNK = 5
TIMEOUT_S = 30.0
Book = dict[int, dict[int, tuple[int, int]]]


def apply_snapshot(snapshot: pb.MarketDataSnapshot) -> Book:
    return {
        pb.BUY: {lv.price_ticks: (lv.qty, lv.order_count) for lv in snapshot.bids},
        pb.SELL: {lv.price_ticks: (lv.qty, lv.order_count) for lv in snapshot.asks},
    }


def apply_incremental(book: Book, inc: pb.MarketDataIncremental) -> None:
    for change in inc.changes:
        if change.qty == 0:
            book[change.side].pop(change.price_ticks, None)
        else:
            book[change.side][change.price_ticks] = (change.qty, change.order_count)


def trader(
    address: tuple[str, int],
    index: int,
    progress: list[threading.Event],
    snapshots: list[threading.Event],
    errors: list[str],
) -> None:
    """Closed-loop bursts of CHUNK orders. Trader 0 keeps the load going until both
    subscribers hold their snapshot, so each subscribe lands in the middle of live traffic."""
    rng = random.Random(index)
    try:
        with ObxClient(*address, timeout_s=TIMEOUT_S) as client:
            client.logon(f"T{index}")
            n = 0
            while n < ORDERS_PER_TRADER or (
                index == 0 and not all(e.is_set() for e in snapshots) and n < 20 * ORDERS_PER_TRADER
            ):
                for _ in range(CHUNK):
                    side = rng.choice((pb.BUY, pb.SELL))
                    tif = pb.IOC if rng.random() < 0.2 else pb.GTC
                    client.new_order(f"t{index}-{n}", "ABC", side, rng.randint(1, 9), rng.randint(98, 102), tif=tif)
                    n += 1
                for _ in range(CHUNK):
                    client.expect(pb.OrderAccepted)
                if n >= ORDERS_PER_TRADER // 3:
                    progress[0].set()
                if n >= 2 * ORDERS_PER_TRADER // 3:
                    progress[1].set()
    except Exception as exc:  # reported by the test body
        errors.append(f"trader {index}: {exc!r}")


def subscriber(
    address: tuple[str, int],
    start: threading.Event,
    have_snapshot: threading.Event,
    final_seq: list[int],
    done: threading.Event,
    out: dict[str, object],
    errors: list[str],
) -> None:
    try:
        if not start.wait(TIMEOUT_S):
            errors.append("subscriber: traders never reached the join point")
            return
        with ObxClient(*address, timeout_s=TIMEOUT_S) as client:
            client.logon(f"MD{id(out)}")
            client.send(pb.MarketDataSubscribe(request_id=1, symbol="ABC"))
            snapshot = client.expect(pb.MarketDataSnapshot)
            have_snapshot.set()
            book = apply_snapshot(snapshot)
            seqs: list[int] = []
            trades: list[tuple[int, int]] = []  # (book_seq, position in stream)
            deadline = timing.Deadline(TIMEOUT_S)
            while not (done.is_set() and (seqs[-1] if seqs else snapshot.book_seq) >= final_seq[0]):
                if deadline.expired():
                    errors.append(f"subscriber: stuck at {seqs[-1:]} (final {final_seq[0]}, done {done.is_set()})")
                    return
                try:
                    # Short reads, so the end condition is rechecked once the load has stopped.
                    message = client.next_message(timeout_s=0.2)
                except ExchangeClientError:
                    if client.closed_by_peer:
                        raise
                    continue
                if isinstance(message, pb.TradePrint):
                    trades.append((message.book_seq, len(seqs)))
                elif isinstance(message, pb.MarketDataIncremental):
                    seqs.append(message.book_seq)
                    apply_incremental(book, message)
            out.update(snapshot_seq=snapshot.book_seq, seqs=seqs, book=book, trades=trades)
    except Exception as exc:
        errors.append(f"subscriber: {exc!r}")


def test_no_gap_or_duplicate_across_snapshot_to_incremental_under_load() -> None:
    with InProcessExchange(venue="obx") as exchange:
        address = exchange.addresses["obx"]
        progress = [threading.Event(), threading.Event()]
        done = threading.Event()
        final_seq = [0]
        errors: list[str] = []
        early: dict[str, object] = {}
        late: dict[str, object] = {}
        snapshots = [threading.Event(), threading.Event()]
        early_sub = threading.Thread(
            target=subscriber, args=(address, progress[0], snapshots[0], final_seq, done, early, errors)
        )
        late_sub = threading.Thread(
            target=subscriber, args=(address, progress[1], snapshots[1], final_seq, done, late, errors)
        )
        traders = [
            threading.Thread(target=trader, args=(address, i, progress, snapshots, errors)) for i in range(TRADERS)
        ]
        for thread in (early_sub, late_sub, *traders):
            thread.start()
        for thread in traders:
            thread.join(TIMEOUT_S)
        assert not errors, errors

        with ObxClient(*address) as checker:
            checker.logon("CHECK")
            checker.send(pb.MarketDataSubscribe(request_id=1, symbol="ABC"))
            final = checker.expect(pb.MarketDataSnapshot)
        final_seq[0] = final.book_seq
        done.set()
        early_sub.join(TIMEOUT_S)
        late_sub.join(TIMEOUT_S)
        assert not errors, errors

    assert final.book_seq > TRADERS * ORDERS_PER_TRADER // 2, "the load did not change the book much"
    expected_book = apply_snapshot(final)
    for name, seen in (("early", early), ("late", late)):
        start = seen["snapshot_seq"]
        assert isinstance(start, int) and 0 < start < final.book_seq, f"{name} subscriber did not join mid-flow"
        assert seen["seqs"] == list(range(start + 1, final.book_seq + 1)), f"{name}: gap or duplicate"
        assert seen["book"] == expected_book, f"{name}: local book diverged from the exchange's"
        trades = seen["trades"]
        assert isinstance(trades, list)
        # A trade print precedes the incremental it belongs to and is never from before the snapshot.
        assert all(book_seq > start and book_seq == start + 1 + position for book_seq, position in trades)
