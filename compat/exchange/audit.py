"""The exchange's append-only audit journal, its reader, and fill reconciliation.

Format: UTF-8 JSON lines, keys sorted, no spaces. Line 1 is a header
``{"kind":"header","format":1,"seed":...,"instruments":[...]}``; every further line is one
engine event that a member or the tape could observe: accepted, rejected, fill, cancelled,
replaced, replace_rejected, cancel_rejected, trade, instrument_status, instrument_created.
Each carries ``exch_seq`` (strictly increasing), ``time_ns`` and, for member events,
``member`` and ``member_seq``. Prices are integer ticks. The bytes depend only on the
commands, the clock and the seed, so a replay gives an identical file.

Host-side use (tests, scenarios)::

    records = read_audit(path)
    book = reconcile(records)                # {member: {order_id: OrderLedger}}
    problems = compare_claimed_fills(book, "GW1", claimed)   # [] when the client told the truth
"""

from __future__ import annotations

import json
import json.encoder
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from compat.errors import (
    AuditLogError,
    )
from compat.exchange.events import Event
from compat.exchange.instruments import InstrumentSpec

FORMAT_VERSION = 1


def _dumps(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _compile_line_writer(cls: type) -> Callable[[Any], str]:
    """A function turning one event (a NamedTuple) into exactly the JSON line ``_dumps``
    would write for ``event.record()``, without building a dict: json.dumps on a fresh dict
    per event cost ~3/4 of the exchange's time with the audit log on (engine_bench
    --with-audit). Keys are sorted; strings go through json's own C escaper."""
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, str]] = []
    for index, name in enumerate(cls._fields):  # type: ignore[attr-defined]
        kind = hints[name]
        if kind is str:
            fields.append((name, f"{{_s(e[{index}])}}"))
        elif kind is bool:
            fields.append((name, f'{{"true" if e[{index}] else "false"}}'))
        elif kind is int:
            fields.append((name, f"{{e[{index}]}}"))
        else:
            raise TypeError(f"{cls.__name__}.{name}: audit lines support str, int and bool, not {kind}")
    fields.append(("kind", "{_s(e.kind)}"))
    body = ",".join(f'"{name}":{value}' for name, value in sorted(fields))
    source = f"def line(e):\n    return f'{{{{{body}}}}}\\n'\n"
    namespace: dict[str, Any] = {"_s": _encode_string}
    exec(source, namespace)  # generated from the class's own field list, nothing external
    line: Callable[[Any], str] = namespace["line"]
    return line


_encode_string: Callable[[str], str] = json.encoder.encode_basestring
_LINE_WRITERS: dict[type, Callable[[Any], str] | None] = {}


def _line_writer(cls: type) -> Callable[[Any], str] | None:
    """The cached line writer of an event class; None for events that are not audited."""
    if cls not in _LINE_WRITERS:
        _LINE_WRITERS[cls] = _compile_line_writer(cls) if hasattr(cls, "record") else None
    return _LINE_WRITERS[cls]


class AuditWriter:
    """Keeps the events in memory; ``flush()`` formats them and appends the lines to the file
    (the server flushes a few ms after the first events since the last flush, see
    ``on_pending``, and at shutdown). The bytes never depend on when flushes happen: events are
    immutable, and formatting them at the flush rather than per order takes the line writer off
    the order path (one batch of lines per flush, in a warm loop)."""

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        self._pending: list[bytes] = []
        self._batches: list[Iterable[Event]] = []  # written, not yet formatted: after _pending
        # Called when events are written and none were waiting for a flush (the server arms its
        # flush timer there): once per flush, never per order.
        self.on_pending: Callable[[], None] | None = None

    @classmethod
    def open(cls, path: Path) -> AuditWriter:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path.open("ab"))

    def write_header(self, seed: int, instruments: Iterable[InstrumentSpec]) -> None:
        self._format()  # whatever was written before stays before
        self._pending.append(
            _dumps(
                {
                    "kind": "header",
                    "format": FORMAT_VERSION,
                    "seed": seed,
                    "instruments": [
                        {
                            "symbol": s.symbol,
                            "tick_size_units": s.tick_size_units,
                            "price_scale": s.price_scale,
                            "lot_size": s.lot_size,
                            "max_order_qty": s.max_order_qty,
                            "status": s.initial_status,
                        }
                        for s in instruments
                    ],
                }
            )
        )

    def write_events(self, events: Iterable[Event]) -> None:
        """Queue ``events`` (the engine hands over a fresh list each time; a caller's list
        must not change afterwards). Formatted at the next flush."""
        if not self._batches and self.on_pending is not None:
            self.on_pending()
        self._batches.append(events)

    def _format(self) -> None:
        if not self._batches:
            return
        lines: list[str] = []
        writers = _LINE_WRITERS
        for events in self._batches:
            for event in events:
                writer = writers.get(type(event)) or _line_writer(type(event))
                if writer is not None:
                    lines.append(writer(event))
        self._batches.clear()
        if lines:
            self._pending.append("".join(lines).encode())

    def flush(self) -> None:
        if self._sink.closed:
            return  # a flush timer that fires after close(): close() flushed everything
        self._format()
        if self._pending:
            self._sink.write(b"".join(self._pending))
            self._pending.clear()
        self._sink.flush()

    def close(self) -> None:
        self.flush()
        self._sink.close()


