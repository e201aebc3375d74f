"""refgw's per-order hot path keeps its exact semantics where it takes a shortcut.

The notional risk check decides with integer maths (units of 10**-price_scale) when that
proves the order within the limit, and falls back to the Decimal computation otherwise: it
must reject exactly the orders the Decimal check rejects, with the same text.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC

sys.path.insert(0, str(GW_SRC))
from refgw.config import Config, Limits
from refgw.core import Gateway, Reject
from refgw.model import InstrumentDef
from refgw.venues import Venue


def _ignore(*_: object) -> None:
    pass


def _gateway(max_notional: Decimal) -> Gateway:
    venue = Venue("127.0.0.1", 1, "M", "t", "test", _ignore, _ignore, _ignore)
    limits = Limits(max_order_qty=10**30, max_notional=max_notional, max_outstanding_qty=10**40)
    return Gateway(venue, Config(limits=limits))


def _decimal_verdict(instr: InstrumentDef, ticks: int, qty: int, cap: Decimal) -> str | None:
    """What the check said before the integer shortcut (refgw 3.1.0.dev0 up to d6b2603)."""
    notional = instr.ticks_to_decimal(ticks) * qty
    if notional > cap:
        return f"notional {notional} exceeds the limit {cap}"
    return None


_CAPS = st.one_of(
    st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e40"), allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("100000000"), Decimal("0.005"), Decimal("1E+3"), Decimal("Infinity"), Decimal(0)]),
)


@given(
    ticks=st.one_of(st.integers(1, 10**6), st.integers(1, 10**20)),
    tick_units=st.sampled_from([1, 5, 25, 10**5]),
    scale=st.integers(0, 8),
    qty=st.one_of(st.integers(1, 10**4), st.integers(1, 10**14)),
    cap=_CAPS,
)
def test_notional_check_rejects_exactly_what_the_decimal_check_rejects(
    ticks: int, tick_units: int, scale: int, qty: int, cap: Decimal
) -> None:
    gw = _gateway(cap)
    instr = InstrumentDef("ABC", "", "EUR", scale, tick_units, 1, 10**30, "OPEN")
    expected = _decimal_verdict(instr, ticks, qty, cap)
    for _ in range(2):  # the second call uses the cached cap
        try:
            gw.check_risk("u1", instr, qty, ticks, market=False)
        except Reject as rej:
            assert rej.code == "RISK_NOTIONAL"
            assert rej.text == expected
        else:
            assert expected is None, f"accepted an order the Decimal check rejects: {expected}"


def test_notional_cap_follows_replaced_limits() -> None:
    gw = _gateway(Decimal("1000"))
    instr = InstrumentDef("ABC", "", "EUR", 2, 1, 1, 10**30, "OPEN")
    gw.check_risk("u1", instr, 1, 100_000, market=False)  # 1000.00: at the limit
    gw.limits = Limits(max_order_qty=10**30, max_notional=Decimal("999.99"), max_outstanding_qty=10**40)
    try:
        gw.check_risk("u1", instr, 1, 100_000, market=False)
    except Reject as rej:
        assert rej.text == "notional 1000.00 exceeds the limit 999.99"
    else:
        raise AssertionError("the cap cached for the old limits was used after the limits changed")
