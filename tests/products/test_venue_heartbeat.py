"""Heartbeats on refgw's exchange link (3.1): a partition that never breaks TCP is noticed.

The link runs through compat's FaultProxy: ``cut()`` stops every byte both ways and holds new
connections while every TCP connection stays open (nothing for TCP to notice). HEAD declares
the link down after its configured missed heartbeats, rejects orders with the reason, and
logs on again once the partition heals. A HEAD gateway with heartbeats off on the same cut
link is the control: it notices nothing. The matrix scenario (tests/compat/test_venue_link.py)
checks what clients of every version see; this records what the processes do.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC, Proc, start, start_exchange
from refclient import GatewayClient, OrderRejected, Side

from compat.exchange.client import TlxClient
from compat.harness.proxy import FaultProxy

sys.path.insert(0, str(GW_SRC))  # the gateway's modules from its source tree, for the unit tests below
from refgw.config import ConfigError, LinkConfig, load_config
from refgw.model import VenueNotice, VenueOrderEvent
from refgw.venues import SUPERSEDED, Venue, make_venue
from refgw.venues import obx_pb2 as obx_pb
from refgw.venues.obx import ObxVenue
from refgw.venues.tlx import TlxVenue

HEARTBEAT_MS = 200
MISSED = 3
# A bound on noticing, derived from the interval: the misses themselves, plus generous room for
# a loaded machine. Without heartbeats the partition is never noticed at all.
NOTICE_S = 10 * MISSED * HEARTBEAT_MS / 1000


@pytest.fixture(params=["obx", "tlx"])
def link(exchange: Proc, request: pytest.FixtureRequest) -> Iterator[FaultProxy]:
    with FaultProxy(upstream=exchange.addrs[request.param], name=f"link-{request.param}") as proxy:
        yield proxy


def _start_gateway(link: FaultProxy, tmp_path: Path, name: str, heartbeat_ms: int) -> Proc:
    venue = link.name.removeprefix("link-")
    auth = tmp_path / f"{name}.json"
    auth.write_text(json.dumps({"exchange_link": {"heartbeat_ms": heartbeat_ms, "missed_heartbeats": MISSED}}))
    host, port = link.address
    return start([sys.executable, "-m", "refgw", "--listen", "127.0.0.1:0", "--exchange", f"{host}:{port}",
                  "--venue", venue, "--auth", str(auth), "--member", f"HB{name}{venue}{tmp_path.name[-6:]}"],
                 f"gateway-{name}", env={"PYTHONPATH": str(GW_SRC)})


def _lines_with(proc: Proc, text: str) -> list[str]:
    return [line for line in list(proc.lines) if text in line]


def _wait_for_lines(proc: Proc, text: str, count: int, timeout_s: float) -> str:
    """The ``count``-th output line containing ``text`` (the reader thread appends lines as they come)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _lines_with(proc, text)
        if len(found) >= count:
            return found[count - 1]
        if proc.popen.poll() is not None:
            break
        time.sleep(0.02)
    tail = "\n".join(proc.lines[-15:])
    raise AssertionError(
        f"no line #{count} with {text!r} within {timeout_s:.1f}s (exit code {proc.popen.poll()}); output:\n{tail}")


def _insert(proc: Proc, price: str) -> str:
    """One order through HEAD's client: 'accepted', or 'rejected <code>: <text>'."""
    async def go() -> str:
        client = await GatewayClient.connect(*proc.addrs["client"], username="u1", protocol=(2, 3))
        try:
            await client.insert_order("ABC", Side.BUY, 1, Decimal(price), timeout=5.0)
        except OrderRejected as error:
            return f"rejected {error.code}: {error.text}"
        finally:
            await client.close()
        return "accepted"

    return asyncio.run(go())


