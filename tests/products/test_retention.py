"""Retention of finished orders through real processes: HEAD's gateway, the HEAD client in-process.

Inside the gateway's retention (``--retain-finished``) every answer is what it was before
retention existed: a repeated client_order_id gets the existing order (DUPLICATE_CLORDID_REPLAYED),
a cancel of a finished order is refused with its state, and a resume gap's status snapshot
lists it; also after a restart from the journal. Beyond it the order is forgotten. At steady
state the map sizes of both products (the gateway's through its SIGUSR1 memory line) stay flat.
"""

from __future__ import annotations

import json
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory, Proc, run
from refclient import TIF, FileSessionStore, GatewayClient, OrderHandle, OrderRejected, Retention, Side

OPEN_ACCESS_FAST = {"throttle": {"limit": 1_000_000, "window_s": 1.0}}  # no users: open access


async def _finished_orders(client: GatewayClient, prefix: str, count: int) -> list[OrderHandle]:
    """``count`` resting orders far from the market, each cancelled: finished at the gateway."""
    handles = []
    for i in range(count):
        handle = await client.insert_order(
            "ABC", Side.SELL, qty=1, price=Decimal("990.00") + i, client_order_id=f"{prefix}{i}"
        )
        await client.cancel_order(handle)
        handles.append(handle)
    return handles


async def _refused_cancel(client: GatewayClient, coid: str) -> OrderRejected:
    with pytest.raises(OrderRejected) as refused:
        await client.cancel_order(coid)
    assert refused.value.code == "UNKNOWN_ORDER", refused.value
    return refused.value


def test_inside_retention_duplicates_cancels_and_resume_status_are_answered_as_before(
    gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = gateway(extra=["--retain-finished", "3", "--resend-window", "4"])

    async def scenario() -> None:
        first = await GatewayClient.connect(*gw.addrs["client"], username="ret")
        orders = await _finished_orders(first, "r", 5)  # r2, r3, r4 inside retention; r0, r1 beyond
        # A resume from seq 1 falls before the 4-report resend ring: the gateway sends the
        # status of every order of the session it still knows.
        store = tmp_path / "session.json"
        store.write_text(json.dumps({"username": "ret", "session_id": first.session_id, "last_seq": 0}))
        resumed = await GatewayClient.connect(
            *gw.addrs["client"], username="ret", session_store=FileSessionStore(store)
        )
        assert resumed.session_id == first.session_id
        await resumed.heartbeat()  # answered after the replay and the status reports
        statuses = [ev for ev in resumed.drain_events() if ev.kind == "status"]
        assert sorted((ev.client_order_id, ev.order_id, ev.code) for ev in statuses) == [
            (f"r{i}", orders[i].order_id, "RESUME_GAP") for i in (2, 3, 4)
        ]
        assert all(ev.text == "order status after a resume gap: CANCELLED" for ev in statuses)

        inside = await _refused_cancel(resumed, "r3")
        assert inside.text == f"order {orders[3].order_id} is CANCELLED, not live"
        beyond = await _refused_cancel(resumed, "r1")
        assert beyond.text == "no order 'r1' for user 'ret'"

        duplicate = await resumed.insert_order("ABC", Side.SELL, qty=1, price=Decimal("999.00"), client_order_id="r4")
        assert duplicate.duplicate and duplicate.order_id == orders[4].order_id
        reused = await resumed.insert_order("ABC", Side.SELL, qty=1, price=Decimal("999.00"), client_order_id="r0")
        assert not reused.duplicate and reused.order_id > orders[4].order_id, "beyond retention: a new order"
        await resumed.cancel_order(reused)
        await resumed.logout()

    run(scenario())


def test_a_restart_from_the_journal_answers_what_was_inside_retention(gateway: GatewayFactory, tmp_path: Path) -> None:
    journal = tmp_path / "gw.journal"
    member = f"RET{tmp_path.name[-8:]}"
    retain = ["--retain-finished", "3"]

    old = gateway(journal=journal, member=member, extra=retain)

    async def before() -> list[OrderHandle]:
        client = await GatewayClient.connect(*old.addrs["client"], username="ret")
        orders = await _finished_orders(client, "j", 5)
        await client.logout()
        return orders

    orders = run(before())
    assert old.stop() == 0
    new = gateway(journal=journal, member=member, extra=retain)

    async def after() -> None:
        client = await GatewayClient.connect(*new.addrs["client"], username="ret")
        duplicate = await client.insert_order("ABC", Side.SELL, qty=1, price=Decimal("999.00"), client_order_id="j2")
        assert duplicate.duplicate and duplicate.order_id == orders[2].order_id
        inside = await _refused_cancel(client, "j4")
        assert inside.text == f"order {orders[4].order_id} is CANCELLED, not live"
        beyond = await _refused_cancel(client, "j1")
        assert beyond.text == "no order 'j1' for user 'ret'"
        await client.logout()

    run(after())


def _memory(gw: Proc) -> dict[str, int]:
    """The gateway's SIGUSR1 memory line, as numbers."""
    after = len(gw.lines)
    gw.popen.send_signal(signal.SIGUSR1)
    line = gw.wait_line(r"refgw: memory: (.*)$", after=after).group(1)
    return {name: int(value) for name, value in (field.split("=") for field in line.split())}


async def _until_finished(client: GatewayClient, coid: str, round_trips: int = 1000) -> None:
    """Read events until the one finishing ``coid`` (its IOC remainder cancelled, or filled)."""
    for _ in range(round_trips):
        if any(ev.client_order_id == coid and ev.kind in ("cancelled", "fill") and not ev.leaves_qty
               for ev in client.drain_events()):
            return
        await client.heartbeat()  # one round trip: what the gateway sent before it is read by now
    raise AssertionError(f"order {coid} did not finish within {round_trips} heartbeat round trips")


def test_map_sizes_stay_flat_at_steady_state(gateway: GatewayFactory) -> None:
    gw = gateway(auth=OPEN_ACCESS_FAST, extra=["--retain-finished", "100", "--resend-window", "300"])
    rounds: list[tuple[dict[str, int], dict[str, int]]] = []

    async def scenario() -> None:
        client = await GatewayClient.connect(
            *gw.addrs["client"], username="flat", retention=Retention(finished_orders=100, finished_age_s=0)
        )
        resting = await client.insert_order("ABC", Side.SELL, qty=1, price=Decimal("999.00"))
        for round_number in range(3):
            # IOC orders far from the book: each is accepted, then its remainder cancelled.
            for i in range(400):
                await client.insert_order(
                    "ABC", Side.BUY, qty=1, price=Decimal("1.00"), tif=TIF.IOC, client_order_id=f"f{round_number}-{i}"
                )
            await _until_finished(client, f"f{round_number}-399")
            rounds.append((_memory(gw), client._known.sizes()))
        await client.cancel_order(resting)
        await client.logout()

    run(scenario())
    gateway_sizes = [memory for memory, _ in rounds]
    for memory in gateway_sizes:
        # 100 finished orders and the resting one; the resend ring at its 300 reports.
        assert (memory["orders"], memory["live"], memory["finished"]) == (101, 1, 100), memory
        assert (memory["client_ids"], memory["venue_ids"], memory["resend_frames"]) == (101, 101, 300), memory
    assert gateway_sizes[0] == gateway_sizes[1] == gateway_sizes[2], "flat after 400, 800 and 1,200 orders"
    client_sizes = [sizes for _, sizes in rounds]
    assert client_sizes == [{"handles": 101, "order_ids": 101, "finished": 100}] * 3
