"""Session scenarios: logon and negotiation, auth, logout, reconnect with resend, heartbeat timeout."""

from __future__ import annotations

from typing import Any

import pytest

from compat import DriverCallError, OperationUnsupported, Scenario, Session, timing

pytestmark = pytest.mark.compat

# Short, so the scenario costs about 1.5 seconds: the gateway logs a session out once it has
# heard nothing for more than 2x the interval (checked every interval), i.e. within 3x. Not
# shorter: the control session must never be silent for 2x the interval, and on a loaded
# 2-core CI machine a client process can be descheduled for a few hundred milliseconds.
HEARTBEAT_MS = 500

KNOWN_CAPABILITIES = {
    "tif.ioc", "tif.fok", "price.ticks", "session.resume", "md.incremental", "order.amend",
    "order.masscancel", "auth.token", "ext.passthrough", "qty.int64", "instrument.status",
    "amend.keeps_priority_on_qty_down", "md.snapshot",
    # refgw's documented vocabulary (docs/reference-system.md §6):
    "tif.day", "order.client_order_id", "session.heartbeat", "reject.throttled", "md.instrument_status",
    "md.trades", "exec.liquidity",  # the 3.1 candidate
}


def _delivered_since_settled(session: Session, client_order_id: str) -> list[dict[str, Any]]:
    """The events for the order that ``session``'s application has been delivered and not yet
    read, taken after a round trip on its own connection: so "nothing more" needs no quiet period.

    The gateway answers an instruments request as it reads it, after everything it wrote to
    that connection before, and a client reads its connection in order, queueing each report
    for the application before it completes the request the answer belongs to. Every gateway
    release writes a resume's replay inside the logon, before it reads the next request, and
    every client release reads its connection in one loop: once the round trip is back,
    whatever the gateway sent this session until then is in the queue drained here.
    """
    session.call("instruments")
    return [e for e in session.drain_events()["events"] if e.get("client_order_id") == client_order_id]


def test_logon(compat: Scenario) -> None:
    s = compat.session()
    info = s.connect_info
    assert info["negotiated_version"] >= 1, info
    if info.get("gateway_version"):
        assert info["gateway_version"] == compat.gateway_version, info
    unknown = set(info.get("capabilities") or ()) - KNOWN_CAPABILITIES
    assert not unknown, f"gateway announced capabilities nobody documented: {sorted(unknown)}"


def test_version_disjoint(compat: Scenario) -> None:
    s = compat.session(connect=False)
    error = s.expect_error("connect", **compat.stack.connect_args(s.username, protocol_min=90, protocol_max=99))
    assert error.type == "ProtocolVersionError", error.error
    assert "supported" in str(error.error.get("message", "")).lower() or error.error.get("supported"), error.error


def test_bad_auth_token(compat: Scenario) -> None:
    compat.session("good")  # control: the right token logs on, so a refusal below is about the token
    s = compat.session("bad", connect=False)
    try:
        info = s.call("connect", **compat.stack.connect_args(s.username, password="not-the-token"))
    except DriverCallError as error:
        assert error.type in ("AuthenticationError", "LogonRejected"), error.error
        assert error.error.get("message"), "a rejected logon must say why"
        return
    # Accepted: only a v1 logon, which carries no token on the wire, may do that.
    if int(info.get("negotiated_version") or 1) >= 2:
        raise AssertionError(f"a protocol v2+ gateway accepted a bad token: {info}")
    raise OperationUnsupported("connect", "auth.token", "a protocol v1 logon carries no auth token")


def test_logout(compat: Scenario) -> None:
    s = compat.session()
    s.logout()
    error = s.expect_error("insert", symbol=compat.symbol(), side="BUY", qty=1, price="10.00",
                           tif="GTC", order_type="LIMIT")
    assert error.type in ("SessionLost", "NotConnected"), error.error


def test_reconnect_resend(compat: Scenario) -> None:
    symbol = compat.symbol()
    maker = compat.session("maker")
    compat.require(maker, "session.resume")
    taker = compat.session("taker")
    order = maker.insert(symbol=symbol, side="SELL", qty=5, price="10.00", tif="GTC", order_type="LIMIT")
    assert maker.next_event(["accepted"], order["client_order_id"])["kind"] == "accepted"
    maker.disconnect()
    taker.insert(symbol=symbol, side="BUY", qty=5, price="10.00", tif="GTC", order_type="LIMIT")
    assert taker.next_event(["fill"])["qty"] == 5
    resumed = maker.reconnect()
    assert resumed["resumed"] is True, resumed
    fill = maker.next_event(["fill"], order["client_order_id"])
    assert (fill["qty"], fill["price"]) == (5, "10.00"), fill
    # Delivered to the application exactly once: no second fill may follow the replay (the
    # replay is written inside the resume's logon, so it is all here after one round trip).
    again = [e for e in _delivered_since_settled(maker, order["client_order_id"]) if e["kind"] == "fill"]
    assert not again, f"the fill was delivered again after the replay: {again}"


