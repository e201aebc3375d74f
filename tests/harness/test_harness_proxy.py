"""The fault proxy against a real local echo server. Timing assertions are lower bounds only."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compat import timing
from compat.errors import ConfigError, HarnessError
from compat.harness.proxy import FaultProxy, FrameDrop, FrameFilter


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sizes: list[int] = self.server.recv_sizes  # type: ignore[attr-defined]
        try:
            while data := self.request.recv(65536):
                sizes.append(len(data))
                self.request.sendall(data)
        except ConnectionError:
            pass  # the reset tests do this on purpose


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.recv_sizes: list[int] = []


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(upstream=echo.server_address[:2], name="test", seed=7) as p:  # type: ignore[arg-type]
        yield p


def connect(proxy: FaultProxy, timeout_s: float = 10.0) -> socket.socket:
    return socket.create_connection(proxy.address, timeout=timeout_s)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def frame(frame_type: int, payload: bytes) -> bytes:
    return struct.pack(">II", 4 + len(payload), frame_type) + payload


def test_pass_through_keeps_every_byte(proxy: FaultProxy) -> None:
    blob = os.urandom(1 << 20)
    with connect(proxy) as sock:
        sender = threading.Thread(target=sock.sendall, args=(blob,))
        sender.start()
        received = recv_exactly(sock, len(blob))
        sender.join()
    assert received == blob
    # The proxy counts a chunk after its drain() returns, which can be after the client has
    # read it: wait (bounded) for the counters to catch up before comparing them.
    deadline = timing.monotonic() + 10.0
    stats = proxy.stats()
    while stats["downstream"] < len(blob) and timing.monotonic() < deadline:
        stats = proxy.stats()  # a lock round trip, no sleep
    assert stats["upstream"] == len(blob)
    assert stats["downstream"] == len(blob)
    assert stats["accepted"] == 1


def test_latency_adds_at_least_the_delay(proxy: FaultProxy) -> None:
    proxy.latency(150, direction="downstream")
    with connect(proxy) as sock:
        started = timing.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        assert timing.monotonic() - started >= 0.150
    assert proxy.toxics("upstream").latency_ms == 0


def test_clear_returns_to_the_baseline_not_to_nothing(proxy: FaultProxy) -> None:
    proxy.set_baseline(120, jitter_ms=10)
    proxy.black_hole()
    proxy.latency(500)
    proxy.clear()
    for direction in ("upstream", "downstream"):
        toxics = proxy.toxics(direction)
        assert (toxics.latency_ms, toxics.jitter_ms, toxics.black_hole) == (120, 10, False)
    with connect(proxy) as sock:
        started = timing.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        assert timing.monotonic() - started >= 2 * 0.110  # both directions carry the baseline
    proxy.set_baseline()
    proxy.clear()
    assert proxy.toxics("downstream").latency_ms == 0


def test_every_fault_asked_is_counted_and_undoing_one_is_not(proxy: FaultProxy) -> None:
    counts = [proxy.faults_injected]
    for fault in (lambda: proxy.latency(1.0), lambda: proxy.bandwidth(10_000), lambda: proxy.dribble(1.0),
                  lambda: proxy.drop_after(10), lambda: proxy.black_hole(), lambda: proxy.drop_next_frame(
                      lambda _type, _payload: False), proxy.cut, proxy.pause_downstream, proxy.reset):
        fault()
        counts.append(proxy.faults_injected)
    assert counts == list(range(counts[0], counts[0] + 10)), counts
    proxy.clear()  # heals the cut and resumes downstream: the link is back, the count stays
    proxy.heal()
    proxy.resume_downstream()
    assert proxy.faults_injected == counts[-1]


def test_jitter_is_deterministic_from_the_seed(echo: EchoServer) -> None:
    def delays(seed: int) -> list[float]:
        with FaultProxy(upstream=echo.server_address[:2], seed=seed) as p:  # type: ignore[arg-type]
            p.latency(10, jitter_ms=5)
            toxics = p.toxics("downstream")
            return [p._delay_s(toxics) for _ in range(20)]

    first = delays(3)
    assert first == delays(3)
    assert first != delays(4)
    assert all(0.005 <= d <= 0.015 for d in first)


def test_dribble_delivers_the_same_bytes_one_at_a_time(proxy: FaultProxy, echo: EchoServer) -> None:
    proxy.dribble(delay_ms=2, direction="upstream")
    message = bytes(range(60))
    with connect(proxy) as sock:
        started = timing.monotonic()
        sock.sendall(message)
        assert recv_exactly(sock, len(message)) == message
        assert timing.monotonic() - started >= 59 * 0.002
    assert len(echo.recv_sizes) > 1  # the server really saw the message in pieces


def test_bandwidth_limit_is_a_lower_bound_on_time(proxy: FaultProxy) -> None:
    proxy.bandwidth(100_000, direction="downstream")
    blob = os.urandom(20_000)
    with connect(proxy) as sock:
        started = timing.monotonic()
        sock.sendall(blob)
        assert recv_exactly(sock, len(blob)) == blob
        assert timing.monotonic() - started >= (20_000 - 1_000) / 100_000


def test_drop_after_closes_after_exactly_n_bytes(proxy: FaultProxy) -> None:
    proxy.drop_after(10, direction="downstream")
    with connect(proxy) as sock:
        sock.sendall(bytes(range(100)))
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received == bytes(range(10))


def test_reset_makes_the_client_see_connection_reset(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"hello"  # the relay is established end to end
        assert proxy.reset() == 1
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
    assert proxy.connection_count() == 0


def test_black_hole_swallows_bytes_and_keeps_the_connection(proxy: FaultProxy) -> None:
    proxy.black_hole(direction="upstream")
    with connect(proxy, timeout_s=0.3) as sock:
        sock.sendall(b"lost")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.black_hole(False, direction="upstream")
        sock.settimeout(10)
        sock.sendall(b"kept")
        assert recv_exactly(sock, 4) == b"kept"


def test_cut_holds_bytes_and_heal_delivers_them(proxy: FaultProxy) -> None:
    with connect(proxy, timeout_s=0.3) as sock:
        sock.sendall(b"before")
        sock.settimeout(10)
        assert recv_exactly(sock, 6) == b"before"
        proxy.cut()
        sock.settimeout(0.3)
        sock.sendall(b"during")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.heal()
        sock.settimeout(10)
        assert recv_exactly(sock, 6) == b"during"


def test_drop_exactly_one_matching_frame(proxy: FaultProxy) -> None:
    incremental = 21
    frames = [
        frame(20, b"snapshot"),
        frame(incremental, b"inc-1"),
        frame(incremental, b"inc-2"),
        frame(30, b"x"),
    ]
    rule = proxy.drop_next_frame(lambda t, payload: t == incremental, direction="downstream")
    with connect(proxy) as sock:
        sock.sendall(b"".join(frames))
        expected = frames[0] + frames[2] + frames[3]
        assert recv_exactly(sock, len(expected)) == expected
        assert rule.wait(5)
        assert (rule.frame_type, rule.payload) == (incremental, b"inc-1")
        sock.sendall(frames[1])  # the rule was one-shot: the next incremental passes
        assert recv_exactly(sock, len(frames[1])) == frames[1]


def test_set_upstream_routes_new_connections(proxy: FaultProxy) -> None:
    other = socket.create_server(("127.0.0.1", 0))
    try:
        proxy.set_upstream(other.getsockname()[:2])
        with connect(proxy) as sock:
            other.settimeout(10)
            accepted, _ = other.accept()
            with accepted:
                accepted.sendall(b"from the new upstream")
                assert recv_exactly(sock, 21) == b"from the new upstream"
    finally:
        other.close()


def test_a_proxy_made_before_its_server_holds_connections_until_it_is_named() -> None:
    """``upstream=None``: the server is not up yet (the stack starts the gateway while the exchange
    starts). A connection is accepted and what it sends is held, not lost, and not counted as a
    fault; once ``set_upstream`` names the server, it gets every byte, in order."""
    with FaultProxy(upstream=None, name="held") as held:
        assert held.upstream is None
        with connect(held, timeout_s=0.3) as sock:
            sock.sendall(b"logon before the server is up")
            with pytest.raises(TimeoutError):
                sock.recv(100)  # nothing relayed yet: there is nowhere to relay it
            server = EchoServer()
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            try:
                held.set_upstream(server.server_address[:2])  # type: ignore[arg-type]
                sock.settimeout(10)
                assert recv_exactly(sock, 29) == b"logon before the server is up"
            finally:
                server.shutdown()
                server.server_close()
        assert held.faults_injected == 0


def test_a_held_connection_is_closed_when_the_proxy_closes_before_its_server_is_known() -> None:
    held = FaultProxy(upstream=None, name="held")
    with connect(held, timeout_s=10) as sock:
        sock.sendall(b"logon")
        deadline = timing.Deadline(10.0)
        while held.connection_count() == 0 and not deadline.expired():  # each look is a round trip to its loop
            continue
        held.close()
        try:  # the client learns there will be no server: end of stream, or a reset (its logon unread)
            answer = sock.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b""


def test_busy_holds_each_upstream_chunk_and_spends_the_cpu_doing_it(proxy: FaultProxy) -> None:
    proxy.busy(20_000)  # 20 ms per chunk, client -> server only
    assert proxy.toxics("downstream").busy_us == 0 and "busy 20000us" in proxy.toxics("upstream").describe()
    with connect(proxy) as sock:
        cpu_before = time.process_time_ns()
        started = timing.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        assert timing.monotonic() - started >= 0.020  # a busy wait cannot end early
        assert time.process_time_ns() - cpu_before >= 20_000_000  # and it is that much CPU, not a sleep
    proxy.busy(0)
    with pytest.raises(ConfigError, match="must be >= 0"):
        proxy.busy(-1)


def test_bad_settings_and_closed_proxy(proxy: FaultProxy) -> None:
    with pytest.raises(ConfigError, match="direction"):
        proxy.latency(5, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be > 0"):
        proxy.bandwidth(0)
    address = proxy.address
    proxy.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()
    with pytest.raises(HarnessError, match="is closed"):
        proxy.reset()
    proxy.clear()  # harmless after close (a scenario's finally block may run late)


@settings(max_examples=150, deadline=None)
@given(
    payloads=st.lists(st.tuples(st.integers(1, 4), st.binary(max_size=40)), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 600), max_size=12),
    drop_type=st.integers(1, 4),
)
def test_frame_filter_drops_one_frame_under_any_chunking(
    payloads: list[tuple[int, bytes]], cuts: list[int], drop_type: int
) -> None:
    frames = [frame(t, p) for t, p in payloads]
    stream = b"".join(frames)
    rules = [FrameDrop(lambda t, p: t == drop_type, "downstream")]

    def take(frame_type: int, payload: bytes) -> FrameDrop | None:
        for rule in rules:
            if rule.predicate(frame_type, payload):
                rules.remove(rule)
                rule._fulfil(frame_type, payload)
                return rule
        return None

    filt = FrameFilter(take, lambda: bool(rules))
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    out = b"".join(filt.feed(stream[a:b]) for a, b in itertools.pairwise(bounds)) + filt.flush()
    matches = [i for i, (t, _) in enumerate(payloads) if t == drop_type]
    expected = frames[:]
    if matches:
        del expected[matches[0]]
    assert out == b"".join(expected)


def test_frame_rule_never_stalls_an_unframed_stream(proxy: FaultProxy) -> None:
    rule = proxy.drop_next_frame(lambda t, p: True, direction="downstream")
    text = b"\xff\xff\xff\xff 8=FIX.4.4|9=12|35=A|this is no length-prefixed frame"
    with connect(proxy) as sock:
        sock.sendall(text)
        assert recv_exactly(sock, len(text)) == text
    assert not rule.dropped


def test_pause_downstream_backs_the_server_up_and_resume_delivers_everything() -> None:
    """A consumer that stops reading: the server's writes block after a bounded amount (its send
    buffer plus the proxy's small window), and resuming delivers every byte in order."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    with server, FaultProxy(upstream=server.getsockname()[:2], name="pause", recv_buffer=4096) as proxy:
        client = socket.create_connection(proxy.address, timeout=10)
        conn, _ = server.accept()
        with client, conn:
            conn.sendall(b"x")
            assert recv_exactly(client, 1) == b"x"  # flowing before the pause
            proxy.pause_downstream()
            conn.setblocking(False)
            written: list[bytes] = []
            sent = 0
            with pytest.raises(BlockingIOError):
                while sent < 64 << 20:
                    chunk = bytes([len(written) % 251]) * 4096
                    count = conn.send(chunk)
                    written.append(chunk[:count])
                    sent += count
            assert 0 < sent < 8 << 20, f"the server wrote {sent} bytes to a consumer that stopped reading"
            proxy.resume_downstream()
            assert recv_exactly(client, sent) == b"".join(written)


