"""The trading protocol's invariants, as pure functions over what was seen.

Inputs are plain data: each session's delivered events in the trading operation profile's
shape (docs/contracts.md: ``kind``, ``client_order_id``, ``order_id``, ``qty``, ``price``,
``order_qty``, ``leaves_qty``, ``cum_qty``, ``trade_id``, ``seq``, ``poss_dup``, ``symbol``) and the
exchange's audit records of the scenario's own symbols. Nothing here starts a process or waits;
``compat.run.oracle.trading`` gathers the inputs.

A field an event does not carry (a client version that predates it: ``None`` or absent) skips
that invariant for that event, never fails it; a session without sequence numbers (protocol v1)
skips the sequence invariant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from compat.run.oracle.model import Violation

# name -> what it promises (the names scenarios waive and matrix.yaml's fails_with patterns match)
INVARIANTS: dict[str, str] = {
    "cum_qty": "a report's cum_qty equals the sum of the fills delivered for its order",
    "leaves_qty": "leaves_qty equals qty - cum_qty on a live order's reports",
    "sequence": "a session's reports carry sequence numbers with no gap and no repeat",
    "fill_once": "every exchange fill reaches the application exactly once (a poss_dup replay is not a new fill)",
    "audit_values": "prices and quantities the application was told equal the exchange audit's",
    "order_known": "every acknowledged order is known to the exchange",
    "order_acknowledged": "every order the exchange accepted was acknowledged to its session by the end",
}
ORDER_KINDS = frozenset({"accepted", "fill", "cancelled", "rejected", "replaced", "status"})
_NEW_SESSION = frozenset({"session_new"})  # the seq space restarts: a new session, not a resume


@dataclass(frozen=True)
class SessionLog:
    """Everything one session's application was delivered, in order."""

    name: str
    events: Sequence[Mapping[str, Any]]
    resume_gaps: int = 0  # resumes the gateway could not replay in full: gaps there are declared


@dataclass(frozen=True)
class Instrument:
    symbol: str
    tick_size_units: int
    price_scale: int

    def price(self, ticks: int) -> Decimal:
        return Decimal(ticks * self.tick_size_units).scaleb(-self.price_scale)


@dataclass
class Findings:
    violations: list[Violation] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, invariant: str, subject: str, client: Any, truth: Any, session: str | None = None,
            index: int | None = None) -> None:
        self.violations.append(Violation(invariant, subject, client, truth, session, index))

    def skip(self, invariant: str, why: str) -> None:
        self.skipped.setdefault(invariant, why)


def _order_key(event: Mapping[str, Any]) -> str:
    coid = event.get("client_order_id")
    if coid:
        return str(coid)
    order_id = event.get("order_id")
    return f"#{order_id}" if order_id else ""


def _subject(session: str, event: Mapping[str, Any]) -> str:
    key = _order_key(event) or "(no order id)"
    return f"order {key} ({event.get('symbol') or '?'}) of session {session}"


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _order_events(log: SessionLog) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for index, event in enumerate(log.events):
        if event.get("kind") in ORDER_KINDS:
            yield index, event


# --- what one session was told, on its own --------------------------------------------------------------


def check_session(log: SessionLog, found: Findings) -> None:
    """cum_qty, leaves_qty and sequence: what the protocol promises inside one session."""
    _check_quantities(log, found)
    _check_sequence(log, found)


def _check_quantities(log: SessionLog, found: Findings) -> None:
    filled: dict[str, int] = defaultdict(int)  # order -> sum of the distinct fills delivered
    trades: dict[str, set[str]] = defaultdict(set)  # order -> trade ids already counted
    for index, event in _order_events(log):
        kind = event.get("kind")
        order = _order_key(event)
        if not order:
            continue
        cum = _int(event.get("cum_qty")) if "cum_qty" in event else None
        if kind == "fill":
            trade = str(event.get("trade_id") or "")
            qty = _int(event.get("qty")) or 0
            if not trade or trade not in trades[order]:  # a replay of a fill already counted adds nothing
                filled[order] += qty
                if trade:
                    trades[order].add(trade)
            if cum is None:
                found.skip("cum_qty", f"session {log.name}: its fills carry no cum_qty")
            elif cum != filled[order]:
                found.add("cum_qty", _subject(log.name, event), f"cum_qty {cum} (trade {trade or '?'})",
                          f"the fills delivered for the order sum to {filled[order]}", log.name, index)
        if kind in ("accepted", "fill", "replaced"):
            order_qty, leaves = _int(event.get("order_qty")), _int(event.get("leaves_qty"))
            if order_qty is None or leaves is None or cum is None:
                found.skip("leaves_qty", f"session {log.name}: its reports lack order_qty, leaves_qty or cum_qty")
                continue
            if leaves != order_qty - cum:
                found.add("leaves_qty", _subject(log.name, event),
                          f"leaves_qty {leaves} on a {kind} report (qty {order_qty}, cum_qty {cum})",
                          f"qty - cum_qty is {order_qty - cum}", log.name, index)


