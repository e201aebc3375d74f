"""A TLX member's outbound store and request map stay bounded under order churn (real sockets).

Before the bound, every insert+cancel left about 1.3 KB in the TLX venue (the two execution
reports in the resend store, the request map's entries) for the exchange's lifetime: the
exchange of a TLX matrix cell rose with every order its gateway sent.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import pytest

from compat.exchange.client import TlxClient
from compat.exchange.inprocess import InProcessExchange
from compat.exchange.venues import tlx_session

RETENTION = 50


@pytest.fixture
def small_retention(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(tlx_session, "STORE_RETENTION", RETENTION)
    yield


def churn(client: TlxClient, first: int, count: int) -> None:
    """Insert and cancel ``count`` orders, one at a time, reading both answers."""
    for i in range(first, first + count):
        client.send("D", [(11, f"o{i}"), (55, "FLT"), (54, "1"), (38, "1"), (40, "2"), (44, "0.3"), (59, "1")])
        client.expect("8", lambda m: m.get(150) == "0")
        client.send("F", [(11, f"c{i}"), (41, f"o{i}"), (55, "FLT"), (54, "1")])
        cancelled = client.expect("8", lambda m: m.get(150) == "4")
        assert (cancelled.get(11), cancelled.get(41)) == (f"c{i}", f"o{i}"), cancelled.fields
        client.inbox.clear()
        client.received.clear()


def tlx_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes allocated by the TLX session and application layers still alive (the decoded
    strings the engine keeps, up to its own retention, are the codec's and not counted)."""
    kept = snapshot.filter_traces([tracemalloc.Filter(True, "*/exchange/venues/tlx.py"),
                                   tracemalloc.Filter(True, "*/exchange/venues/tlx_session.py")])
    return sum(stat.size for stat in kept.statistics("filename"))


@pytest.mark.usefixtures("small_retention")
def test_tlx_store_and_requests_stay_bounded_and_old_resends_are_gap_filled() -> None:
    with InProcessExchange(venue="tlx") as exchange, TlxClient(*exchange.addresses["tlx"], "GW1") as client:
        client.logon()
        tracemalloc.start()
        try:
            churn(client, 0, 3 * RETENTION)  # past twice the retention: trimmed once already
            gc.collect()
            before = tlx_bytes(tracemalloc.take_snapshot())
            churn(client, 1000, 8 * RETENTION)  # 800 more outbound messages, 800 more requests
            gc.collect()
            after = tlx_bytes(tracemalloc.take_snapshot())
        finally:
            tracemalloc.stop()
        # Unbounded, 400 insert+cancels keep ~500 KB here; bounded, the store and map only
        # cycle within their 2 x 50 entries.
        assert after - before < 64 * 1024, f"the TLX venue kept {after - before} more bytes over 400 orders"

        # A resend of the oldest messages: trimmed, so gap-filled, then the kept ones come again.
        client.send("2", [(7, "2"), (16, "0")])
        gap_fill = client.expect("4", lambda m: m.get(43) == "Y")
        new_seq = int(gap_fill.get(36) or 0)
        assert gap_fill.get(34) == "2" and gap_fill.get(123) == "Y", gap_fill.fields
        assert new_seq > 2 * (3 + 8) * RETENTION - 2 * 2 * RETENTION, f"messages up to {new_seq} were still kept"
        resent = client.expect("8", lambda m: m.get(43) == "Y")
        assert int(resent.get(34) or 0) == new_seq, resent.fields