@dataclass(frozen=True)
class AuditRecord:
    line: int
    kind: str
    exch_seq: int
    time_ns: int
    member: str | None
    fields: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


def read_audit(path: str | Path) -> list[AuditRecord]:
    """Every record of an audit log, header first (its exch_seq is 0).

    A torn last line (the process was killed mid-write) is ignored; any other bad line
    raises AuditLogError naming the file and line.
    """
    return list(iter_audit(path))


def iter_audit(path: str | Path) -> Iterator[AuditRecord]:
    """The records of an audit log one at a time, as ``read_audit`` reads them: an hour's soak
    writes gigabytes of audit log, which a counter must not hold in memory at once."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise AuditLogError(f"{path}: cannot read the audit log: {exc}") from exc
    with handle:
        torn: tuple[int, json.JSONDecodeError] | None = None  # a bad line is a torn tail only if last
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\n")
            if not raw:
                continue
            if torn is not None:
                raise AuditLogError(f"{path}:{torn[0]}: not a JSON record: {torn[1]}")
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                torn = (number, exc)
                continue
            if not isinstance(data, dict) or "kind" not in data:
                raise AuditLogError(f"{path}:{number}: record has no 'kind'")
            yield AuditRecord(line=number, kind=str(data["kind"]), exch_seq=int(data.get("exch_seq", 0)),
                              time_ns=int(data.get("time_ns", 0)), member=data.get("member"), fields=data)


@dataclass(frozen=True)
class Fill:
    trade_id: int
    qty: int
    price_ticks: int
    liquidity: int  # 1 maker, 2 taker


@dataclass
class OrderLedger:
    """What the audit log says happened to one order."""

    member: str
    order_id: int
    symbol: str = ""
    client_order_ids: list[str] = field(default_factory=list)
    qty: int = 0
    fills: list[Fill] = field(default_factory=list)
    cancelled_reason: int | None = None
    final_leaves: int | None = None

    @property
    def cum_qty(self) -> int:
        return sum(f.qty for f in self.fills)


def reconcile(records: Iterable[AuditRecord]) -> dict[str, dict[int, OrderLedger]]:
    """Per member, per exchange order id: client order ids, fills, cancellation."""
    ledgers: dict[str, dict[int, OrderLedger]] = {}
    for rec in records:
        if rec.member is None or "order_id" not in rec.fields or not rec["order_id"]:
            continue
        per_member = ledgers.setdefault(rec.member, {})
        ledger = per_member.get(rec["order_id"])
        if ledger is None:
            ledger = per_member[rec["order_id"]] = OrderLedger(rec.member, rec["order_id"])
        clordid = rec.get("client_order_id")
        if clordid and clordid not in ledger.client_order_ids:
            ledger.client_order_ids.append(clordid)
        if rec.kind == "accepted":
            ledger.symbol, ledger.qty = rec["symbol"], rec["qty"]
        elif rec.kind == "fill":
            ledger.fills.append(Fill(rec["trade_id"], rec["qty"], rec["price_ticks"], rec["liquidity"]))
            ledger.final_leaves = rec["leaves_qty"]
        elif rec.kind == "cancelled":
            ledger.cancelled_reason = rec["reason"]
            ledger.final_leaves = 0
        elif rec.kind == "replaced":
            ledger.qty = rec["qty"]
            ledger.final_leaves = rec["leaves_qty"]
    return ledgers


@dataclass(frozen=True)
class ClaimedFill:
    """A fill as a client or gateway reported it."""

    client_order_id: str
    trade_id: int
    qty: int
    price_ticks: int


def compare_claimed_fills(
    ledgers: Mapping[str, Mapping[int, OrderLedger]], member: str, claimed: Iterable[ClaimedFill]
) -> list[str]:
    """Differences between claimed fills and the audit log for one member; [] = they agree.

    Fills are matched by (client order id, trade id). Missing, extra, and mismatched
    quantities or prices are each reported in one readable line.
    """
    truth: dict[tuple[str, int], Fill] = {}
    for ledger in ledgers.get(member, {}).values():
        for clordid in ledger.client_order_ids:
            for fill in ledger.fills:
                truth[(clordid, fill.trade_id)] = fill
    problems: list[str] = []
    seen: set[int] = set()
    for claim in claimed:
        found = truth.get((claim.client_order_id, claim.trade_id))
        where = f"{member}: trade {claim.trade_id} on {claim.client_order_id!r}"
        if found is None:
            problems.append(f"{where}: claimed, but not in the audit log")
            continue
        seen.add(claim.trade_id)
        if (found.qty, found.price_ticks) != (claim.qty, claim.price_ticks):
            problems.append(
                f"{where}: claimed {claim.qty}@{claim.price_ticks} ticks, "
                f"audit log says {found.qty}@{found.price_ticks}"
            )
    for (clordid, trade_id), true_fill in sorted(truth.items()):
        if trade_id not in seen:
            problems.append(
                f"{member}: trade {trade_id} on {clordid!r}: in the audit log "
                f"({true_fill.qty}@{true_fill.price_ticks} ticks) but never claimed"
            )
            seen.add(trade_id)
    return problems
