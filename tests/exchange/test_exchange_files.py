"""The instruments file and the audit log reader."""

from __future__ import annotations

import io
import json
import time
import typing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compat import timing
from compat.errors import AuditLogError, InstrumentsFileError
from compat.exchange import codes, server
from compat.exchange.audit import AuditWriter, ClaimedFill, compare_claimed_fills, read_audit, reconcile
from compat.exchange.client import ObxClient
from compat.exchange.engine import Engine
from compat.exchange.events import (
    BUY,
    GTC,
    IOC,
    LIMIT,
    SELL,
    CancelRejected,
    InstrumentCreated,
    OrderAccepted,
    OrderCancelled,
    OrderFill,
    OrderRejected,
    OrderReplaced,
    ReplaceRejected,
    StatusChange,
    TradePrint,
)
from compat.exchange.inprocess import InProcessExchange
from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE, OPEN, config_from_mapping, load_config
from compat.exchange.proto import obx_pb2 as obx_pb


def test_default_instruments_file() -> None:
    config = load_config(DEFAULT_INSTRUMENTS_FILE)
    specs = {s.symbol: s for s in config.instruments}
    assert {k: (str(v.tick_size), v.price_scale, v.tick_size_units) for k, v in specs.items()} == {
        "ABC": ("0.01", 2, 1),
        "XYZ": ("0.005", 3, 5),
        "FLT": ("0.1", 1, 1),
    }
    assert config.members is None and all(s.initial_status == OPEN for s in specs.values())
    assert specs["FLT"].parse_price("0.3") == 3 and specs["XYZ"].parse_price("2.675") == 535


