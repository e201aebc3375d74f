"""Events the engine emits, in sequencer order.

Member events (``MemberEvent``) belong to one member and get ``member_seq`` 1, 2, 3 ... on
emission; they form the resumable member event stream and the audit log. Public events
(``TradePrint``, ``BookUpdate``, ``StatusChange``) feed market data; trades and status
changes are audited too. Integers only: prices are ticks.

The classes are slotted dataclasses built positionally by the engine (the hot path), so
field order matters: append new fields at the end with a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

BUY = 1
SELL = 2
LIMIT = 1
MARKET = 2
GTC = 1
DAY = 2
IOC = 3
FOK = 4
MAKER = 1
TAKER = 2

REASON_USER = 1
REASON_IOC_REMAINDER = 2
REASON_FOK_KILL = 3
REASON_MASS = 4
REASON_HALT = 5
REASON_EXPIRED = 6

STATE_OPEN = 1
STATE_PARTIALLY_FILLED = 2
STATE_FILLED = 3
STATE_CANCELLED = 4
STATE_REJECTED = 5

SIDE_NAMES = {BUY: "BUY", SELL: "SELL"}
TYPE_NAMES = {LIMIT: "LIMIT", MARKET: "MARKET"}
TIF_NAMES = {GTC: "GTC", DAY: "DAY", IOC: "IOC", FOK: "FOK"}
REASON_NAMES = {
    REASON_USER: "USER",
    REASON_IOC_REMAINDER: "IOC_REMAINDER",
    REASON_FOK_KILL: "FOK_KILL",
    REASON_MASS: "MASS",
    REASON_HALT: "HALT",
    REASON_EXPIRED: "EXPIRED",
}
STATE_NAMES = {
    STATE_OPEN: "OPEN",
    STATE_PARTIALLY_FILLED: "PARTIALLY_FILLED",
    STATE_FILLED: "FILLED",
    STATE_CANCELLED: "CANCELLED",
    STATE_REJECTED: "REJECTED",
}


def _record(event: Any, kind: str) -> dict[str, Any]:
    fields: dict[str, Any] = {name: getattr(event, name) for name in event.__slots__}
    fields["kind"] = kind
    return fields


@dataclass(slots=True)
class OrderAccepted:
    kind: ClassVar[str] = "accepted"
    member: str
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: int
    order_type: int
    tif: int
    qty: int
    price_ticks: int
    leaves_qty: int
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class OrderRejected:
    kind: ClassVar[str] = "rejected"
    member: str
    exch_seq: int
    time_ns: int
    request_id: int
    client_order_id: str
    symbol: str
    code: int
    text: str
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class OrderFill:
    kind: ClassVar[str] = "fill"
    member: str
    exch_seq: int
    time_ns: int
    order_id: int
    client_order_id: str
    symbol: str
    side: int
    trade_id: int
    qty: int
    price_ticks: int
    liquidity: int
    leaves_qty: int
    cum_qty: int
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class OrderCancelled:
    kind: ClassVar[str] = "cancelled"
    member: str
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    symbol: str
    reason: int
    cancelled_qty: int
    cum_qty: int
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class OrderReplaced:
    kind: ClassVar[str] = "replaced"
    member: str
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    qty: int
    price_ticks: int
    leaves_qty: int
    cum_qty: int
    priority_kept: bool
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class ReplaceRejected:
    kind: ClassVar[str] = "replace_rejected"
    member: str
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    new_client_order_id: str
    code: int
    text: str
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class CancelRejected:
    kind: ClassVar[str] = "cancel_rejected"
    member: str
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    code: int
    text: str
    member_seq: int = 0

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


MemberEvent = (
    OrderAccepted | OrderRejected | OrderFill | OrderCancelled | OrderReplaced | ReplaceRejected | CancelRejected
)


@dataclass(slots=True)
class TradePrint:
    """A public trade; precedes the BookUpdate of the same command and carries its book_seq."""

    kind: ClassVar[str] = "trade"
    exch_seq: int
    time_ns: int
    symbol: str
    trade_id: int
    price_ticks: int
    qty: int
    aggressor_side: int
    book_seq: int
    maker_order_id: int
    taker_order_id: int

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class BookUpdate:
    """Every level change of one command on one book: ``(side, price_ticks, qty, order_count)``
    with qty the new level total (0 = level gone). ``book_seq`` is the previous one plus 1."""

    kind: ClassVar[str] = "book"
    time_ns: int
    symbol: str
    book_seq: int
    changes: list[tuple[int, int, int, int]]


@dataclass(slots=True)
class StatusChange:
    kind: ClassVar[str] = "instrument_status"
    exch_seq: int
    time_ns: int
    symbol: str
    status: int

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


@dataclass(slots=True)
class InstrumentCreated:
    kind: ClassVar[str] = "instrument_created"
    exch_seq: int
    time_ns: int
    symbol: str
    tick_size_units: int
    price_scale: int
    lot_size: int
    max_order_qty: int
    status: int

    def record(self) -> dict[str, Any]:
        return _record(self, self.kind)


Event = MemberEvent | TradePrint | BookUpdate | StatusChange | InstrumentCreated


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's current state, for order-status requests."""

    order_id: int
    client_order_id: str
    symbol: str
    side: int
    order_type: int
    tif: int
    qty: int
    price_ticks: int
    leaves_qty: int
    cum_qty: int
    state: int
    member: str


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    book_seq: int
    status: int
    bids: tuple[tuple[int, int, int], ...]  # (price_ticks, qty, order_count), best first
    asks: tuple[tuple[int, int, int], ...]
