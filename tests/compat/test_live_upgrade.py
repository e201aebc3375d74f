"""Live gateway upgrade and downgrade with the client connected and orders resting."""

from __future__ import annotations

import pytest

from compat import OperationUnsupported, Scenario, StartError, timing

pytestmark = [pytest.mark.compat, pytest.mark.compat_disruptive]


def _swap(compat: Scenario, step: int) -> None:
    target = compat.neighbour_gateway(step)
    if target is None:
        where = "after" if step > 0 else "before"
        raise OperationUnsupported("scenario", "gateway.neighbour",
                                   f"no gateway {where} {compat.gateway_version} in the plan")
    symbol = compat.symbol()
    s = compat.session()
    compat.require(s, "session.resume")
    resting = s.insert(symbol=symbol, side="BUY", qty=5, price="10.00", tif="GTC", order_type="LIMIT")
    s.next_event(["accepted"], resting["client_order_id"])
    source = compat.gateway_version
    stopped_at = timing.monotonic()
    try:
        compat.restart_gateway(target)
    except StartError as refusal:
        # The target started fine before: refusing the journal its neighbour wrote is the
        # gateway's answer (a clear refusal, possibly by design), not an infrastructure error.
        if getattr(refusal, "exit_code", None) is None:
            raise
        raise AssertionError(f"gateway {target.version} refused to resume what {source} wrote:\n{refusal}") from None
    resumed = s.reconnect()
    assert resumed["resumed"], f"gateway {source} → {target.version}: session not resumed: {resumed}"
    after = s.insert(symbol=symbol, side="BUY", qty=1, price="9.00", tif="GTC", order_type="LIMIT")
    assert s.next_event(["accepted"], after["client_order_id"])["kind"] == "accepted"
    gap_s = timing.monotonic() - stopped_at
    # The resting order survived the swap: it is still cancellable exactly once.
    s.cancel(client_order_id=resting["client_order_id"])
    assert s.next_event(["cancelled", "rejected"], resting["client_order_id"])["kind"] == "cancelled"
    compat.record("reconnect_gap_s", round(gap_s, 3))


def test_live_upgrade(compat: Scenario) -> None:
    _swap(compat, +1)


def test_live_downgrade(compat: Scenario) -> None:
    _swap(compat, -1)
