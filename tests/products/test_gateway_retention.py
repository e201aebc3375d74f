"""refgw HEAD forgets finished orders beyond a bounded retention (refgw.retention), in process.

The gateway core runs against a venue stub: orders go in through ``Gateway.insert`` and the
exchange's answers come back through ``Gateway.on_venue_order``, as the venue adapters deliver
them. The map sizes are counted, not RSS: after any number of finished orders the maps hold
the retained ones and the live ones, never more. Restart: the journal still holds every order,
and recovery keeps exactly what retention keeps. The same through real processes, with
duplicate answers, cancel rejects and resume status: tests/products/test_retention.py.
"""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC

sys.path.insert(0, str(GW_SRC))
from refgw import journal as jr
from refgw.config import Config
from refgw.core import Gateway, GwOrder, Reject, SessionState
from refgw.model import InstrumentDef, VenueOrderEvent
from refgw.retention import FinishedOrders, Retention
from refgw.venues import Venue


def _ignore(*_: object) -> None:
    pass


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class _QuietVenue(Venue):
    """Takes orders and cancels without an exchange: the test plays the exchange's answers."""

    def new_order(self, *_: object) -> None:
        pass

    def cancel(self, *_: object) -> None:
        pass


def _gateway(retention: Retention, journal: jr.Journal | None = None) -> Gateway:
    venue = _QuietVenue("127.0.0.1", 1, "M", "t", "test", _ignore, _ignore, _ignore)
    venue.instruments["ABC"] = InstrumentDef("ABC", "", "EUR", 2, 1, 1, 10**9, "OPEN")
    gw = Gateway(venue, Config(), journal=journal, retention=retention)
    gw.states["s1"] = SessionState("s1", "u1", 3, ring=deque(maxlen=100))
    return gw


def _insert(gw: Gateway, coid: str) -> GwOrder:
    return gw.insert(gw.states["s1"], 1, "ABC", "BUY", 1, 100, "LIMIT", "GTC", client_order_id=coid)


_member_seq = iter(range(1, 10**9))


def _event(order: GwOrder, kind: str, **fields: object) -> VenueOrderEvent:
    return VenueOrderEvent(kind=kind, venue_coid=order.venue_coid, member_seq=next(_member_seq), **fields)  # type: ignore[arg-type]


def _accept(gw: Gateway, order: GwOrder) -> None:
    gw.on_venue_order(_event(order, "accepted", exch_order_id=f"X{order.gw_id}", leaves_qty=1))


def _cancel(gw: Gateway, order: GwOrder) -> None:
    gw.on_venue_order(_event(order, "cancelled", reason="USER"))


def _finish(gw: Gateway, coid: str) -> GwOrder:
    order = _insert(gw, coid)
    _accept(gw, order)
    _cancel(gw, order)
    return order


def _sizes(gw: Gateway) -> tuple[int, int, int, int]:
    return len(gw.orders), len(gw.by_client_id), len(gw.by_venue_coid), len(gw.finished)


def test_beyond_the_count_finished_orders_leave_every_map_and_live_ones_stay() -> None:
    gw = _gateway(Retention(finished_orders=50, finished_age_s=0))
    live = [_insert(gw, f"live{i}") for i in range(7)]
    for order in live[:3]:
        _accept(gw, order)
    finished = [_finish(gw, f"c{i}") for i in range(1000)]
    assert _sizes(gw) == (57, 57, 57, 50)
    assert sorted(gw.orders) == sorted([o.gw_id for o in live] + [o.gw_id for o in finished[-50:]])
    assert gw.existing("u1", "c999") is finished[-1] and gw.existing("u1", "c949") is None
    for i in range(1000, 3000):  # steady state: still the same sizes
        _finish(gw, f"c{i}")
    assert _sizes(gw) == (57, 57, 57, 50)
    assert gw.memory_counts()["live"] == 7
    assert gw.outstanding == {"u1": 7}, "retention never touches the live orders' risk figures"


def test_beyond_the_age_finished_orders_are_forgotten_when_another_finishes() -> None:
    gw = _gateway(Retention(finished_orders=1000, finished_age_s=10))
    gw.clock = clock = _Clock(1000.0)
    for i in range(5):
        clock.now = 1000.0 + i
        _finish(gw, f"c{i}")
    assert _sizes(gw) == (5, 5, 5, 5)
    clock.now = 1012.5  # c0..c2 (finished at 1000..1002) are now more than 10 s old
    _finish(gw, "c5")
    assert sorted(coid for _, coid in gw.by_client_id) == ["c3", "c4", "c5"]
    assert _sizes(gw) == (3, 3, 3, 3)


def test_inside_retention_a_finished_order_is_still_found_and_refused_as_not_live() -> None:
    gw = _gateway(Retention(finished_orders=2, finished_age_s=0))
    first, second, third = (_finish(gw, f"c{i}") for i in range(3))
    state = gw.states["s1"]
    assert gw.existing("u1", "c2") is third and gw.existing("u1", "c1") is second  # duplicates answered
    with pytest.raises(Reject, match=f"order {third.gw_id} is CANCELLED, not live") as inside:
        gw.cancel(state, 9, third.gw_id)
    with pytest.raises(Reject, match=f"no order {first.gw_id} for user 'u1'") as beyond:
        gw.cancel(state, 9, first.gw_id)
    assert inside.value.code == beyond.value.code == "UNKNOWN_ORDER"
    assert gw.existing("u1", "c0") is None, "beyond retention the client_order_id is free again"
    reused = _insert(gw, "c0")
    assert reused.gw_id != first.gw_id and gw.existing("u1", "c0") is reused


