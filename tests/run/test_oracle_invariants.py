"""The trading invariants of the oracle, on literal events and audit records (no processes)."""

from __future__ import annotations

from typing import Any

from compat.run.oracle.invariants import (
    INVARIANTS,
    ExchangeRecords,
    Findings,
    Instrument,
    SessionLog,
    check_against_exchange,
    check_session,
)

SYMBOL = "ABC007"
TICK = Instrument(SYMBOL, 1, 2)  # 0.01
MEMBER = "REFGW"


def event(kind: str, seq: int = 0, coid: str = "c1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": kind, "client_order_id": coid, "order_id": 7, "symbol": SYMBOL, "seq": seq,
                            "poss_dup": False, "order_qty": 10, "qty": 10, "price": "10.00", "leaves_qty": 10,
                            "cum_qty": 0, "trade_id": ""}
    return {**base, **fields}


def fill(seq: int, qty: int, cum: int, trade: str, **fields: Any) -> dict[str, Any]:
    return event("fill", seq, **{"qty": qty, "cum_qty": cum, "leaves_qty": 10 - cum, "trade_id": trade, **fields})


def accepted_record(order_id: int = 70, qty: int = 10, ticks: int = 1000, member: str = MEMBER) -> dict[str, Any]:
    return {"kind": "accepted", "member": member, "symbol": SYMBOL, "order_id": order_id, "qty": qty,
            "price_ticks": ticks, "side": 2, "exch_seq": order_id}


def fill_record(trade: int, qty: int, ticks: int = 1000, member: str = MEMBER) -> dict[str, Any]:
    return {"kind": "fill", "member": member, "symbol": SYMBOL, "order_id": 70, "trade_id": trade, "qty": qty,
            "price_ticks": ticks, "side": 2, "exch_seq": 100 + trade}


def session_findings(*events: dict[str, Any], resume_gaps: int = 0) -> Findings:
    found = Findings()
    check_session(SessionLog("t1-maker", events, resume_gaps), found)
    return found


def exchange_findings(events: list[dict[str, Any]], records: list[dict[str, Any]]) -> Findings:
    found = Findings()
    exchange = ExchangeRecords(frozenset({SYMBOL}), records, frozenset({MEMBER}), {SYMBOL: TICK})
    check_against_exchange([SessionLog("t1-maker", events)], exchange, found)
    return found


def names(found: Findings) -> list[str]:
    return [v.invariant for v in found.violations]


CLEAN = [event("accepted", 1), fill(2, 4, 4, "11"), fill(3, 6, 10, "12")]
CLEAN_AUDIT = [accepted_record(), fill_record(11, 4), fill_record(12, 6)]


def test_a_clean_order_violates_nothing() -> None:
    assert names(session_findings(*CLEAN)) == []
    assert names(exchange_findings(CLEAN, CLEAN_AUDIT)) == []


def test_a_wrong_cum_qty_names_the_order_and_both_values() -> None:
    found = session_findings(event("accepted", 1), fill(2, 4, 4, "11"), fill(3, 6, 6, "12", leaves_qty=0))
    [cum, leaves] = found.violations
    assert (cum.invariant, cum.session, cum.index) == ("cum_qty", "t1-maker", 2)
    assert "order c1" in cum.subject and "cum_qty 6" in cum.client and "sum to 10" in cum.truth
    assert leaves.invariant == "leaves_qty" and "leaves_qty 0" in leaves.client  # 10 - 6 is 4


def test_a_replayed_fill_is_not_counted_twice_in_cum_qty() -> None:
    replay = fill(3, 4, 4, "11", poss_dup=True)
    found = session_findings(event("accepted", 1), fill(2, 4, 4, "11"), replay)
    assert "cum_qty" not in names(found)


def test_sequence_gap_repeat_and_a_new_session() -> None:
    assert names(session_findings(event("accepted", 1), fill(3, 4, 4, "11"))) == ["sequence"]
    [repeat] = session_findings(event("accepted", 1), event("accepted", 1, poss_dup=True)).violations
    assert repeat.invariant == "sequence" and "poss_dup" in repeat.client and repeat.index == 1
    assert names(session_findings(event("accepted", 2))) == ["sequence"]  # the first report is seq 1
    restarted = session_findings(event("accepted", 1), {"kind": "session_new"}, event("accepted", 1, coid="c2"))
    assert names(restarted) == []