def test_resume_after_delivered_fill(compat: Scenario) -> None:
    """A resume replays only what the application has not had: a fill it already got before the
    connection dropped is never delivered again (poss_dup or not), the fill made while it was
    away arrives once, and cum_qty/leaves_qty add up. Counted over everything it is delivered."""
    symbol = compat.symbol()
    maker = compat.session("maker")
    compat.require(maker, "session.resume")
    taker = compat.session("taker")
    order = maker.insert(symbol=symbol, side="SELL", qty=10, price="10.00", tif="GTC", order_type="LIMIT")
    coid = order["client_order_id"]
    assert maker.next_event(["accepted"], coid)["kind"] == "accepted"
    taker.insert(symbol=symbol, side="BUY", qty=4, price="10.00", tif="GTC", order_type="LIMIT")
    first = maker.next_event(["fill"], coid)
    assert (first["qty"], first.get("cum_qty"), first.get("leaves_qty")) == (4, 4, 6), first
    maker.disconnect()
    second_buy = taker.insert(symbol=symbol, side="BUY", qty=6, price="10.00", tif="GTC", order_type="LIMIT")
    # The second fill happened (while the maker was away) once the taker has its side of it.
    assert taker.next_event(["fill"], second_buy["client_order_id"])["qty"] == 6
    assert maker.reconnect()["resumed"] is True
    after = [maker.next_event(["fill"], coid)]  # the fill made while it was away
    # Then everything else the application gets for this order: nothing. The accepted report
    # and the first fill were delivered before the drop; a resume that replays them delivers
    # them twice, whatever flag they carry (the replay is written inside the resume's logon,
    # so it is all here after one round trip).
    after += _delivered_since_settled(maker, coid)
    told = [(e["kind"], e["qty"], e.get("cum_qty"), e.get("leaves_qty")) for e in after]
    assert told == [("fill", 6, 10, 0)], (
        f"after the resume the application got {told} for its order; it already had the accepted report "
        "and the fill of 4, so only the fill of 6 (cum_qty 10, leaves_qty 0) is new")


def test_heartbeat_timeout(compat: Scenario) -> None:
    """S28: a session that negotiated heartbeats and then went silent is logged out with a
    reason, and the client reports the session as lost; a session that keeps sending
    heartbeats through the same stretch of time stays logged on (the control)."""
    symbol = compat.symbol()
    live = compat.session("live", heartbeat_ms=HEARTBEAT_MS)
    live_on_at = timing.monotonic()  # the gateway has read everything live sent but heartbeats
    compat.require(live, "session.heartbeat")
    silent = compat.session("silent", heartbeat_ms=HEARTBEAT_MS)
    silent.mute_heartbeats()
    muted_at = timing.monotonic()
    lost = silent.next_event(["session_lost"], timeout_s=10 * HEARTBEAT_MS / 1000)
    compat.record("logout_after_s", round(timing.monotonic() - muted_at, 3))
    assert "heartbeat" in str(lost.get("reason") or "").lower(), f"the logout must say why: {lost}"
    error = silent.expect_error("insert", symbol=symbol, side="BUY", qty=1, price="10.00", tif="GTC",
                                order_type="LIMIT")
    assert error.type in ("SessionLost", "NotConnected"), error.error
    # Without its heartbeats the live session would have been logged out at the first check
    # (one every interval) after 2x the interval of silence: within 3x of the last thing it
    # sent but heartbeats, before live_on_at. Wait out what is left of that (usually nothing:
    # it logged on before the silent one), then show it is still logged on, before and after a
    # round trip that a logout would precede.
    left_s = max(0.0, live_on_at + 3 * HEARTBEAT_MS / 1000 - timing.monotonic())
    with pytest.raises(DriverCallError) as still_on:
        live.next_event(["session_lost"], timeout_s=left_s)
    assert still_on.value.type == "Timeout", f"a session sending heartbeats was logged out: {still_on.value.error}"
    assert live.place(symbol, "BUY", 1, "10.00")["kind"] == "accepted", "the live session is unusable"
    with pytest.raises(DriverCallError) as still_on:
        live.next_event(["session_lost"], timeout_s=0)
    assert still_on.value.type == "Timeout", f"a session sending heartbeats was logged out: {still_on.value.error}"
