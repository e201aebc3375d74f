"""Live fuzz: real processes, real sockets. HEAD's refgw (from source) over the simulated
exchange (``python -m compat.exchange``); batches of concurrent TCP connections send
hypothesis-generated garbage to the gateway's client port and the exchange's OBX and TLX ports.

Properties: every garbage session ends (EOF or reset) within a timeout after we stop sending,
never hangs; whatever the server wrote parses in its protocol; a session that broke the
framing gets an error (Reject / Logout) before the close; a well-behaved session logged on
before the fuzz still gets an order acked afterwards; the process is alive; its RSS grows by
less than RSS_BOUND_MB; nothing reached the exchange's catch-all (no ERROR in its log).
"""

from __future__ import annotations

import selectors
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
from fuzz_support import U32, fuzz_settings, mutated, split_frames
from hypothesis import given
from hypothesis import strategies as st
from refgw import refgw_pb2 as gpb
from refgw.framing import encode as gw_encode
from test_fuzz_obx import garbage as obx_garbage
from test_fuzz_refgw import ANSWERS
from test_fuzz_refgw import garbage as gw_garbage
from test_fuzz_tlx import garbage as tlx_garbage
from test_fuzz_tlx import logon as tlx_logon

from compat import timing
from compat.exchange.client import ObxClient, TlxClient
from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues.obx_codec import Frame, decode_payload
from compat.exchange.venues.obx_codec import encode as obx_encode
from compat.exchange.venues.tlx_codec import TlxDecoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "products"))
from procs import GW_SRC, Proc, start

RSS_BOUND_MB = 50
END_TIMEOUT_S = 5.0
MEMBERS = "members:\n" + "".join(
    f"  - {{member_id: {m}, token: {t}}}\n"
    for m, t in [("GW", "gw"), ("GOOD", "good"), ("GOODT", "good"), ("FUZZ", "fuzz")]
)


@dataclass
class Stack:
    exchange: Proc
    gateway: Proc


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Named, non-admin members: a fuzzed admin message cannot halt the instrument the
    # well-behaved sessions trade, and fuzzed logons meet real authentication.
    instruments = tmp_path_factory.mktemp("fuzz") / "instruments.yaml"
    instruments.write_text(DEFAULT_INSTRUMENTS_FILE.read_text(encoding="utf-8") + MEMBERS, encoding="utf-8")
    exchange = start(
        [sys.executable, "-m", "compat.exchange", "--instruments", str(instruments), "--log-level", "WARNING"],
        "exchange",
    )
    try:
        host, port = exchange.addrs["obx"]
        argv = [sys.executable, "-m", "refgw", "--listen", "127.0.0.1:0", "--exchange", f"{host}:{port}"]
        gateway = start(
            [*argv, "--venue", "obx", "--member", "GW", "--member-token", "gw"],
            "gateway",
            env={"PYTHONPATH": str(GW_SRC)},
        )
        try:
            yield Stack(exchange, gateway)
        finally:
            gateway.stop()
    finally:
        exchange.stop()


# ---------------------------------------------------------------------------- the garbage client


@dataclass
class Ended:
    data: bytes
    how: str  # "eof", "reset" or "timeout"


def blast(address: tuple[str, int], payloads: list[bytes]) -> list[Ended]:
    """Open one connection per payload (all at once), send it, half-close, read to the end."""
    socks: list[socket.socket] = []
    try:
        for payload in payloads:
            sock = socket.create_connection(address, timeout=END_TIMEOUT_S)
            socks.append(sock)
            try:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server already closed on an earlier error in the payload
        return _read_to_end(socks)
    finally:
        for sock in socks:
            sock.close()


def _read_to_end(socks: list[socket.socket]) -> list[Ended]:
    data = {s: bytearray() for s in socks}
    how = dict.fromkeys(socks, "timeout")
    deadline = timing.Deadline(END_TIMEOUT_S)
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, sock)
        open_count = len(socks)
        while open_count and deadline.remaining() > 0:
            for key, _ in selector.select(deadline.remaining()):
                sock = key.data
                try:
                    chunk = sock.recv(1 << 16)
                except ConnectionResetError:
                    chunk, how[sock] = b"", "reset"
                if chunk:
                    data[sock] += chunk
                    continue
                if how[sock] == "timeout":
                    how[sock] = "eof"
                selector.unregister(sock)
                open_count -= 1
    return [Ended(bytes(data[s]), how[s]) for s in socks]


def check_ended(outcomes: list[Ended], payloads: list[bytes], what: str) -> None:
    for outcome, payload in zip(outcomes, payloads, strict=True):
        assert outcome.how != "timeout", (
            f"{what}: a session that sent {payload[:64]!r}... ({len(payload)} bytes) and half-closed "
            f"was still open {END_TIMEOUT_S}s later; it had answered {outcome.data[:200]!r}"
        )