def _check_sequence(log: SessionLog, found: Findings) -> None:
    sequenced = [(i, e) for i, e in _order_events(log) if (_int(e.get("seq")) or 0) > 0]
    if not sequenced:
        if any(True for _ in _order_events(log)):
            found.skip("sequence", f"session {log.name}: its reports carry no sequence numbers (protocol v1)")
        return
    seen: dict[int, int] = {}  # seq -> index of its first delivery, in the current session
    expected: int | None = 1
    for index, event in enumerate(log.events):
        if event.get("kind") in _NEW_SESSION:
            seen, expected = {}, 1
            continue
        seq = _int(event.get("seq")) or 0
        if event.get("kind") not in ORDER_KINDS or seq <= 0:
            continue
        if seq in seen:
            dup = " (flagged poss_dup)" if event.get("poss_dup") else ""
            found.add("sequence", f"report seq {seq} of session {log.name}",
                      f"seq {seq} again{dup} (the {event.get('kind')} report of order {_order_key(event) or '?'})",
                      f"it was already delivered as event {seen[seq]}; a seq is delivered once", log.name, index)
            continue
        seen[seq] = index
        if expected is not None and seq != expected and not log.resume_gaps:
            what = "the session's first report" if expected == 1 else f"after seq {expected - 1}"
            found.add("sequence", f"report seq {seq} of session {log.name}", f"seq {seq} as {what}",
                      f"the next seq is {expected}: {seq - expected} report(s) missing" if seq > expected
                      else f"the next seq is {expected}: it went backwards", log.name, index)
        expected = max(expected or 0, seq + 1)
    if log.resume_gaps:
        found.skip("sequence", f"session {log.name}: the gateway declared a gap at a resume (RESUME_GAP), "
                               "so gaps are not judged")


# --- what the sessions were told, against the exchange --------------------------------------------------


@dataclass(frozen=True)
class ExchangeRecords:
    """The exchange's audit records of the scenario's symbols, and whose orders are the gateway's."""

    symbols: frozenset[str]
    records: Sequence[Mapping[str, Any]]
    members: frozenset[str]  # the member(s) the gateway trades as
    instruments: Mapping[str, Instrument]


def check_against_exchange(logs: Sequence[SessionLog], exchange: ExchangeRecords, found: Findings) -> None:
    """fill_once, audit_values, order_known and order_acknowledged, over the scenario's symbols."""
    ours = [r for r in exchange.records
            if r.get("symbol") in exchange.symbols and r.get("member") in exchange.members]
    _check_fills(logs, exchange, ours, found)
    _check_orders(logs, exchange, ours, found)


def _price_ticks(instrument: Instrument | None, price: Any) -> int | None:
    """The ticks a price string names; None when it names none (no price, off tick, unknown instrument)."""
    if instrument is None or price in (None, ""):
        return None
    try:
        value = Decimal(str(price))
    except InvalidOperation:
        return None
    tick = instrument.price(1)
    ticks = value / tick
    return int(ticks) if ticks == ticks.to_integral_value() else None