@pytest.mark.integration
def test_a_partition_without_a_tcp_break_is_noticed_by_heartbeats_and_heals(link: FaultProxy, tmp_path: Path) -> None:
    watched = _start_gateway(link, tmp_path, "on", HEARTBEAT_MS)
    control = _start_gateway(link, tmp_path, "off", 0)
    try:
        assert _insert(watched, "10.00") == "accepted"
        for round_number in (1, 2):
            connections = link.connection_count()
            link.cut()
            try:
                down = _wait_for_lines(watched, "exchange link down", round_number, NOTICE_S)
                assert f"{MISSED} heartbeat intervals of {HEARTBEAT_MS} ms missed" in down, down
                outcome = _insert(watched, "10.01")
                assert outcome.startswith("rejected EXCHANGE_REJECT"), outcome
                assert "exchange link down" in outcome and "heartbeat" in outcome, outcome
                # The control, silent on the same cut link just as long, noticed nothing: TCP is intact.
                assert not _lines_with(control, "exchange link down"), control.lines[-5:]
                assert link.connection_count() >= connections, "the partition broke a TCP connection"
            finally:
                link.heal()
            _wait_for_lines(watched, "exchange link up again", round_number, 15.0)
            assert _insert(watched, "10.02") == "accepted"
        assert _insert(control, "10.03") == "accepted"
        assert watched.popen.poll() is None and control.popen.poll() is None
    finally:
        codes = (watched.stop(), control.stop())
    assert codes == (0, 0), f"gateways did not stop cleanly: {codes}"


@pytest.mark.integration
@pytest.mark.slow
def test_a_one_way_partition_is_noticed_by_the_exchange(link: FaultProxy, tmp_path: Path) -> None:
    """Only the gateway's messages are lost: it still hears the exchange's heartbeats, but the
    exchange, which heartbeats at the interval the gateway declared, logs the silent member out;
    the gateway takes that as a link down and logs on again once the way is clear."""
    watched = _start_gateway(link, tmp_path, "up", HEARTBEAT_MS)
    try:
        link.black_hole(direction="upstream")
        try:
            down = _wait_for_lines(watched, "exchange link down", 1, NOTICE_S)
            assert "heartbeat timeout" in down, down
        finally:
            link.black_hole(False, direction="upstream")
        # The logon written into the black hole is lost: the attempt times out (10 s), the next one works.
        _wait_for_lines(watched, "exchange link up again", 1, 30.0)
        assert _insert(watched, "10.04") == "accepted"
    finally:
        code = watched.stop()
    assert code == 0, f"gateway did not stop cleanly: exit {code}"


@pytest.mark.integration
@pytest.mark.slow
def test_a_partition_longer_than_a_reconnect_attempt_heals(link: FaultProxy, tmp_path: Path) -> None:
    """The first reconnect attempt times out (10 s) with its logon held in the partition; at the
    heal both attempts' logons reach the exchange. The proxy releases held connections in the
    order they came, so here the stale logon nearly always arrives first and the live attempt
    supersedes it; in the other order it would supersede the live session, which the gateway
    must take as a drop (the unit test below forces that order)."""
    watched = _start_gateway(link, tmp_path, "long", HEARTBEAT_MS)
    try:
        attempts = link.stats()["accepted"]
        link.cut()
        try:
            _wait_for_lines(watched, "exchange link down", 1, NOTICE_S)
            _wait_for_lines(watched, "reconnect attempt 1 failed", 1, 30.0)
            deadline = time.monotonic() + 10.0
            while link.stats()["accepted"] < attempts + 2 and time.monotonic() < deadline:
                time.sleep(0.02)  # the second attempt's connection, held like the first
            assert link.stats()["accepted"] >= attempts + 2, "the gateway never tried a second time"
        finally:
            link.heal()
        _wait_for_lines(watched, "exchange link up again", 1, 30.0)
        outcome = ""
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and watched.popen.poll() is None:
            outcome = _insert(watched, "10.05")  # rejected while a late supersede makes it reconnect once more
            if outcome == "accepted":
                break
            assert "exchange link down" in outcome, outcome
            time.sleep(0.05)  # a bounded retry while it logs on again, not a synchronisation
        assert outcome == "accepted", f"{outcome or 'no answer'}; gateway exit code {watched.popen.poll()}"
    finally:
        code = watched.stop()
    assert code == 0, f"gateway did not stop cleanly: exit {code}; {watched.lines[-10:]}"


# ------------------------------------------------------------------ the watch, one tick at a time


class _Recorder(Venue):
    name = "rec"

    def __init__(self) -> None:
        super().__init__("h", 1, "m", "t", "c", print, print, print, heartbeat_ms=1000, missed_heartbeats=3)
        self.beats: list[bool] = []
        self.silent: list[str] = []

    def send_heartbeat(self, probe: bool) -> None:
        self.beats.append(probe)

    def link_silent(self, reason: str) -> None:
        self.silent.append(reason)