# ---------------------------------------------------------------------------- per-target checks


def gateway_answers(data: bytes) -> list[tuple[int, object]]:
    frames, tail = split_frames(data)
    assert tail == b"", f"the gateway's output ends in a partial frame: {tail[:40]!r}"
    out: list[tuple[int, object]] = []
    for msg_type, payload in frames:
        assert msg_type in ANSWERS, f"the gateway answered with message type {msg_type}"
        message = ANSWERS[msg_type]()
        message.ParseFromString(payload)
        out.append((msg_type, message))
    return out


def obx_answers(data: bytes) -> list[object]:
    frames, tail = split_frames(data)
    assert tail == b"", f"the exchange's OBX output ends in a partial frame: {tail[:40]!r}"
    return [decode_payload(Frame(t, p)) for t, p in frames]


def tlx_answers(data: bytes) -> list[object]:
    decoder = TlxDecoder()
    messages = decoder.feed(data)
    assert decoder.pending == 0, "the exchange's TLX output ends in a partial message"
    return list(messages)


def rss_mb(proc: Proc) -> float:
    return float(psutil.Process(proc.popen.pid).memory_info().rss) / (1 << 20)


@dataclass
class Tally:
    sessions: int = 0
    batches: int = 0


def fuzz_target(
    proc: Proc,
    address: tuple[str, int],
    payloads: st.SearchStrategy[bytes],
    check: Callable[[bytes, bytes], None],
    what: str,
    ci_examples: int,
) -> Tally:
    """Run the batches, check each session, bound the RSS growth; returns what was sent."""
    tally = Tally()
    blast(address, [b"\x00" * 8, b"warm-up"])  # first-connection allocations are not growth
    before = rss_mb(proc)
    started = timing.monotonic()

    @fuzz_settings(ci_examples, share=0.05)
    @given(st.lists(payloads, min_size=1, max_size=8))
    def run(batch: list[bytes]) -> None:
        outcomes = blast(address, batch)
        tally.sessions += len(batch)
        tally.batches += 1
        check_ended(outcomes, batch, what)
        for outcome, payload in zip(outcomes, batch, strict=True):
            check(payload, outcome.data)

    run()
    assert proc.popen.poll() is None, f"{what} died during the fuzz: exit {proc.popen.returncode}\n" + "\n".join(
        proc.lines[-30:]
    )
    growth = rss_mb(proc) - before
    elapsed = timing.monotonic() - started
    print(
        f"FUZZ-LIVE {what}: {tally.sessions} sessions in {tally.batches} batches, {elapsed:.1f}s, "
        f"RSS {before:.1f} MB -> {before + growth:.1f} MB (growth {growth:.1f} MB)"
    )
    assert growth < RSS_BOUND_MB, f"{what} RSS grew by {growth:.1f} MB over {tally.sessions} garbage sessions"
    assert tally.sessions >= ci_examples
    return tally


def no_exchange_errors(stack: Stack) -> None:
    bad = [line for line in stack.exchange.lines if " ERROR " in line or "Traceback" in line]
    assert not bad, "the exchange logged errors (a request reached a catch-all):\n" + "\n".join(bad[-20:])


# ---------------------------------------------------------------------------- gateway client port


def gateway_logon(user: str) -> bytes:
    return gw_encode(
        gpb.LOGON_REQUEST,
        gpb.LogonRequest(request_id=1, username=user, protocol_min=2, protocol_max=3).SerializeToString(),
    )


class GoodGatewaySession:
    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=10.0)
        self.buf = b""
        self.sock.sendall(gateway_logon("good"))
        response = self.expect(gpb.LOGON_RESPONSE)
        assert isinstance(response, gpb.LogonResponse) and not response.error_code, response

    def expect(self, msg_type: int, where: Callable[[object], bool] = lambda m: True) -> object:
        deadline = timing.Deadline(10.0)
        while True:
            frames, self.buf = split_frames(self.buf)
            for t, message in gateway_answers(b"".join(gw_encode(t, p) for t, p in frames)):
                assert t != gpb.LOGOUT, f"the well-behaved session was logged out: {message}"
                if t == msg_type and where(message):
                    return message
            assert deadline.remaining() > 0, f"no message type {msg_type} within 10 s"
            self.sock.settimeout(deadline.remaining())
            chunk = self.sock.recv(1 << 16)
            assert chunk, "the gateway closed the well-behaved session"
            self.buf += chunk

    def order_acked(self) -> None:
        coid = f"good-{uuid.uuid4().hex[:8]}"
        order = gpb.InsertOrder(
            request_id=2,
            symbol="ABC",
            side=gpb.BUY,
            qty=1,
            order_type=gpb.LIMIT,
            time_in_force=gpb.GTC,
            price_ticks=100,
            client_order_id=coid,
        )
        self.sock.sendall(gw_encode(gpb.INSERT_ORDER, order.SerializeToString()))
        report = self.expect(gpb.EXECUTION_REPORT, lambda m: getattr(m, "client_order_id", "") == coid)
        assert isinstance(report, gpb.ExecutionReport) and report.exec_type == gpb.ACCEPTED, report

    def close(self) -> None:
        self.sock.close()


