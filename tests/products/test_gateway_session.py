"""The gateway's session layer at HEAD: auth, negotiation, resume/resend, idempotency, throttle, bad input.

Real processes: ``compat exchange`` and the HEAD gateway (``gateway`` fixture); the HEAD
client library runs in-process.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory, run
from refclient import (
    TIF,
    GatewayClient,
    LogonRejected,
    OrderRejected,
    ProtocolVersionError,
    Side,
    Throttled,
)

AUTH = {"users": {"alice": "s3cret", "bob": "b0b"}}


async def _events_until(client: GatewayClient, kind: str, timeout: float = 5.0) -> list[Any]:
    seen = []
    while True:
        ev = await client.next_event(timeout)
        seen.append(ev)
        if ev.kind == kind:
            return seen


def test_bad_token_is_refused_with_a_reason(gateway: GatewayFactory) -> None:
    gw = gateway(auth=AUTH)

    async def scenario() -> None:
        with pytest.raises(LogonRejected) as err:
            await GatewayClient.connect(*gw.addrs["client"], username="alice", password="wrong")
        assert err.value.code == "AUTH_FAILED"
        assert "alice" in err.value.text
        ok = await GatewayClient.connect(*gw.addrs["client"], username="alice", password="s3cret")
        assert ok.negotiated_version == 3
        await ok.logout()

    run(scenario())


def test_disjoint_versions_are_refused_naming_the_supported_range(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        with pytest.raises(ProtocolVersionError) as err:
            await GatewayClient.connect(*gw.addrs["client"], username="u1", protocol=(4, 5))
        assert err.value.supported == (2, 3)
        assert "2..3" in str(err.value)

    run(scenario())


def test_resume_replays_what_was_missed_once_with_contiguous_seq(gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = gateway(journal=tmp_path / "journal")
    addr = gw.addrs["client"]

    async def scenario() -> None:
        buyer = await GatewayClient.connect(*addr, username="u1")
        seller = await GatewayClient.connect(*addr, username="u2")
        await buyer.insert_order("ABC", Side.BUY, qty=10, price=Decimal("50.00"), client_order_id="R1")
        before = await _events_until(buyer, "accepted")
        await buyer.drop()
        # Two fills happen while the buyer is away.
        await seller.insert_order("ABC", Side.SELL, qty=3, price=Decimal("50.00"))
        await seller.insert_order("ABC", Side.SELL, qty=2, price=Decimal("50.00"))
        await _events_until(seller, "fill")
        await _events_until(seller, "fill")
        result = await buyer.reconnect()
        assert result.resumed and result.replayed == 2
        await buyer.heartbeat()  # every replayed frame precedes this answer
        events = [ev for ev in buyer.drain_events() if ev.kind in ("accepted", "fill")]
        fills = [ev for ev in events if ev.kind == "fill"]
        assert [ev.last_qty for ev in fills] == [3, 2]
        assert all(ev.poss_dup for ev in fills)
        seqs = [ev.seq for ev in before if ev.seq] + [ev.seq for ev in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"gap or duplicate in {seqs}"
        # A resume from an older seq replays again, but the client delivers nothing twice.
        buyer.last_seq = 1
        again = await buyer.reconnect()
        assert again.replayed == 2
        await buyer.heartbeat()
        redelivered = [ev.seq for ev in buyer.drain_events() if ev.kind == "fill"]
        assert redelivered == [2, 3]
        await buyer.reconnect()
        await buyer.heartbeat()
        assert [ev for ev in buyer.drain_events() if ev.kind == "fill"] == []
        await buyer.cancel_order("R1")  # leave the shared exchange book as found
        await buyer.logout()
        await seller.logout()

    run(scenario())


def test_repeated_client_order_id_never_makes_a_second_order(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
        first = await client.insert_order("XYZ", Side.BUY, qty=7, price=Decimal("2.675"), client_order_id="dup-1")
        second = await client.insert_order("XYZ", Side.BUY, qty=7, price=Decimal("2.675"), client_order_id="dup-1")
        assert not first.duplicate and second.duplicate
        assert second.order_id == first.order_id
        book = await client.subscribe_book("XYZ")
        await client.heartbeat()
        while not book.synced:
            await client.heartbeat()
        assert dict(book.bids).get(Decimal("2.675")) == 7  # one order of 7, not two
        await client.cancel_order("dup-1")
        await client.logout()

    run(scenario())


def test_throttle_rejects_with_retry_after_and_the_session_survives(gateway: GatewayFactory) -> None:
    gw = gateway(auth={"throttle": {"limit": 3, "window_s": 0.5}})

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
        for i in range(3):
            await client.insert_order("ABC", Side.BUY, qty=1, price=Decimal("1.00"), client_order_id=f"t{i}")
        with pytest.raises(Throttled) as err:
            await client.insert_order("ABC", Side.BUY, qty=1, price=Decimal("1.00"), client_order_id="t3")
        assert err.value.code == "THROTTLED" and err.value.raw_code == 7
        assert 0 < err.value.retry_after_ms <= 500
        await client.heartbeat()  # the session is still up
        await asyncio.sleep(err.value.retry_after)  # waiting out the window is the behaviour under test
        await client.insert_order("ABC", Side.BUY, qty=1, price=Decimal("1.00"), client_order_id="t3")
        await client.mass_cancel("ABC")
        await client.logout()

    run(scenario())


def test_unsupported_tif_value_is_rejected_and_never_rests(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
        from refclient import refgw_pb2 as pb

        reader, writer = await asyncio.open_connection(*gw.addrs["client"])
        logon = pb.LogonRequest(request_id=1, username="raw", protocol_min=2, protocol_max=3).SerializeToString()
        writer.write(struct.pack(">II", len(logon) + 4, pb.LOGON_REQUEST) + logon)
        order = pb.InsertOrder(request_id=2, symbol="ABC", side=pb.BUY, qty=1, price_ticks=100, client_order_id="weird")
        payload = order.SerializeToString() + bytes((7 << 3, 9))  # time_in_force = 9 (unknown)
        writer.write(struct.pack(">II", len(payload) + 4, pb.INSERT_ORDER) + payload)
        await writer.drain()
        frames: list[tuple[int, bytes]] = []
        while len(frames) < 2:
            length, msg_type = struct.unpack(">II", await reader.readexactly(8))
            frames.append((msg_type, await reader.readexactly(length - 4)))
        rep = pb.ExecutionReport()
        rep.ParseFromString(frames[1][1])
        assert rep.exec_type == pb.REJECTED and rep.reject_code == pb.UNSUPPORTED_TIME_IN_FORCE
        writer.close()
        book = await client.subscribe_book("ABC")
        while not book.synced:
            await client.heartbeat()
        assert all(price != Decimal("1.00") for price, _ in book.bids)
        await client.logout()

    run(scenario())


def test_bad_frames_get_a_reject_and_other_sessions_are_unaffected(gateway: GatewayFactory) -> None:
    gw = gateway()
    addr = gw.addrs["client"]

    async def scenario() -> None:
        from refclient import refgw_pb2 as pb

        bystander = await GatewayClient.connect(*addr, username="u2")
        reader, writer = await asyncio.open_connection(*addr)
        logon = pb.LogonRequest(request_id=1, username="bad", protocol_min=2, protocol_max=3).SerializeToString()
        writer.write(struct.pack(">II", len(logon) + 4, pb.LOGON_REQUEST) + logon)
        writer.write(struct.pack(">II", 4 + 2, 99) + b"\x08\x2a")  # unknown type 99, request_id 42
        writer.write(struct.pack(">II", 4 + 3, pb.INSERT_ORDER) + b"\xff\xff\xff")  # garbage payload
        writer.write(struct.pack(">II", 4 + (2 << 20), pb.INSERT_ORDER) + bytes(2 << 20))  # oversize, skipped
        writer.write(struct.pack(">II", 4 + 2, pb.HEARTBEAT) + b"\x08\x07")  # still in sync: answered
        await writer.drain()
        got: list[tuple[int, bytes]] = []
        while len(got) < 5:
            length, msg_type = struct.unpack(">II", await reader.readexactly(8))
            got.append((msg_type, await reader.readexactly(length - 4)))
        types = [t for t, _ in got]
        assert types == [pb.LOGON_RESPONSE, pb.REJECT, pb.REJECT, pb.REJECT, pb.HEARTBEAT]
        rejects = []
        for _, body in got[1:4]:
            rej = pb.Reject()
            rej.ParseFromString(body)
            rejects.append(rej)
        assert rejects[0].code == pb.UNSUPPORTED_MESSAGE_TYPE and rejects[0].request_id == 42
        assert rejects[1].code == pb.MALFORMED_MESSAGE
        assert rejects[2].code == pb.MALFORMED_MESSAGE and "exceeds" in rejects[2].text
        # A truncated frame (EOF inside it) ends only that connection.
        writer.write(struct.pack(">II", 100, pb.INSERT_ORDER) + b"\x08")
        writer.write_eof()
        await writer.drain()
        length, msg_type = struct.unpack(">II", await reader.readexactly(8))
        assert msg_type == pb.REJECT
        writer.close()
        await bystander.heartbeat()
        handle = await bystander.insert_order("ABC", Side.SELL, qty=1, price=Decimal("999.00"), tif=TIF.GTC)
        await bystander.cancel_order(handle)
        await bystander.logout()

    run(scenario())


def test_v3_sessions_get_trade_reports_and_fill_liquidity(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        maker = await GatewayClient.connect(*gw.addrs["client"], username="m")
        taker = await GatewayClient.connect(*gw.addrs["client"], username="t")
        watcher = await GatewayClient.connect(*gw.addrs["client"], username="w")
        assert {"md.trades", "exec.liquidity"} <= watcher.capabilities
        book = await watcher.subscribe_book("FLT")
        while not book.synced:
            await watcher.heartbeat()
        await maker.insert_order("FLT", Side.SELL, qty=4, price=Decimal("7.7"))
        await taker.insert_order("FLT", Side.BUY, qty=4, price=Decimal("7.7"))
        trade = next(ev for ev in await _events_until(watcher, "trade") if ev.kind == "trade")
        assert (trade.qty, trade.price, trade.aggressor_side) == (4, Decimal("7.7"), "BUY")
        maker_fill = next(ev for ev in await _events_until(maker, "fill") if ev.kind == "fill")
        taker_fill = next(ev for ev in await _events_until(taker, "fill") if ev.kind == "fill")
        assert (maker_fill.liquidity, taker_fill.liquidity) == ("MAKER", "TAKER")
        for client in (maker, taker, watcher):
            await client.logout()

    run(scenario())


def test_a_new_client_process_resumes_from_the_session_store(gateway: GatewayFactory, tmp_path: Path) -> None:
    from refclient import FileSessionStore

    gw = gateway()
    addr = gw.addrs["client"]
    store = FileSessionStore(tmp_path / "session.json")

    async def scenario() -> None:
        first = await GatewayClient.connect(*addr, username="p1", session_store=store)
        await first.insert_order("XYZ", Side.BUY, qty=2, price=Decimal("4.125"), client_order_id="S1")
        await _events_until(first, "accepted")
        await first.drop()  # the process "dies"; only the store survives
        seller = await GatewayClient.connect(*addr, username="p2")
        await seller.insert_order("XYZ", Side.SELL, qty=2, price=Decimal("4.125"))
        await _events_until(seller, "fill")
        second = await GatewayClient.connect(*addr, username="p1", session_store=store)
        assert second.session_id == first.session_id
        fill = next(ev for ev in await _events_until(second, "fill") if ev.kind == "fill")
        assert (fill.client_order_id, fill.poss_dup, fill.seq) == ("S1", True, 2)
        await second.logout()
        await seller.logout()
        # A store naming a session the gateway never had: a new session, said so.
        store.save({"username": "p3", "session_id": "nope", "last_seq": 7})
        third = await GatewayClient.connect(*addr, username="p3", session_store=store)
        assert third.session_id != "nope" and third.last_seq == 0
        assert any(ev.kind == "session_new" for ev in third.drain_events())
        await third.logout()

    run(scenario())


def test_risk_checks_reject_with_their_own_code_and_reason(gateway: GatewayFactory) -> None:
    risk = {"max_order_qty": 100, "max_notional": "1000", "max_outstanding_qty": 150, "price_collar_ticks": 50}
    gw = gateway(auth={"risk": risk})

    async def scenario() -> None:
        c = await GatewayClient.connect(*gw.addrs["client"], username="risky")
        from refclient import OrderRejected

        async def code_of(qty: int, price: str) -> tuple[str, str]:
            with pytest.raises(OrderRejected) as err:
                await c.insert_order("FLT", Side.BUY, qty=qty, price=Decimal(price))
            return err.value.code, err.value.text

        code, text = await code_of(101, "1.0")
        assert code == "RISK_MAX_QUANTITY" and "100" in text
        code, text = await code_of(100, "10.1")
        assert code == "RISK_NOTIONAL" and "1000" in text
        await c.insert_order("FLT", Side.BUY, qty=100, price=Decimal("1.0"), client_order_id="o1")
        code, text = await code_of(60, "1.0")
        assert code == "RISK_OUTSTANDING_QUANTITY" and "150" in text
        # A trade at 1.0 (10 ticks) arms the collar: 50 ticks either side.
        await c.insert_order("FLT", Side.SELL, qty=1, price=Decimal("1.0"))
        await _events_until(c, "fill")
        code, text = await code_of(1, "6.1")
        assert code == "RISK_PRICE_COLLAR" and "collar is 50" in text
        await c.mass_cancel("FLT")
        await c.logout()

    run(scenario())


def test_silence_beyond_twice_the_heartbeat_ends_the_session_with_a_reason(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        from refclient import refgw_pb2 as pb

        reader, writer = await asyncio.open_connection(*gw.addrs["client"])
        logon = pb.LogonRequest(request_id=1, username="quiet", protocol_min=2, protocol_max=3, heartbeat_ms=100)
        body = logon.SerializeToString()
        writer.write(struct.pack(">II", len(body) + 4, pb.LOGON_REQUEST) + body)
        await writer.drain()
        types = []
        reason = ""
        while True:  # the gateway closes the connection after its Logout
            head = await reader.read(8)
            if len(head) < 8:
                break
            length, msg_type = struct.unpack(">II", head)
            payload = await reader.readexactly(length - 4)
            types.append(msg_type)
            if msg_type == pb.LOGOUT:
                logout = pb.Logout()
                logout.ParseFromString(payload)
                reason = logout.reason
        assert types == [pb.LOGON_RESPONSE, pb.LOGOUT]
        assert reason.startswith("heartbeat timeout"), reason
        writer.close()

    run(scenario())


def test_losing_the_exchange_keeps_clients_and_rejects_orders_with_a_reason(tmp_path: Path) -> None:
    """3.1: the exchange gone, the session stays up and an order is rejected EXCHANGE_REJECT naming the
    link; the gateway keeps trying to reconnect (bounded backoff) instead of exiting."""
    import sys as _sys

    from procs import GW_SRC, start, start_exchange

    exchange = start_exchange("obx", "private exchange")
    host, port = exchange.addrs["obx"]
    gw = start(
        [_sys.executable, "-m", "refgw", "--listen", "127.0.0.1:0", "--exchange", f"{host}:{port}", "--member", "LOSS"],
        "gateway",
        env={"PYTHONPATH": str(GW_SRC)},
    )
    try:

        async def scenario() -> None:
            client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
            exchange.stop()
            with pytest.raises(OrderRejected) as rejected:
                for _ in range(200):  # until the gateway has seen the exchange go (each try is answered)
                    await client.insert_order("ABC", Side.BUY, 1, Decimal("10.00"))
            assert rejected.value.code == "EXCHANGE_REJECT", rejected.value
            assert "exchange link down" in str(rejected.value), rejected.value
            assert (await client.instruments()), "the session no longer answers while the exchange is away"
            await client.close()

        run(scenario())
        assert gw.popen.poll() is None, f"the gateway exited without its exchange: {gw.lines[-5:]}"
        assert any("exchange reconnect attempt" in line for line in gw.lines) or any(
            "exchange link down" in line for line in gw.lines
        ), gw.lines[-5:]
    finally:
        gw.stop()
        exchange.stop()


def test_superseded_member_logs_clients_out_and_exits_3(exchange: Any) -> None:
    """The member logged on from elsewhere: reconnecting would fight the other gateway, so stop (exit 3)."""
    import sys as _sys

    from procs import GW_SRC, start

    host, port = exchange.addrs["obx"]
    argv = [_sys.executable, "-m", "refgw", "--listen", "127.0.0.1:0", "--exchange", f"{host}:{port}",
            "--member", f"SUPER{id(exchange) % 100000}"]
    first = start(argv, "gateway", env={"PYTHONPATH": str(GW_SRC)})
    second = None
    try:

        async def scenario() -> None:
            nonlocal second
            client = await GatewayClient.connect(*first.addrs["client"], username="u1")
            second = start(argv, "gateway", env={"PYTHONPATH": str(GW_SRC)})
            ev = await _events_until(client, "session_lost", timeout=10.0)
            assert "exchange connection lost" in ev[-1].reason, ev[-1]

        run(scenario())
        assert first.popen.wait(10.0) == 3
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.parametrize("venue", ["obx", "tlx"])
def test_a_crashed_gateway_restarts_from_its_journal_and_recovers_a_fill_made_while_down(
    gateway: GatewayFactory, tmp_path: Path, venue: str
) -> None:
    journal = tmp_path / "journal"
    member = f"CR{venue}{tmp_path.name[-10:]}"
    first = gateway(venue=venue, journal=journal, member=member)
    other = gateway(venue=venue)

    async def scenario() -> None:
        nonlocal first
        client = await GatewayClient.connect(*first.addrs["client"], username="c1")
        await client.insert_order("ABC", Side.BUY, qty=6, price=Decimal("61.00"), client_order_id="K1")
        await _events_until(client, "accepted")
        await client.drop()
        first.popen.kill()  # a crash: only the journal survives
        first.popen.wait(10.0)
        seller = await GatewayClient.connect(*other.addrs["client"], username="c2")
        await seller.insert_order("ABC", Side.SELL, qty=2, price=Decimal("61.00"))
        await _events_until(seller, "fill")
        restarted = gateway(venue=venue, journal=journal, member=member)
        client.host, client.port = restarted.addrs["client"]
        result = await client.reconnect()
        assert result.resumed
        fill = next(ev for ev in await _events_until(client, "fill") if ev.kind == "fill")
        assert (fill.client_order_id, fill.last_qty, fill.seq) == ("K1", 2, 2)
        await client.cancel_order("K1")  # the open order and its id maps survived the crash
        await client.logout()
        await seller.logout()

    run(scenario())
