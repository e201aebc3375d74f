"""Exchange-side instrument status: a halted instrument refuses orders, with a reason, until resumed."""

from __future__ import annotations

from typing import Any

import pytest

from compat import Scenario

pytestmark = pytest.mark.compat

STATUS_SLACK_S = 0.5


def _halt_reason(event: dict[str, Any]) -> str:
    return " ".join(str(event.get(key) or "") for key in ("code", "reason", "text")).strip()


def test_instrument_halt(compat: Scenario) -> None:
    """S31: while the exchange halts an instrument, new orders get a reject that says so
    (INSTRUMENT_HALTED where the gateway has the code); sessions granted
    ``md.instrument_status`` are told of the halt and the resume; after the resume orders are
    accepted again. The symbol is fresh, so no other scenario meets the halt.

    The exchange pushes a status change to the gateway before it answers the admin request,
    on the same connection that later carries the order's answer, and the gateway relays both
    in that order: so once the order's answer is here, a relayed status must be here too (the
    short timeout is slack, not synchronisation)."""
    compat.require_builtin_exchange("halting an instrument at the exchange")
    symbol = compat.symbol()
    s = compat.session()
    pushes = "md.instrument_status" in s.capabilities
    compat.set_instrument_status(symbol, "HALTED")
    try:
        refused = s.place(symbol, "BUY", 2, "10.00")
        assert refused["kind"] == "rejected", f"an order on a halted instrument was not rejected: {refused}"
        reason = _halt_reason(refused)
        compat.record("halt_reject", reason)
        assert "HALT" in reason.upper(), f"the reject must say the instrument is halted: {refused}"
        if pushes:  # a v3 session: its gateway has the dedicated code, and says so
            assert refused.get("code") == "INSTRUMENT_HALTED", refused
            status = s.next_event(["instrument_status"], timeout_s=STATUS_SLACK_S)
            assert (status.get("symbol"), status.get("reason")) == (symbol, "HALTED"), status
    finally:
        compat.set_instrument_status(symbol, "OPEN")
    accepted = s.place(symbol, "BUY", 2, "10.00")
    assert accepted["kind"] == "accepted", f"orders must be accepted again after the resume: {accepted}"
    if pushes:
        status = s.next_event(["instrument_status"], timeout_s=STATUS_SLACK_S)
        assert (status.get("symbol"), status.get("reason")) == (symbol, "OPEN"), status