def test_close_with_live_connections_ends_every_task(echo: EchoServer, caplog: pytest.LogCaptureFixture) -> None:
    """Closing while connections are open (one held behind latency, one held by a partition)
    lets their tasks finish on the loop: none is left pending for the garbage collector."""
    import gc
    import logging

    proxy = FaultProxy(upstream=echo.server_address[:2], name="closing")  # type: ignore[arg-type]
    socks = [connect(proxy) for _ in range(3)]
    for sock in socks:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
    proxy.latency(2000)
    socks[0].sendall(b"held")  # queued behind 2 s of latency when the proxy closes
    proxy.cut()  # a partition: a new connection is accepted and held until heal()
    socks.append(connect(proxy))
    deadline = timing.monotonic() + 10.0
    while proxy.connection_count() < 4:  # each count is a round trip to the proxy's loop
        assert timing.monotonic() < deadline, "the proxy never accepted the connection held by the partition"
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        proxy.close()
        gc.collect()
    assert proxy._loop.is_closed()
    assert asyncio.all_tasks(proxy._loop) == set()  # nothing left pending on the closed loop
    assert [r.getMessage() for r in caplog.records] == []  # no pending task destroyed, no error
    for sock in socks:
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(16) == b""  # every client sees its connection end (EOF or reset)
        sock.close()
