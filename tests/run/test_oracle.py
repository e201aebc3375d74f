"""The oracle's plumbing: the audit log read incrementally, the gateway's member, waivers, the
failure it raises and the line it logs (no processes; the invariants: test_oracle_invariants.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compat.errors import AuditLogError, InvariantViolation
from compat.run.oracle import OracleResult, Violation, Waiver, verify
from compat.run.oracle.exchange_view import AuditTail, gateway_member
from compat.run.oracle.model import split_waived

HEADER = {"kind": "header", "format": 1, "seed": 1,
          "instruments": [{"symbol": "ABC001", "tick_size_units": 5, "price_scale": 3}]}


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode() + b"\n"


def test_the_audit_tail_reads_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "exchange-audit.log"
    path.write_bytes(line(HEADER) + line({"kind": "accepted", "symbol": "ABC001", "qty": 1}))
    tail = AuditTail(path)
    tail.refresh()
    assert str(tail.instruments["ABC001"].price(3)) == "0.015"
    assert len(tail.records(frozenset({"ABC001"}))) == 1
    with path.open("ab") as handle:  # a record flushed in two writes: the half waits
        handle.write(b'{"kind": "fill", "symbol": "ABC001", "qty"')
    tail.refresh()
    assert len(tail.records(frozenset({"ABC001"}))) == 1
    with path.open("ab") as handle:
        handle.write(b": 1}\n" + line({"kind": "accepted", "symbol": "ABC002", "qty": 2}))
    tail.refresh()
    assert [r["kind"] for r in tail.records(frozenset({"ABC001"}))] == ["accepted", "fill"]
    assert [r["qty"] for r in tail.records(frozenset({"ABC002"}))] == [2]


def test_the_audit_tail_starts_over_on_a_new_log(tmp_path: Path) -> None:
    path = tmp_path / "exchange-audit.log"
    path.write_bytes(line(HEADER) + line({"kind": "accepted", "symbol": "ABC001", "qty": 1}))
    tail = AuditTail(path)
    tail.refresh()
    path.rename(tmp_path / "exchange-audit.log.epoch1")  # what a stack restart does
    path.write_bytes(line(HEADER))
    tail.refresh()
    assert tail.records(frozenset({"ABC001"})) == []


def test_a_bad_audit_line_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "exchange-audit.log"
    path.write_bytes(line(HEADER) + b"not json\n")
    with pytest.raises(AuditLogError, match=r"exchange-audit\.log"):
        AuditTail(path).refresh()


def test_the_gateways_member_is_the_first_logon(tmp_path: Path) -> None:
    log = tmp_path / "exchange-obx.log"
    log.write_text("2026-12-07 14:54:46,130 INFO compat.exchange.obx: obx 127.0.0.1:35254: member REFGW logged on "
                   "(refgw 3.0.0), replayed 0\n"
                   "2026-12-07 14:54:50,000 INFO compat.exchange.obx: obx 127.0.0.1:35300: member OUT4 logged on\n")
    assert gateway_member(log) == "REFGW"
    assert gateway_member(tmp_path / "missing.log") is None


def test_a_waiver_covers_its_window_only() -> None:
    counts = iter([{"s": 2}, {"s": 5}])
    waiver = Waiver("sequence", "the gateway is killed mid-flow", lambda: next(counts))
    inside, before, after = (Violation("sequence", "x", 1, 2, "s", i) for i in (3, 1, 5))
    end_state = Violation("sequence", "x", 1, 2)
    assert waiver.covers(inside) and waiver.covers(after) and waiver.covers(end_state)  # open
    with waiver:
        pass
    assert waiver.covers(inside) and not waiver.covers(before) and not waiver.covers(after)
    assert not waiver.covers(end_state)  # recovered: the end state is judged
    assert not waiver.covers(Violation("cum_qty", "x", 1, 2, "s", 3))
    assert split_waived([inside, after], [waiver]) == ([after], [inside])
    with pytest.raises(ValueError, match="needs a reason"):
        Waiver("sequence", " ", dict)


@dataclass
class FakeOracle:
    found: list[Violation]
    name: str = "fake"
    invariants: dict[str, str] = field(default_factory=lambda: {"made_up": "never"})

    def check(self, scenario: Any) -> OracleResult:
        kept, waived = split_waived(self.found, scenario.waivers)
        return OracleResult(self.name, violations=kept, waived=waived, checked=["made_up"], seconds=0.01)


@dataclass
class FakeScenario:
    waivers: Sequence[Waiver] = ()
    sessions: Sequence[Any] = ()
    symbols_taken: Sequence[str] = ()
    stack: Any = None


def test_verify_raises_naming_each_violation_and_logs_a_line(tmp_path: Path) -> None:
    log = tmp_path / "oracle.jsonl"
    found = [Violation("cum_qty", "order a1 (ABC001) of session t1-maker", "cum_qty 6", "the fills sum to 10")]
    with pytest.raises(InvariantViolation) as raised:
        verify(FakeOracle(found), FakeScenario(), log, "test_x[cell]")
    assert raised.value.invariants == ("cum_qty",)
    assert str(raised.value).splitlines() == [
        "invariant oracle (fake): 1 violation(s) of cum_qty after the scenario passed",
        "  cum_qty: order a1 (ABC001) of session t1-maker: the client was told cum_qty 6; the fills sum to 10",
    ]
    verify(FakeOracle([]), FakeScenario(), log, "test_y[cell]")
    lines = [json.loads(text) for text in log.read_text().splitlines()]
    assert [(entry["scenario"], len(entry["violations"])) for entry in lines] == [("test_x[cell]", 1),
                                                                                  ("test_y[cell]", 0)]


def test_audit_tails_of_cells_done_with_are_dropped(tmp_path: Path) -> None:
    from compat.run.oracle import exchange_view

    paths = [tmp_path / f"cell{i}" / "exchange-audit.log" for i in range(4)]
    for path in paths:
        path.parent.mkdir()
        path.write_bytes(line(HEADER))
    first = exchange_view.audit_tail(paths[0])
    assert exchange_view.audit_tail(paths[0]) is first  # reused while its cell runs
    for path in paths[1:]:
        exchange_view.audit_tail(path)
    assert paths[0] not in exchange_view._TAILS and len(exchange_view._TAILS) <= exchange_view._TAILS_KEPT