def _ticks(monkeypatch: pytest.MonkeyPatch, steps: list[tuple[float, bool]]) -> _Recorder:
    """Run the watch's ticks at the given clock readings (seconds), ``heard`` set before each."""
    clock = [0.0]
    monkeypatch.setattr("refgw.venues.time.monotonic", lambda: clock[0])
    venue = _Recorder()

    async def drive() -> None:
        venue.start_watch()
        for at, heard in steps:
            if venue._watch is None:
                break  # the watch gave up (or never started): nothing ticks any more
            venue.stop_watch()  # the tick is driven by hand, not by the loop's timer
            clock[0] = at
            venue.heard = venue.heard or heard
            venue._watch_tick()
        venue.stop_watch()

    asyncio.run(drive())
    return venue


def test_watch_heartbeats_every_interval_and_probes_a_silent_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    venue = _ticks(monkeypatch, [(0.25 * i, i <= 4) for i in range(1, 12)])
    # Heard until 1.0 s: the beat at 1.0 is plain, the one at 2.0 (silent for 1.0 s) a probe.
    assert venue.beats == [False, True], venue.beats
    assert not venue.silent


def test_watch_reports_the_link_after_the_missed_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    venue = _ticks(monkeypatch, [(0.25 * i, i == 1) for i in range(1, 20)])
    assert len(venue.silent) == 1, venue.silent
    assert "3 heartbeat intervals of 1000 ms missed" in venue.silent[0]
    assert "exchange silent for 3000 ms" in venue.silent[0]