def _check_fills(logs: Sequence[SessionLog], exchange: ExchangeRecords, ours: Sequence[Mapping[str, Any]],
                 found: Findings) -> None:
    truth: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in ours:
        if record.get("kind") == "fill":
            truth[(str(record["symbol"]), str(record.get("trade_id")))].append(record)
    delivered: dict[tuple[str, str], list[tuple[str, int, Mapping[str, Any]]]] = defaultdict(list)
    for log in logs:
        for index, event in _order_events(log):
            if event.get("kind") != "fill" or event.get("symbol") not in exchange.symbols:
                continue
            trade = str(event.get("trade_id") or "")
            if not trade:
                found.skip("fill_once", f"session {log.name}: a fill without a trade id cannot be matched")
                continue
            delivered[(str(event["symbol"]), trade)].append((log.name, index, event))
    for key, deliveries in delivered.items():
        symbol, trade = key
        records = truth.get(key)
        if not records:
            session, index, event = deliveries[0]
            found.add("fill_once", f"trade {trade} on {symbol} ({_subject(session, event)})",
                      f"a fill of {event.get('qty')} at {event.get('price')}",
                      "the exchange made no such fill for the gateway", session, index)
            continue
        new = [d for d in deliveries if not d[2].get("poss_dup")]
        if len(new) > len(records):
            session, index, event = new[len(records)]
            found.add("fill_once", f"trade {trade} on {symbol} ({_subject(session, event)})",
                      f"it {len(new)} times as a new fill (not poss_dup)",
                      f"the exchange made {len(records)} fill(s) of it for the gateway", session, index)
        instrument = exchange.instruments.get(symbol)
        sample = records[0]
        for session, index, event in deliveries:
            qty = _int(event.get("qty"))
            if qty is not None and qty != int(sample["qty"]):
                found.add("audit_values", f"fill of trade {trade} ({_subject(session, event)})", f"qty {qty}",
                          f"the audit's fill is {sample['qty']}", session, index)
            if instrument is not None and "price" in event:
                price = _decimal(event.get("price"))
                audit_price = instrument.price(int(sample["price_ticks"]))
                if price != audit_price:
                    found.add("audit_values", f"fill of trade {trade} ({_subject(session, event)})",
                              f"price {event.get('price')!r}", f"the audit's fill price is {audit_price}",
                              session, index)
    for key, records in truth.items():
        deliveries = delivered.get(key, [])
        if len(deliveries) < len(records):
            symbol, trade = key
            record = records[0]
            found.add("fill_once", f"trade {trade} on {symbol} (exchange order {record.get('order_id')})",
                      f"it {len(deliveries)} time(s)",
                      f"the exchange filled {record['qty']} at {_at(exchange, record)} for the gateway "
                      f"{len(records)} time(s) (order side {record.get('side')})")


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _check_orders(logs: Sequence[SessionLog], exchange: ExchangeRecords, ours: Sequence[Mapping[str, Any]],
                  found: Findings) -> None:
    """Acknowledged orders against the exchange's accepted ones, by content: (symbol, qty, price)."""
    accepted = [r for r in ours if r.get("kind") == "accepted"]
    acks: list[tuple[str, int, Mapping[str, Any]]] = []
    acked_orders: set[tuple[str, str]] = set()
    for log in logs:
        for index, event in _order_events(log):
            if event.get("kind") != "accepted" or event.get("symbol") not in exchange.symbols:
                continue
            order = (log.name, _order_key(event) or f"@{index}")
            if order in acked_orders:
                continue  # one acknowledgement per order; a replayed one is not another order
            acked_orders.add(order)
            acks.append((log.name, index, event))
    remaining: dict[tuple[str, int, int], list[Mapping[str, Any]]] = defaultdict(list)
    for record in accepted:
        remaining[(str(record["symbol"]), int(record["qty"]), int(record.get("price_ticks") or 0))].append(record)
    unmatched_acks: list[tuple[str, int, Mapping[str, Any], int | None]] = []
    for session, index, event in acks:
        symbol = str(event["symbol"])
        ticks = _price_ticks(exchange.instruments.get(symbol), event.get("price"))
        qty = _int(event.get("order_qty", event.get("qty")))
        candidates = remaining.get((symbol, qty if qty is not None else -1, ticks or 0))
        if candidates:
            candidates.pop(0)
        else:
            unmatched_acks.append((session, index, event, ticks))
    unacked = [record for records in remaining.values() for record in records]
    unacked.sort(key=lambda r: int(r.get("exch_seq") or 0))
    for session, index, event, _ticks in unmatched_acks:
        symbol = str(event["symbol"])
        twin = next((r for r in unacked if r["symbol"] == symbol), None)
        told = f"{event.get('order_qty', event.get('qty'))} at {event.get('price') or 'market'}"
        if twin is not None:  # the exchange has an order the client was not told of: the same order, told wrong
            unacked.remove(twin)
            found.add("audit_values", _subject(session, event), f"it was accepted as {told}",
                      f"the exchange accepted {twin['qty']} at {_at(exchange, twin)} "
                      f"(exchange order {twin.get('order_id')})",
                      session, index)
        else:
            found.add("order_known", _subject(session, event), f"it was accepted as {told}",
                      f"the exchange has no order of the gateway on {symbol} left to match it", session, index)
    for record in unacked:
        found.add("order_acknowledged", f"exchange order {record.get('order_id')} on {record['symbol']}",
                  "nothing: no session was told it was accepted",
                  f"the exchange accepted {record['qty']} at {_at(exchange, record)} for the gateway")


def _at(exchange: ExchangeRecords, record: Mapping[str, Any]) -> str:
    """An audit record's price as a decimal (its ticks when the instrument is unknown)."""
    instrument = exchange.instruments.get(str(record.get("symbol")))
    ticks = int(record.get("price_ticks") or 0)
    if not ticks:
        return "market"
    return str(instrument.price(ticks)) if instrument is not None else f"{ticks} ticks"