def test_a_forgotten_order_whose_id_was_reused_leaves_the_newer_order_in_place() -> None:
    gw = _gateway(Retention(finished_orders=1, finished_age_s=0))
    _finish(gw, "a")
    _finish(gw, "b")  # forgets "a"
    newer = _insert(gw, "a")  # a new order under the freed client_order_id
    _finish(gw, "c")  # forgets "b"; "a" (the new one) is live
    assert gw.existing("u1", "a") is newer and newer.gw_id in gw.orders


def test_a_late_exchange_event_for_a_forgotten_order_is_logged_and_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    gw = _gateway(Retention(finished_orders=0, finished_age_s=0))
    order = _insert(gw, "c1")
    _accept(gw, order)
    gw.on_venue_order(_event(order, "fill", leaves_qty=0, cum_qty=1, last_qty=1, last_price_ticks=100))
    assert _sizes(gw) == (0, 0, 0, 0)
    delivered = len(gw.states["s1"].ring)
    gw.on_venue_order(_event(order, "cancel_rejected", code=-3002, text="too late to cancel"))
    assert gw.forgotten_events == 1
    assert len(gw.states["s1"].ring) == delivered, "nothing is told to the session"
    err = capsys.readouterr().err
    assert f"exchange event 'cancel_rejected' for order {order.venue_coid}" in err and "dropped" in err
    # Another gateway instance's order (another boot prefix) is not this gateway's: no log.
    gw.on_venue_order(VenueOrderEvent(kind="cancelled", venue_coid="zzzzzz-1", member_seq=next(_member_seq)))
    assert gw.forgotten_events == 1 and capsys.readouterr().err == ""


def test_an_order_rejected_when_the_link_drops_counts_as_finished() -> None:
    gw = _gateway(Retention(finished_orders=1, finished_age_s=0))
    pending = [_insert(gw, f"p{i}") for i in range(3)]
    gw._unconfirmed = {o.gw_id for o in pending}
    assert gw._settle_unconfirmed() == 3
    assert [o.state for o in pending] == ["REJECTED"] * 3
    assert _sizes(gw) == (1, 1, 1, 1) and pending[-1].gw_id in gw.orders


def _journaled_gateway(path: Path, retention: Retention) -> Gateway:
    journal = jr.Journal(path, "3.1.0.dev0")
    gw = _gateway(retention, journal)
    gw.states.clear()
    gw.recover()
    if "s1" not in gw.states:
        gw.states["s1"] = SessionState("s1", "u1", 3, ring=deque(maxlen=100))
        journal.append_json(jr.SESSION, {"sid": "s1", "user": "u1", "v": 3})
    return gw


def test_a_restart_recovers_what_retention_keeps_and_the_journal_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    gw = _journaled_gateway(path, Retention(finished_orders=3, finished_age_s=0))
    orders = [_finish(gw, f"c{i}") for i in range(8)]
    live = _insert(gw, "live")
    _accept(gw, live)
    assert _sizes(gw) == (4, 4, 4, 3)
    assert gw.journal is not None
    gw.journal.close()

    again = _journaled_gateway(path, Retention(finished_orders=3, finished_age_s=0))
    assert sorted(again.orders) == sorted([o.gw_id for o in orders[-3:]] + [live.gw_id])
    assert again.existing("u1", "c7") is not None and again.existing("u1", "c4") is None
    assert again.orders[live.gw_id].state == "OPEN" and again.outstanding == {"u1": 1}
    assert again.next_gw_id == live.gw_id + 1, "ids of forgotten orders are never handed out again"
    assert again.journal is not None and again.journal.records == [], "the records read at open are released"
    again.journal.close()

    # Every order is still in the journal: a restart with a longer retention remembers them all.
    wider = _journaled_gateway(path, Retention(finished_orders=100, finished_age_s=0))
    assert _sizes(wider) == (9, 9, 9, 8)
    assert wider.journal is not None
    wider.journal.close()


def test_recovery_ages_finished_orders_by_their_journal_time(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    gw = _journaled_gateway(path, Retention(finished_orders=100, finished_age_s=60))
    for i in range(4):
        _finish(gw, f"c{i}")
    assert gw.journal is not None
    gw.journal.close()
    fresh = _journaled_gateway(path, Retention(finished_orders=100, finished_age_s=60))
    assert len(fresh.finished) == 4, "written just now: inside the 60 s"
    assert fresh.journal is not None
    fresh.journal.close()

    journal = jr.Journal(path, "3.1.0.dev0")
    later = _gateway(Retention(finished_orders=100, finished_age_s=60), journal)
    later.clock = _Clock(max(r.time_ns for r in journal.records) / 1e9 + 61)  # a restart a minute on
    later.recover()
    assert _sizes(later) == (0, 0, 0, 0)
    journal.close()


def test_finished_orders_keep_their_order_and_retention_refuses_nonsense() -> None:
    finished = FinishedOrders(Retention(finished_orders=2, finished_age_s=5))
    for gw_id, at in ((1, 0.0), (2, 1.0), (3, 2.0)):
        finished.add(gw_id, at)
    assert list(finished.expired(now=2.0)) == [1]
    assert list(finished.expired(now=6.5)) == [2] and 3 in finished and len(finished) == 1
    with pytest.raises(ValueError, match="finished_orders must be >= 0"):
        Retention(finished_orders=-1)
    with pytest.raises(ValueError, match="finished_age_s must be >= 0"):
        Retention(finished_age_s=float("nan"))
