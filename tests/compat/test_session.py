"""Session scenarios: logon and negotiation, auth, logout, reconnect with resend, heartbeat timeout."""

from __future__ import annotations

import pytest

from compat import DriverCallError, OperationUnsupported, Scenario, timing

pytestmark = pytest.mark.compat

# Short, so the scenario costs about two seconds: the gateway logs a session out once it has
# heard nothing for more than 2x the interval (checked every interval), i.e. within ~3x. Not
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
    # Delivered to the application exactly once: no second fill may follow the replay.
    with pytest.raises(DriverCallError) as more:
        maker.next_event(["fill"], order["client_order_id"], timeout_s=0.5)
    assert more.value.type == "Timeout", more.value.error


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
    # them twice, whatever flag they carry.
    while True:
        try:
            after.append(maker.next_event(client_order_id=coid, timeout_s=0.5))
        except DriverCallError as error:
            assert error.type == "Timeout", error.error
            break
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
    # The live session logged on first, so without heartbeats it would have been logged out
    # no later than the silent one; one more interval covers the gateway's check period.
    with pytest.raises(DriverCallError) as still_on:
        live.next_event(["session_lost"], timeout_s=HEARTBEAT_MS / 1000)
    assert still_on.value.type == "Timeout", f"a session sending heartbeats was logged out: {still_on.value.error}"
    assert live.place(symbol, "BUY", 1, "10.00")["kind"] == "accepted", "the live session is unusable"