def test_sessions_without_sequence_numbers_or_fields_skip_not_fail() -> None:
    v1 = session_findings(event("accepted", 0), fill(0, 4, 4, "11"))
    assert names(v1) == [] and "protocol v1" in v1.skipped["sequence"]
    old = {k: v for k, v in fill(2, 4, 4, "11").items() if k != "cum_qty"}
    found = session_findings(event("accepted", 1), old)
    assert names(found) == [] and "cum_qty" in found.skipped and "leaves_qty" in found.skipped


def test_a_declared_resume_gap_is_not_a_sequence_violation() -> None:
    found = session_findings(event("accepted", 1), fill(5, 4, 4, "11"), resume_gaps=1)
    assert names(found) == [] and "RESUME_GAP" in found.skipped["sequence"]


def test_fills_reach_the_application_exactly_once() -> None:
    missing = exchange_findings(CLEAN[:2], CLEAN_AUDIT)
    assert names(missing) == ["fill_once"] and "trade 12" in missing.violations[0].subject
    assert missing.violations[0].index is None  # the end state: no event to point at
    twice = exchange_findings([*CLEAN, fill(4, 6, 10, "12")], CLEAN_AUDIT)
    assert names(twice) == ["fill_once"] and twice.violations[0].index == 3
    # Replayed with poss_dup after the original: not a new fill. Delivered only as a replay: delivered.
    assert names(exchange_findings([*CLEAN, fill(4, 6, 10, "12", poss_dup=True)], CLEAN_AUDIT)) == []
    only_replayed = [*CLEAN[:2], fill(3, 6, 10, "12", poss_dup=True)]
    assert names(exchange_findings(only_replayed, CLEAN_AUDIT)) == []
    phantom = exchange_findings([*CLEAN, fill(4, 1, 11, "99")], CLEAN_AUDIT)
    assert "fill_once" in names(phantom) and "no such fill" in phantom.violations[0].truth


def test_fill_and_order_values_equal_the_audit() -> None:
    wrong_price = [event("accepted", 1), fill(2, 4, 4, "11", price="10.01"), fill(3, 6, 10, "12")]
    [bad] = exchange_findings(wrong_price, CLEAN_AUDIT).violations
    assert bad.invariant == "audit_values" and "'10.01'" in bad.client and "10.00" in bad.truth
    no_price = exchange_findings([event("accepted", 1), fill(2, 4, 4, "11", price=""), fill(3, 6, 10, "12")],
                                 CLEAN_AUDIT)
    assert names(no_price) == ["audit_values"]
    # An order told at one price and resting at another (a tenth): one finding, both prices.
    [told] = exchange_findings([event("accepted", 1)], [accepted_record(ticks=100)]).violations
    assert told.invariant == "audit_values" and "10.00" in told.client and "1.00" in told.truth


def test_acknowledged_orders_and_accepted_orders_match() -> None:
    unknown = exchange_findings([event("accepted", 1)], [])
    assert names(unknown) == ["order_known"]
    never_told = exchange_findings([], [accepted_record()])
    assert names(never_told) == ["order_acknowledged"] and "10 at 10.00" in never_told.violations[0].truth
    # A replayed ack of the same order is one acknowledgement, not a second order.
    assert names(exchange_findings([event("accepted", 1), event("accepted", 2, poss_dup=True)],
                                   [accepted_record()])) == []


def test_other_members_and_other_symbols_are_not_the_scenarios() -> None:
    outside = [accepted_record(member="OUT5"), fill_record(11, 4, member="OUT5")]
    assert names(exchange_findings([], outside)) == []
    elsewhere = {**accepted_record(), "symbol": "ABC008"}
    assert names(exchange_findings([], [elsewhere])) == []


def test_every_invariant_is_described() -> None:
    assert set(INVARIANTS) == {"cum_qty", "leaves_qty", "sequence", "fill_once", "audit_values", "order_known",
                               "order_acknowledged"}
    assert all(text for text in INVARIANTS.values())
