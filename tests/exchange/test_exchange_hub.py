"""The hub: fan-out isolation, atomic subscribe, member attach/resume, authentication."""

from __future__ import annotations

from compat.exchange import codes
from compat.exchange.events import BUY, GTC, LIMIT, SELL, BookUpdate, MemberEvent, StatusChange, TradePrint
from compat.exchange.hub import Hub
from compat.exchange.instruments import ExchangeConfig, InstrumentSpec, Member

ABC = InstrumentSpec("ABC", tick_size_units=1, price_scale=2)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[object] = []

    def on_member_event(self, event: MemberEvent) -> None:
        self._take(event)

    def on_trade(self, event: TradePrint) -> None:
        self._take(event)

    def on_book_update(self, event: BookUpdate) -> None:
        self._take(event)

    def on_status(self, event: StatusChange) -> None:
        self._take(event)

    def _take(self, event: object) -> None:
        if self.fail:
            raise RuntimeError("this session is broken")
        self.events.append(event)


def hub(members: tuple[Member, ...] | None = None) -> Hub:
    ticks = iter(range(1, 1 << 30))
    return Hub(ExchangeConfig((ABC,), members), clock=lambda: next(ticks))


def test_a_failing_session_does_not_starve_the_others() -> None:
    h = hub()
    broken, healthy = Recorder(fail=True), Recorder()
    h.attach("A", broken, 0)
    h.attach("A", healthy, 0)
    h.subscribe("ABC", broken)
    h.subscribe("ABC", healthy)
    h.new_order("A", 1, "a1", "ABC", BUY, LIMIT, GTC, 5, 100)
    assert [type(e).__name__ for e in healthy.events] == ["OrderAccepted", "BookUpdate"]


def test_subscribe_returns_the_snapshot_the_next_update_follows() -> None:
    h = hub()
    h.new_order("A", 1, "a1", "ABC", BUY, LIMIT, GTC, 5, 100)
    md = Recorder()
    snapshot = h.subscribe("ABC", md)
    assert snapshot is not None and snapshot.book_seq == 1 and snapshot.bids == ((100, 5, 1),)
    h.new_order("B", 1, "b1", "ABC", SELL, LIMIT, GTC, 2, 100)
    updates = [e for e in md.events if isinstance(e, BookUpdate)]
    assert [u.book_seq for u in updates] == [2]
    assert h.subscribe("NOPE", md) is None


def test_attach_replays_from_the_requested_seq_and_then_goes_live() -> None:
    h = hub()
    for i in range(3):
        h.new_order("A", i, f"a{i}", "ABC", BUY, LIMIT, GTC, 1, 100)
    live = Recorder()
    replay = h.attach("A", live, 2)
    assert [e.member_seq for e in replay] == [2, 3] and h.next_member_seq("A") == 4
    h.cancel("A", 9, 0, "a0")
    assert [e.member_seq for e in live.events if hasattr(e, "member_seq")] == [4]


def test_authentication_and_admin_rights() -> None:
    open_hub = hub()
    assert open_hub.authenticate("anyone", "") == (codes.OK, "") and open_hub.is_admin("anyone")
    closed = hub((Member("GW1", "t"), Member("OPS", "o", admin=True)))
    assert closed.authenticate("GW1", "t")[0] == codes.OK
    assert closed.authenticate("GW1", "x")[0] == codes.BAD_TOKEN
    assert closed.authenticate("ZZZ", "t")[0] == codes.UNKNOWN_MEMBER
    assert closed.authenticate("", "t")[0] == codes.UNKNOWN_MEMBER
    assert closed.is_admin("OPS") and not closed.is_admin("GW1")