def test_json_file_and_members(tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    path.write_text(
        json.dumps(
            {
                "instruments": [{"symbol": "Q", "tick_size": "0.25", "lot_size": 10}],
                "members": [{"member_id": "A", "token": "t", "admin": True}],
            }
        )
    )
    config = load_config(path)
    assert config.instruments[0].tick_size_units == 25 and config.instruments[0].price_scale == 2
    assert config.members is not None and config.members[0].admin


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"symbol": "A"}, "missing required field 'tick_size'"),
        ({"symbol": "A", "tick_size": 0.1}, "must be a string"),
        ({"symbol": "A", "tick_size": "-1"}, "positive decimal"),
        ({"symbol": "A", "tick_size": "0.005", "price_scale": 2}, "cannot express"),
        ({"symbol": "A", "tick_size": "0.01", "status": "LIVE"}, "status must be one of"),
        ({"symbol": "A", "tick_size": "0.01", "tick": 1}, "unknown field"),
        ({"symbol": "bad symbol", "tick_size": "0.01"}, "symbol must match"),
    ],
)
def test_bad_instrument_entries_name_the_entry_and_field(entry: dict[str, object], message: str) -> None:
    with pytest.raises(InstrumentsFileError, match=message) as info:
        config_from_mapping({"instruments": [entry]}, "f.yaml")
    assert "f.yaml: instruments[0]" in str(info.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(InstrumentsFileError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("instruments: [")
    with pytest.raises(InstrumentsFileError, match="not valid YAML"):
        load_config(bad)


def write_journal(path: Path) -> Engine:
    ticks = iter(range(100, 10_000))
    engine = Engine(load_config(DEFAULT_INSTRUMENTS_FILE).instruments, clock=lambda: next(ticks))
    with path.open("wb") as sink:
        writer = AuditWriter(sink)
        writer.write_header(0, [book.spec for book in engine.books.values()])
        engine.new_order("GW1", 1, "b1", "ABC", BUY, LIMIT, GTC, 10, 100)
        engine.new_order("GW2", 1, "s1", "ABC", SELL, LIMIT, IOC, 4, 100)
        engine.new_order("GW2", 2, "s2", "ABC", SELL, LIMIT, IOC, 1, 99)
        engine.cancel("GW1", 2, client_order_id="b1")
        engine.new_order("GW1", 3, "bad", "NOPE", BUY, LIMIT, GTC, 1, 1)
        writer.write_events(engine.take_events())
        writer.flush()
    return engine


def test_read_and_reconcile(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_journal(path)
    records = read_audit(path)
    assert records[0].kind == "header"
    kinds = [r.kind for r in records[1:]]
    assert kinds.count("fill") == 4 and kinds.count("trade") == 2 and "rejected" in kinds
    seqs = [r.exch_seq for r in records[1:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    ledgers = reconcile(records)
    (order,) = ledgers["GW1"].values()
    assert (order.client_order_ids, order.cum_qty, order.cancelled_reason) == (["b1"], 5, 1)
    claimed = [ClaimedFill("b1", f.trade_id, f.qty, f.price_ticks) for f in order.fills]
    assert compare_claimed_fills(ledgers, "GW1", claimed) == []
    wrong = [ClaimedFill("b1", claimed[0].trade_id, 4, 101), ClaimedFill("b1", 999, 1, 100)]
    problems = compare_claimed_fills(ledgers, "GW1", wrong)
    assert len(problems) == 3  # wrong price, unknown trade, one real fill never claimed
    assert any("audit log says 4@100" in p for p in problems)


def test_torn_tail_is_ignored_but_corruption_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_journal(path)
    whole = read_audit(path)
    with path.open("ab") as sink:
        sink.write(b'{"kind":"fill","exch')
    assert len(read_audit(path)) == len(whole)
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"not json"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(AuditLogError, match=r"audit.jsonl:3"):
        read_audit(path)


def test_rejected_orders_carry_codes_into_the_audit(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_journal(path)
    (rejected,) = [r for r in read_audit(path) if r.kind == "rejected"]
    assert (rejected.member, rejected["code"], rejected["client_order_id"]) == ("GW1", codes.UNKNOWN_INSTRUMENT, "bad")


AUDITED = [
    OrderAccepted,
    OrderRejected,
    OrderFill,
    OrderCancelled,
    OrderReplaced,
    ReplaceRejected,
    CancelRejected,
    TradePrint,
    StatusChange,
    InstrumentCreated,
]


@pytest.mark.parametrize("cls", AUDITED)
@given(data=st.data())
def test_fast_audit_lines_equal_json_dumps_of_the_record(cls: type, data: st.DataObject) -> None:
    hints = typing.get_type_hints(cls)
    values = []
    for name in cls._fields:  # type: ignore[attr-defined]
        kind = hints[name]
        strategy = st.text() if kind is str else st.booleans() if kind is bool else st.integers(-(2**63), 2**63)
        values.append(data.draw(strategy, label=name))
    event = cls(*values)
    sink = io.BytesIO()
    writer = AuditWriter(sink)
    writer.write_events([event])
    writer.flush()
    expected = json.dumps(event.record(), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert sink.getvalue().decode() == expected
    assert json.loads(sink.getvalue()) == event.record()


def test_the_writer_asks_for_one_flush_per_batch_of_writes() -> None:
    """``on_pending`` fires when events are written and none were waiting (the server arms its
    flush timer there), not once per write; a flush that comes after close() is a no-op."""
    sink = io.BytesIO()
    writer = AuditWriter(sink)
    asked: list[int] = []
    writer.on_pending = lambda: asked.append(len(asked))
    status = StatusChange(1, 0, "ABC", OPEN)
    writer.write_events([status])
    writer.write_events([status])
    assert asked == [0]
    writer.flush()
    writer.write_events([status])
    assert asked == [0, 1]
    writer.close()
    writer.flush()  # a timer armed before close() fires after it
    assert sink.closed


def test_an_audit_record_reaches_the_file_without_waiting_for_housekeeping(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange flushes its audit log right after writing (AUDIT_FLUSH_S), so a scenario or
    the oracle waiting for a record does not wait for the periodic housekeeping (here an hour)."""
    monkeypatch.setattr(server, "HOUSEKEEPING_INTERVAL_S", 3600.0)
    path = tmp_path / "audit.jsonl"
    with InProcessExchange(venue="obx", audit_log=path) as exchange, ObxClient(*exchange.addresses["obx"]) as client:
        assert client.logon("M1").result_code == 0
        client.new_order("c1", "ABC", obx_pb.BUY, 1, 1000)
        client.expect(obx_pb.OrderAccepted)
        deadline = timing.Deadline(5.0)  # far below the hour; the flush is due 5 ms after the write
        while not any(r.kind == "accepted" for r in read_audit(path)) and not deadline.expired():
            time.sleep(0.01)
        assert [r["client_order_id"] for r in read_audit(path) if r.kind == "accepted"] == ["c1"]
