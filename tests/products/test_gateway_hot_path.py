"""refgw's per-order hot path keeps its exact semantics where it takes a shortcut.

The notional risk check decides with integer maths (units of 10**-price_scale) when that
proves the order within the limit, and falls back to the Decimal computation otherwise: it
must reject exactly the orders the Decimal check rejects, with the same text.
"""

from __future__ import annotations

import sys
from collections import deque
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


def test_obx_order_events_built_by_the_factories_carry_every_field() -> None:
    """_on_accepted/_on_fill build VenueOrderEvent with model.accepted_event/fill_event (field by
    field, not through the class): every field lands where the class call puts it."""
    from refgw.model import VenueOrderEvent
    from refgw.venues import obx_pb2 as opb
    from refgw.venues.obx import ObxVenue

    got: list[VenueOrderEvent] = []
    venue = ObxVenue(
        host="127.0.0.1", port=1, member="M", token="t", client_name="test",
        on_order=got.append, on_book=_ignore, on_notice=_ignore,
    )
    venue._held_events = None
    venue._on_accepted(
        opb.OrderAccepted(
            client_order_id="b-7", order_id=99, symbol="ABC", qty=5, price_ticks=101, leaves_qty=4,
            member_seq=12, poss_dup=True,
        )
    )
    venue._on_fill(
        opb.OrderFill(
            client_order_id="b-7", order_id=99, symbol="ABC", qty=3, price_ticks=102, trade_id=55,
            liquidity=opb.MAKER, leaves_qty=1, cum_qty=4, member_seq=13,
        )
    )
    assert got == [
        VenueOrderEvent(
            kind="accepted", venue_coid="b-7", exch_order_id="99", symbol="ABC", qty=5, price_ticks=101,
            leaves_qty=4, member_seq=12, poss_dup=True,
        ),
        VenueOrderEvent(
            kind="fill", venue_coid="b-7", exch_order_id="99", symbol="ABC", last_qty=3, last_price_ticks=102,
            trade_id="55", liquidity="MAKER", leaves_qty=1, cum_qty=4, member_seq=13, poss_dup=False,
        ),
    ]
    assert venue.last_member_seq == 13


def test_insert_builds_the_order_and_sends_it() -> None:
    """Gateway.insert builds GwOrder with core.new_gw_order (field by field, not through the
    class): every field lands where the class call puts it."""
    from refgw.core import GwOrder, SessionState

    sent: list[tuple[object, ...]] = []
    gw = _gateway(Decimal("1e9"))
    gw.venue.instruments["ABC"] = InstrumentDef("ABC", "", "EUR", 2, 1, 1, 10**30, "OPEN")
    gw.venue.new_order = lambda *a: sent.append(a)  # type: ignore[method-assign]
    state = SessionState("s1", "u1", 3, ring=deque())
    order = gw.insert(state, 7, "ABC", "SELL", 3, 250, "LIMIT", "DAY", client_order_id="c1", extensions=b"\x01")
    assert order == GwOrder(
        gw_id=1, venue_coid=f"{gw.boot}-1", username="u1", symbol="ABC", side="SELL", order_type="LIMIT",
        tif="DAY", qty=3, price_ticks=250, session=state, request_id=7, client_order_id="c1", extensions=b"\x01",
        leaves_qty=3,
    )
    assert sent == [(f"{gw.boot}-1", "ABC", "SELL", "LIMIT", "DAY", 3, 250)]
    market = gw.insert(state, 8, "ABC", "BUY", 2, 999, "MARKET", "IOC")
    assert (market.price_ticks, market.leaves_qty, market.exch_order_id, market.state) == (0, 2, "", "PENDING")
    assert gw.outstanding == {"u1": 5}


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


def _client_frames() -> list[tuple[int, bytes]]:
    return [(7, b""), (5, b"\x08\x01" * 150), (9, bytes(range(40))), (5, b"\x08\x02")]


def _feed_session(pieces: list[bytes]) -> tuple[list[tuple[int, bytes]], list[bytes]]:
    from refgw.session import Session

    session = Session(_gateway(Decimal(1)))
    transport = _Transport()
    session.writer = transport
    got: list[tuple[int, bytes]] = []
    session.on_frame = lambda msg_type, payload: got.append((msg_type, payload))  # type: ignore[method-assign]
    for piece in pieces:
        session.data_received(piece)
    assert not session._buf, "a complete stream left bytes buffered"
    return got, transport.written