def test_watch_forgives_silence_while_the_gateway_itself_did_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick 5 s late (the gateway was stopped or starved): the exchange's answers may be waiting
    unread, so its silence counts from the late tick, not from before the stall."""
    after_stall = [(5.25 + 0.25 * i, False) for i in range(16)]  # on time again, nothing heard
    venue = _ticks(monkeypatch, [(0.25, True), *after_stall[:12]])  # up to 8.0 s: 2.75 s of silence
    assert not venue.silent, venue.silent
    venue = _ticks(monkeypatch, [(0.25, True), *after_stall])
    assert len(venue.silent) == 1, "after the stall the watch still notices a silent exchange"
    assert "exchange silent for 3000 ms" in venue.silent[0], venue.silent


def test_watch_off_without_an_interval() -> None:
    venue = _Recorder()
    venue.heartbeat_ms = 0
    venue.start_watch()  # no running loop needed: nothing is scheduled
    assert venue._watch is None


def _load(tmp_path: Path, section: Any) -> LinkConfig:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"exchange_link": section}))
    return load_config(str(path)).link


def test_link_config_defaults_and_bounds(tmp_path: Path) -> None:
    assert load_config(None).link == LinkConfig(heartbeat_ms=5000, missed_heartbeats=3)
    assert _load(tmp_path, {"heartbeat_ms": 200}) == LinkConfig(heartbeat_ms=200, missed_heartbeats=3)
    assert _load(tmp_path, {"heartbeat_ms": 0}).heartbeat_ms == 0
    for section, named in (({"heartbeat_ms": 10}, "heartbeat_ms (10)"),
                           ({"missed_heartbeats": 1}, "missed_heartbeats (1)"),
                           ({"heartbeat_ms": "fast"}, "integers"),
                           ([], "must be an object")):
        with pytest.raises(ConfigError, match=r"auth config .*auth\.json") as error:
            _load(tmp_path, section)
        assert named in str(error.value), (section, str(error.value))


# ------------------------------------------------------------------ a logon abandoned in a partition


class _DeadTransport:
    def abort(self) -> None:
        pass


def _venue(kind: str, notices: list[VenueNotice]) -> Venue:
    return make_venue(kind, host="h", port=1, member="m", token="t", client_name="c",
                      on_order=print, on_book=print, on_notice=notices.append)


@pytest.mark.parametrize("kind", ["obx", "tlx"])
def test_a_logon_abandoned_in_a_partition_excuses_one_superseded_logout(kind: str) -> None:
    """A reconnect attempt given up with its logon unanswered may deliver that logon late, after a
    later attempt logged on: the exchange then logs the live session out SUPERSEDED. Once per
    abandoned logon that is a drop to reconnect from, not the member taken over (final)."""
    notices: list[VenueNotice] = []
    venue = _venue(kind, notices)

    def superseded() -> VenueNotice:
        if isinstance(venue, ObxVenue):
            venue._lost = False
            logout = obx_pb.Logout(code=SUPERSEDED, reason="member 'm' logged on again")
            venue._on_frame(obx_pb.LOGOUT, logout.SerializeToString())
        else:
            assert isinstance(venue, TlxVenue)
            venue._starting = False
            venue._dispatch([(35, "5"), (58, "member 'm' logged on again"), (4000, str(SUPERSEDED))])
        return notices[-1]

    async def abandon_a_logon() -> None:
        if isinstance(venue, ObxVenue):
            venue._transport = _DeadTransport()  # type: ignore[assignment]
        venue.logon_pending = True  # sent, never answered
        await venue.drop()

    asyncio.run(abandon_a_logon())
    assert venue.abandoned_logons == 1
    excused = superseded()
    assert (excused.kind, excused.code) == ("closed", 0), excused
    assert "gave up in a partition" in excused.text, excused.text
    final = superseded()
    assert (final.kind, final.code) == ("closed", SUPERSEDED), "only one SUPERSEDED per abandoned logon is excused"


@pytest.mark.integration
def test_a_late_fresh_logon_then_a_refused_resume_loses_no_fill() -> None:
    """The TLX sequence of a partition: a fill goes into the session while the gateway hears
    nothing; a fresh logon the gateway gave up arrives late and resets the session (the fill is
    gone for a resend); the gateway's resume is refused (789 above the reset session's seq) and it
    logs on afresh, asking for the member events after its cursor again (4021): the fill arrives
    once, flagged a possible resend (the core skips it if it already journaled it). An exchange
    of its own: a resting order of another test would take the fill."""
    exchange = start_exchange(venue="tlx", name="exchange-late-logon")
    host, port = exchange.addrs["tlx"]
    member = "LATE"
    events: list[VenueOrderEvent] = []

    async def scenario() -> None:
        arrived = asyncio.Event()

        def on_order(event: VenueOrderEvent) -> None:
            events.append(event)
            arrived.set()

        async def first(kind: str) -> VenueOrderEvent:
            async def wait() -> VenueOrderEvent:
                while not (found := [e for e in events if e.kind == kind]):
                    arrived.clear()
                    await arrived.wait()
                return found[0]

            try:
                return await asyncio.wait_for(wait(), 10.0)
            except TimeoutError:
                raise AssertionError(f"no {kind!r} event within 10 s; got {events}") from None

        venue = TlxVenue(host=host, port=port, member=member, token="t", client_name="late",
                         on_order=on_order, on_book=lambda _: None, on_notice=lambda _: None)
        await venue.start()
        price = str(venue.instruments["ABC"].ticks_to_decimal(1000))
        venue.new_order("o1", "ABC", "BUY", "LIMIT", "GTC", 5, 1000)
        accepted = await first("accepted")
        assert venue._writer is not None
        transport = venue._writer.transport
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # the partition: the gateway hears nothing more

        def fill_then_late_logon() -> TlxClient:
            with TlxClient(host, port, f"{member}X") as seller:
                seller.logon(reset=True)
                seller.send("D", [(11, "s1"), (55, "ABC"), (54, "2"), (38, "2"), (40, "2"), (44, price), (59, "3")])
                seller.expect("8", lambda m: m.get(150) == "F")
            late = TlxClient(host, port, member)  # the abandoned fresh logon, delivered at the heal
            late.logon(reset=True)
            return late

        late = await asyncio.to_thread(fill_then_late_logon)
        try:
            await venue.reconnect(accepted.member_seq + 1, accepted.venue_seq)
            fill = await first("fill")
        finally:
            late.close()
            await venue.close()
        assert (fill.member_seq, fill.last_qty, fill.leaves_qty, fill.poss_dup) == (accepted.member_seq + 1, 2, 3, True)
        assert [e.kind for e in events] == ["accepted", "fill"], events

    try:
        asyncio.run(scenario())
    finally:
        exchange.stop()
