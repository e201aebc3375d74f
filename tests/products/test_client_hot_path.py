"""refclient HEAD's per-order path keeps its results while doing less work per report:
extension fields decoded only when a report has unknown fields, Events filled without their
frozen __init__, price <-> ticks conversions memoised per instrument.

Real processes: a private ``compat exchange`` (this module trades, so no other test's resting
orders may match) and the HEAD gateway; the HEAD client runs in-process.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory, Proc, run, start_exchange
from refclient import Event, GatewayClient, OrderRejected, Side
from refclient.client import _GatewayProtocol
from refclient.framing import encode


@pytest.fixture(scope="module")
def exchange() -> Iterator[Proc]:
    """Overrides the session-wide exchange: an empty book on every symbol."""
    proc = start_exchange()
    yield proc
    proc.stop()


def _built_like_the_constructor(ev: Event) -> None:
    assert list(vars(ev)) == [f.name for f in fields(Event)]
    twin = Event(**vars(ev))
    assert ev == twin and repr(ev) == repr(twin)


async def _fills(client: GatewayClient, count: int) -> list[Event]:
    """The client's next ``count`` fill events; every event read on the way is checked too."""
    fills: list[Event] = []
    while len(fills) < count:
        ev = await client.next_event(timeout=5.0)
        _built_like_the_constructor(ev)
        if ev.kind == "fill":
            fills.append(ev)
    return fills


def test_extension_fields_are_decoded_only_when_the_report_has_them(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
        tagged = await client.send_order(
            "ABC", Side.BUY, qty=1, price=Decimal("10.00"), client_order_id="X1", extensions={1001: "desk-7", 1500: 42}
        )
        plain = await client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"), client_order_id="X2")
        events = {ev.client_order_id: ev for ev in client.drain_events() if ev.kind == "accepted"}
        assert events["X1"].order_id == tagged.order_id
        assert events["X1"].extensions == {1001: "desk-7", 1500: 42}
        assert events["X2"].order_id == plain.order_id
        assert events["X2"].extensions == {}
        for ev in events.values():
            _built_like_the_constructor(ev)
        await client.logout()

    run(scenario())


def test_fill_events_and_prices_are_unchanged_by_the_memo(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        maker = await GatewayClient.connect(*gw.addrs["client"], username="m1")
        taker = await GatewayClient.connect(*gw.addrs["client"], username="t1")
        resting = await maker.send_order("XYZ", Side.SELL, qty=3, price=Decimal("2.675"), client_order_id="S1")
        # The same price twice, the second time spelled differently: one memo entry, same ticks.
        for coid, price in (("B1", Decimal("2.675")), ("B2", Decimal("2.6750"))):
            handle = await taker.send_order("XYZ", Side.BUY, qty=1, price=price, client_order_id=coid)
            assert handle.price == price and str(handle.price) == str(price)  # as given
        for _ in range(2):  # off the tick, memo cold then warm: refused locally each time
            with pytest.raises(OrderRejected) as off_tick:
                taker.send_order("XYZ", Side.BUY, qty=1, price=Decimal("2.676"))
            assert off_tick.value.code == "PRICE_NOT_ON_TICK" and "0.005" in off_tick.value.text

        fills = await _fills(taker, 2)
        assert [ev.client_order_id for ev in fills] == ["B1", "B2"]
        for ev in fills:
            assert str(ev.last_price) == "2.675" and str(ev.price) == "2.675"
            assert ev.last_qty == 1 and ev.leaves_qty == 0 and ev.liquidity == "TAKER"
            assert ev.code == "" and ev.reason == "" and ev.extensions == {}

        maker_fills = await _fills(maker, 2)
        assert all(ev.order_id == resting.order_id and ev.liquidity == "MAKER" for ev in maker_fills)
        assert [ev.leaves_qty for ev in maker_fills] == [2, 1]
        assert all(str(ev.last_price) == "2.675" for ev in maker_fills)

        await maker.cancel_order(resting)
        cancelled = [ev for ev in maker.drain_events() if ev.kind == "cancelled"]
        assert len(cancelled) == 1 and cancelled[0].reason == "USER"
        _built_like_the_constructor(cancelled[0])
        await maker.logout()
        await taker.logout()

    run(scenario())


class _Recorder:
    """Stands in for GatewayClient behind one _GatewayProtocol: records frames and losses."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.lost: list[str] = []
        self._protocol: object = None

    def _on_frame(self, msg_type: int, payload: bytes) -> None:
        assert type(payload) is bytes
        self.frames.append((msg_type, payload))

    def _lose(self, reason: str) -> None:
        self.lost.append(reason)


def _reader() -> tuple[Any, _Recorder]:
    recorder = _Recorder()
    protocol = _GatewayProtocol(recorder)  # type: ignore[arg-type]
    recorder._protocol = protocol
    return protocol, recorder


def test_frames_are_cut_the_same_wherever_the_reads_split_the_stream() -> None:
    frames = [(9, b"\x08\x01" * 20), (4, b""), (2, bytes(range(200)))]
    stream = b"".join(encode(t, p) for t, p in frames)
    for cut in range(len(stream) + 1):
        protocol, recorder = _reader()
        protocol.data_received(stream[:cut])
        protocol.data_received(stream[cut:])
        assert recorder.frames == frames, f"split at byte {cut}"
        assert not protocol.buf and not recorder.lost
    protocol, recorder = _reader()
    for i in range(len(stream)):
        protocol.data_received(stream[i : i + 1])
    assert recorder.frames == frames and not protocol.buf


def test_a_bad_frame_length_fails_the_connection_even_after_a_partial_read() -> None:
    protocol, recorder = _reader()
    protocol.data_received(encode(9, b"ok")[:5])
    protocol.data_received(encode(9, b"ok")[5:] + struct.pack(">II", 2, 9))
    assert recorder.frames == [(9, b"ok")]
    assert recorder.lost == ["frame length 2 is below the 4-byte type"] and protocol.failed
    protocol.data_received(encode(9, b"late"))  # nothing after a failure
    assert recorder.frames == [(9, b"ok")]