def test_client_frames_are_cut_the_same_at_every_split() -> None:
    from refgw.framing import encode

    frames = _client_frames()
    stream = b"".join(encode(t, p) for t, p in frames)
    for cut in range(len(stream) + 1):
        assert _feed_session([stream[:cut], stream[cut:]])[0] == frames, f"split at {cut}"
    assert _feed_session([stream[i : i + 1] for i in range(len(stream))])[0] == frames


def test_an_oversize_client_frame_is_skipped_across_reads() -> None:
    from refgw.framing import HEADER, MAX_FRAME, encode

    oversize = HEADER.pack(MAX_FRAME + 5, 5) + b"\0" * (MAX_FRAME + 1)
    stream = encode(7, b"a") + oversize + encode(9, b"bc")
    pieces = [stream[i : i + 65_536] for i in range(0, len(stream), 65_536)]
    got, written = _feed_session(pieces)
    assert got == [(7, b"a"), (9, b"bc")]
    assert len(written) == 1, "one MALFORMED_MESSAGE reject for the oversize frame"


def test_obx_frames_are_cut_the_same_at_every_split() -> None:
    from refgw.venues.obx import _HEADER, _ObxProtocol

    frames = [(3, b""), (20, b"\x10\x05" * 200), (21, b"xyz")]
    stream = b"".join(_HEADER.pack(len(p) + 4, t) + p for t, p in frames)

    def feed(pieces: list[bytes]) -> list[tuple[int, bytes]]:
        got: list[tuple[int, bytes]] = []

        class _Venue:
            def _on_frame(self, msg_type: int, payload: bytes) -> None:
                got.append((msg_type, payload))

        proto = _ObxProtocol(_Venue())  # type: ignore[arg-type]
        for piece in pieces:
            proto.data_received(piece)
        assert not proto.buf
        return got

    for cut in range(len(stream) + 1):
        assert feed([stream[:cut], stream[cut:]]) == frames, f"split at {cut}"
    assert feed([stream[i : i + 1] for i in range(len(stream))]) == frames


_I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(rid=_U64, gw_id=_U64, sym=st.text(max_size=6), side=st.sampled_from(["BUY", "SELL"]), px=_I64, qty=_I64,
       leaves=_I64, cum=_I64, ex=st.text(max_size=8), coid=st.text(max_size=8))
def test_reports_and_new_orders_set_field_by_field_are_the_keyword_builds_bytes(
    rid: int, gw_id: int, sym: str, side: str, px: int, qty: int, leaves: int, cum: int, ex: str, coid: str
) -> None:
    from refgw import refgw_pb2 as pb
    from refgw.core import GwOrder, base_report
    from refgw.venues import obx_pb2 as opb
    from refgw.venues.obx import ObxVenue

    order = GwOrder(gw_id, "b-1", "u1", sym, side, "LIMIT", "GTC", qty, px, None, rid, coid, b"", ex, leaves, cum)
    expected = pb.ExecutionReport(
        request_id=rid, order_id=gw_id, symbol=sym, side=pb.BUY if side == "BUY" else pb.SELL, price_ticks=px,
        qty=qty, leaves_qty=leaves, cum_qty=cum, exchange_order_id=ex, client_order_id=coid,
    )
    assert base_report(None, order).SerializeToString() == expected.SerializeToString()  # type: ignore[arg-type]

    venue = ObxVenue(
        host="127.0.0.1", port=1, member="M", token="t", client_name="test",
        on_order=_ignore, on_book=_ignore, on_notice=_ignore,
    )
    sent = _Transport()
    venue._transport = sent  # type: ignore[assignment]
    venue.new_order(coid, sym, side, "LIMIT", "IOC", qty, px)
    wanted = opb.NewOrder(
        request_id=1, client_order_id=coid, symbol=sym, side=opb.BUY if side == "BUY" else opb.SELL,
        order_type=opb.LIMIT, tif=opb.IOC, qty=qty, price_ticks=px,
    ).SerializeToString()
    assert sent.written == [(len(wanted) + 4).to_bytes(4, "big") + opb.NEW_ORDER.to_bytes(4, "big") + wanted]
