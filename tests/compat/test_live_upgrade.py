"""Live gateway upgrade and downgrade with the client connected and orders resting.

Each runs once per swap matrix.yaml's ``swaps:`` declares from the cell's gateway (by default
to its neighbour release, up and down); the swap's two ends are the test's ``compat_swap``, and
expectations about a swap name both (``from``/``to``).
"""

from __future__ import annotations

import pytest

from compat import Scenario, Swap, timing

pytestmark = [pytest.mark.compat, pytest.mark.compat_disruptive]


def _swap(compat: Scenario, swap: Swap) -> None:
    symbol = compat.symbol()
    s = compat.session()
    compat.require(s, "session.resume")
    resting = s.insert(symbol=symbol, side="BUY", qty=5, price="10.00", tif="GTC", order_type="LIMIT")
    s.next_event(["accepted"], resting["client_order_id"])
    stopped_at = timing.monotonic()
    # A target that refuses this journal fails the pair; one that cannot start at all is an
    # error charged to the target (Scenario.swap_gateway).
    compat.swap_gateway(swap.target)
    resumed = s.reconnect()
    assert resumed["resumed"], f"gateway {swap.describe()}: session not resumed: {resumed}"
    after = s.insert(symbol=symbol, side="BUY", qty=1, price="9.00", tif="GTC", order_type="LIMIT")
    assert s.next_event(["accepted"], after["client_order_id"])["kind"] == "accepted"
    gap_s = timing.monotonic() - stopped_at
    # The resting order survived the swap: it is still cancellable exactly once.
    s.cancel(client_order_id=resting["client_order_id"])
    assert s.next_event(["cancelled", "rejected"], resting["client_order_id"])["kind"] == "cancelled"
    compat.record("reconnect_gap_s", round(gap_s, 3))


@pytest.mark.compat_swap("upgrade")
def test_live_upgrade(compat: Scenario, compat_swap: Swap) -> None:
    _swap(compat, compat_swap)


@pytest.mark.compat_swap("downgrade")
def test_live_downgrade(compat: Scenario, compat_swap: Swap) -> None:
    _swap(compat, compat_swap)
