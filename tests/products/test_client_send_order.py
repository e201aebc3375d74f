"""``GatewayClient.send_order``: the order is on the wire when it returns, and the reader
resolves its future -- no coroutine or task per order (the benchmark's load plan relies on it).

Real processes: ``compat exchange`` and the HEAD gateway; the HEAD client runs in-process.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory, run
from refclient import ClientError, GatewayClient, OrderRejected, SessionLost, Side


def test_send_order_resolves_in_the_reader_with_the_read_time(gateway: GatewayFactory) -> None:
    gw = gateway(auth={"risk": {"max_order_qty": 100}})

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
        tasks_before = len(asyncio.all_tasks())
        before = time.perf_counter_ns()
        futures = [
            client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"), client_order_id=f"F{i}", timeout=None)
            for i in range(50)
        ]
        too_big = client.send_order("ABC", Side.BUY, qty=1000, price=Decimal("10.00"), timeout=None)
        # Futures, not coroutines, and no task was created to send them.
        assert all(isinstance(f, asyncio.Future) for f in futures)
        assert len(asyncio.all_tasks()) == tasks_before
        handles = await asyncio.gather(*futures)
        with pytest.raises(OrderRejected) as rejected:
            await too_big
        after = time.perf_counter_ns()
        assert [h.client_order_id for h in handles] == [f"F{i}" for i in range(50)]
        assert all(h.order_id > 0 for h in handles)
        assert len({h.order_id for h in handles}) == 50
        assert all(before < h.received_ns < after for h in handles)
        assert rejected.value.code == "RISK_MAX_QUANTITY" and "100" in rejected.value.text
        assert before < rejected.value.received_ns < after
        # Answered requests leave nothing behind (no pending entry, no timer).
        assert client._pending == {}
        # The same order id again is answered with the existing order, never a second one.
        again = await client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"), client_order_id="F3")
        assert again.duplicate and again.order_id == handles[3].order_id
        await client.logout()

    run(scenario())


def test_send_order_raises_local_errors_at_once_and_fails_pending_futures_on_loss(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u2")
        with pytest.raises(OrderRejected) as off_tick:
            client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.001"))
        assert off_tick.value.code == "PRICE_NOT_ON_TICK" and off_tick.value.received_ns == 0
        with pytest.raises(ClientError, match="unknown instrument"):
            client.send_order("NOPE", Side.BUY, qty=1, price=Decimal("1"))
        assert client._pending == {}
        pending = client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"))
        await client.drop()  # lost before the ack was read
        with pytest.raises(SessionLost):
            await pending
        assert client._pending == {}
        with pytest.raises(SessionLost):
            client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"))

    run(scenario())


def test_send_order_times_out_with_a_clear_error(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u3")
        gw.popen.send_signal(signal.SIGSTOP)  # the gateway reads nothing
        try:
            future = client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"), timeout=0.3)
            with pytest.raises(ClientError, match=r"no answer from the gateway within 0.3s"):
                await future
            assert client._pending == {}
        finally:
            gw.popen.send_signal(signal.SIGCONT)
        await client.close()

    run(scenario())
