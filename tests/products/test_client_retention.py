"""refclient HEAD forgets finished orders beyond a bounded retention (refclient.orders).

Unit: which reports finish an order, the count and age bounds, a reused client_order_id.
Real processes: a HEAD gateway and the HEAD client in-process; after any number of finished
orders the client's maps hold the retained and the live ones, and a cancel by
client_order_id is refused by the gateway as before, inside the client's retention or beyond.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory, run
from refclient import TIF, GatewayClient, OrderRejected, Retention, Side
from refclient import refgw_pb2 as pb
from refclient.orders import KnownOrders


@dataclass
class _Handle:
    order_id: int
    client_order_id: str


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _answered(known: KnownOrders, order_id: int, coid: str, exec_type: int = pb.ACCEPTED, leaves: int = 1) -> None:
    """An insert's first report as the client handles it: the handle, then the report."""
    known.remember(_Handle(order_id, coid))
    known.observe(order_id, coid, exec_type, leaves, 0)


def test_only_reports_with_nothing_left_finish_an_order() -> None:
    known = KnownOrders(Retention(finished_orders=0, finished_age_s=0))
    _answered(known, 1, "a")
    known.observe(1, "a", pb.FILL, 3, 0)  # partly filled
    known.observe(1, "a", pb.REPLACED, 2, 0)
    known.observe(1, "a", pb.REJECTED, 0, pb.UNKNOWN_ORDER)  # a refused cancel says nothing
    known.observe(1, "a", pb.ORDER_STATUS, 2, pb.RESUME_GAP)
    assert known.sizes() == {"handles": 1, "order_ids": 1, "finished": 0}
    known.observe(1, "a", pb.FILL, 0, 0)  # filled: finished, and retention 0 forgets it at once
    assert known.sizes() == {"handles": 0, "order_ids": 0, "finished": 0}

    for order_id, exec_type, code in ((2, pb.CANCELLED, 0), (3, pb.ORDER_STATUS, pb.RESUME_GAP),
                                      (4, pb.REJECTED, pb.DUPLICATE_CLORDID_REPLAYED)):
        _answered(known, order_id, f"c{order_id}", exec_type=pb.ACCEPTED)
        known.observe(order_id, f"c{order_id}", exec_type, 0, code)
        assert known.sizes()["handles"] == 0, (exec_type, code)
    # An exchange reject of an insert never lived: nothing is remembered for it.
    known.observe(5, "c5", pb.REJECTED, 0, pb.NO_LIQUIDITY)
    assert known.sizes() == {"handles": 0, "order_ids": 0, "finished": 0}


def test_the_count_and_the_age_bound_the_finished_orders_and_live_ones_stay() -> None:
    clock = _Clock()
    known = KnownOrders(Retention(finished_orders=20, finished_age_s=60), clock=clock)
    for order_id in range(1, 6):
        _answered(known, order_id, f"live{order_id}")
    for order_id in range(100, 1100):
        clock.now = order_id  # c<N> finishes at N seconds
        _answered(known, order_id, f"c{order_id}")
        known.observe(order_id, f"c{order_id}", pb.CANCELLED, 0, 0)
    assert known.sizes() == {"handles": 25, "order_ids": 25, "finished": 20}
    assert "c1099" in known.handles and "c1079" not in known.handles and "live1" in known.handles
    clock.now = 1099 + 59.5  # c1080..c1098 finished more than 60 s ago, c1099 not yet
    _answered(known, 2000, "late")
    known.observe(2000, "late", pb.FILL, 0, 0)
    assert sorted(known.handles) == ["c1099", "late", "live1", "live2", "live3", "live4", "live5"]


def test_a_forgotten_order_leaves_a_newer_order_under_its_client_order_id_in_place() -> None:
    known = KnownOrders(Retention(finished_orders=1, finished_age_s=0))
    _answered(known, 1, "x", exec_type=pb.CANCELLED, leaves=0)
    _answered(known, 2, "x")  # the gateway forgot order 1 and took "x" for a new order
    _answered(known, 3, "y", exec_type=pb.CANCELLED, leaves=0)  # forgets order 1
    assert known.handles["x"].order_id == 2 and known.coid_by_oid == {2: "x", 3: "y"}


@pytest.mark.parametrize("bad", [{"finished_orders": -1}, {"finished_age_s": -1.0}, {"finished_age_s": float("nan")}])
def test_a_bad_retention_is_refused_naming_the_field(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=f"retention: {next(iter(bad))} must be >= 0"):
        Retention(**bad)  # type: ignore[arg-type]


def test_a_real_client_keeps_only_its_retention_and_cancels_are_refused_as_before(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(
            *gw.addrs["client"], username="keeper", retention=Retention(finished_orders=20, finished_age_s=0)
        )
        resting = [
            await client.insert_order("ABC", Side.SELL, qty=1, price=Decimal("999.00"), client_order_id=f"rest{i}")
            for i in range(3)
        ]
        # IOC orders far from the book: accepted, then the remainder cancelled by the exchange.
        for i in range(300):
            await client.insert_order("ABC", Side.BUY, qty=1, price=Decimal("1.00"), tif=TIF.IOC,
                                      client_order_id=f"i{i}")
        while len(client._known._finished) < 20 or client._known.sizes()["handles"] > 23:
            await client.next_event(timeout=5.0)  # the last IOC cancels are still on their way
        client.drain_events()
        assert client._known.sizes() == {"handles": 23, "order_ids": 23, "finished": 20}
        assert "i299" in client._known.handles and "i279" not in client._known.handles
        assert all(f"rest{i}" in client._known.handles for i in range(3))
        # Inside the client's retention the handle gives the order id; beyond it the cancel is
        # sent by client_order_id alone. The gateway still knows both, and refuses both.
        for coid in ("i299", "i0"):
            with pytest.raises(OrderRejected) as refused:
                await client.cancel_order(coid)
            assert refused.value.code == "UNKNOWN_ORDER" and "not live" in refused.value.text, coid
        with pytest.raises(OrderRejected, match="no order 'i0' known to this client") as amend:
            await client.amend_order("i0", price=Decimal("2.00"))
        assert amend.value.code == "UNKNOWN_ORDER"
        for handle in resting:
            await client.cancel_order(handle)
        await client.logout()

    run(scenario())