def check_gateway(payload: bytes, data: bytes) -> None:
    answers = gateway_answers(data)
    if len(payload) >= 8:
        (length,) = U32.unpack_from(payload)
        if length < 4 or length - 4 > 1 << 20:
            # A bad first header: the very first answer is the Reject that names it.
            assert answers and answers[0][0] == gpb.REJECT, f"{payload[:16]!r} got {answers[:2]}"
            reject = answers[0][1]
            assert isinstance(reject, gpb.Reject) and reject.code == gpb.MALFORMED_MESSAGE, reject


def test_gateway_client_port_survives_garbage_sessions(stack: Stack) -> None:
    address = stack.gateway.addrs["client"]
    good = GoodGatewaySession(address)
    try:
        payloads = st.one_of(gw_garbage, gw_garbage.map(lambda g: gateway_logon("fuzz") + g))
        fuzz_target(stack.gateway, address, payloads, check_gateway, "gateway client port", 40)
        good.order_acked()
    finally:
        good.close()


# ---------------------------------------------------------------------------- exchange OBX port


def check_obx(payload: bytes, data: bytes) -> None:
    answers = obx_answers(data)
    if len(payload) >= 4:
        (length,) = U32.unpack_from(payload)
        if length < 4 or length > 1 << 20:
            assert answers and isinstance(answers[-1], pb.Logout) and answers[-1].reason, answers[-2:]


def test_exchange_obx_port_survives_garbage_sessions(stack: Stack) -> None:
    address = stack.exchange.addrs["obx"]
    good = ObxClient(*address)
    try:
        assert good.logon("GOOD", "good").result_code == 0
        fuzz_logon = obx_encode(pb.LogonRequest(request_id=1, member_id="FUZZ", token="fuzz", client_name="fuzz"))
        payloads = st.one_of(obx_garbage, obx_garbage.map(lambda g: fuzz_logon + g))
        fuzz_target(stack.exchange, address, payloads, check_obx, "exchange OBX port", 40)
        coid = f"good-{uuid.uuid4().hex[:8]}"
        good.new_order(coid, "ABC", pb.BUY, 1, 100)
        accepted = good.expect(pb.OrderAccepted, lambda m: m.client_order_id == coid, timeout_s=10.0)
        assert accepted.leaves_qty == 1
    finally:
        good.close()
    no_exchange_errors(stack)


# ---------------------------------------------------------------------------- exchange TLX port


def check_tlx(payload: bytes, data: bytes) -> None:
    answers = tlx_answers(data)
    if len(payload) >= 2 and payload[:2] != b"8=":  # refused at the first two bytes
        last = answers[-1] if answers else None
        assert last is not None and getattr(last, "msg_type", "") == "5", f"{payload[:20]!r} got {answers[-2:]}"


def test_exchange_tlx_port_survives_garbage_sessions(stack: Stack) -> None:
    address = stack.exchange.addrs["tlx"]
    good = TlxClient(*address, member="GOODT")
    try:
        assert good.logon(token="good", heartbeat_s=0, reset=True).get(98) == "0"
        fuzz_logon = tlx_logon("FUZZ", "fuzz")
        payloads = st.one_of(tlx_garbage, tlx_garbage.map(lambda g: fuzz_logon + g), mutated(tlx_logon()))
        fuzz_target(stack.exchange, address, payloads, check_tlx, "exchange TLX port", 40)
        coid = f"good-{uuid.uuid4().hex[:8]}"
        price = str(Decimal("1.00"))
        good.send(
            "D",
            [
                (11, coid),
                (55, "ABC"),
                (54, "1"),
                (38, "1"),
                (40, "2"),
                (44, price),
                (59, "1"),
                (60, "20261125-19:00:00.000"),
            ],
        )
        report = good.expect("8", lambda m: m.get(11) == coid, timeout_s=10.0)
        assert report.get(150) == "0", report.as_text()
    finally:
        good.close()
    no_exchange_errors(stack)
