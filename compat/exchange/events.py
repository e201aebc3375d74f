"""Events the engine emits, in sequencer order.

Member events (``MemberEvent``) belong to one member and get ``member_seq`` 1, 2, 3 ... on
emission; they form the resumable member event stream and the audit log. Public events
(``TradePrint``, ``BookUpdate``, ``StatusChange``) feed market data; trades and status
changes are audited too. Integers only: prices are ticks.

Events are immutable ``NamedTuple``s. The engine (the hot path) builds them with
``tuple.__new__`` and positional fields, so field order matters: append new fields at the
end, and never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

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


class _Kinded:
    __slots__ = ()
    kind: ClassVar[str]


class _Recordable(_Kinded):
    __slots__ = ()

    def record(self) -> dict[str, Any]:
        """The audit-log record: every field plus ``kind``."""
        fields: dict[str, Any] = self._asdict()  # type: ignore[attr-defined]
        fields["kind"] = self.kind
        return fields


class _OrderAcceptedFields(NamedTuple):
    member: str
    member_seq: int
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


class OrderAccepted(_OrderAcceptedFields, _Recordable):
    __slots__ = ()
    kind = "accepted"


class _OrderRejectedFields(NamedTuple):
    member: str
    member_seq: int
    exch_seq: int
    time_ns: int
    request_id: int
    client_order_id: str
    symbol: str
    code: int
    text: str


class OrderRejected(_OrderRejectedFields, _Recordable):
    __slots__ = ()
    kind = "rejected"


class _OrderFillFields(NamedTuple):
    member: str
    member_seq: int
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


class OrderFill(_OrderFillFields, _Recordable):
    __slots__ = ()
    kind = "fill"


class _OrderCancelledFields(NamedTuple):
    member: str
    member_seq: int
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    symbol: str
    reason: int
    cancelled_qty: int
    cum_qty: int


class OrderCancelled(_OrderCancelledFields, _Recordable):
    __slots__ = ()
    kind = "cancelled"


class _OrderReplacedFields(NamedTuple):
    member: str
    member_seq: int
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


class OrderReplaced(_OrderReplacedFields, _Recordable):
    __slots__ = ()
    kind = "replaced"


class _ReplaceRejectedFields(NamedTuple):
    member: str
    member_seq: int
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    new_client_order_id: str
    code: int
    text: str


class ReplaceRejected(_ReplaceRejectedFields, _Recordable):
    __slots__ = ()
    kind = "replace_rejected"


class _CancelRejectedFields(NamedTuple):
    member: str
    member_seq: int
    exch_seq: int
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    code: int
    text: str


class CancelRejected(_CancelRejectedFields, _Recordable):
    __slots__ = ()
    kind = "cancel_rejected"


MemberEvent = (
    OrderAccepted | OrderRejected | OrderFill | OrderCancelled | OrderReplaced | ReplaceRejected | CancelRejected
)


class _TradePrintFields(NamedTuple):
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


class TradePrint(_TradePrintFields, _Recordable):
    """A public trade; precedes the BookUpdate of the same command and carries its book_seq."""

    __slots__ = ()
    kind = "trade"


class _BookUpdateFields(NamedTuple):
    time_ns: int
    symbol: str
    book_seq: int
    changes: tuple[tuple[int, int, int, int], ...]


class BookUpdate(_BookUpdateFields, _Kinded):
    """Every level change of one command on one book: ``(side, price_ticks, qty, order_count)``
    with qty the new level total (0 = level gone). ``book_seq`` is the previous one plus 1.
    Not audited (the book is derivable from the order events)."""

    __slots__ = ()
    kind = "book"


class _StatusChangeFields(NamedTuple):
    exch_seq: int
    time_ns: int
    symbol: str
    status: int


class StatusChange(_StatusChangeFields, _Recordable):
    __slots__ = ()
    kind = "instrument_status"


class _InstrumentCreatedFields(NamedTuple):
    exch_seq: int
    time_ns: int
    symbol: str
    tick_size_units: int
    price_scale: int
    lot_size: int
    max_order_qty: int
    status: int


class InstrumentCreated(_InstrumentCreatedFields, _Recordable):
    __slots__ = ()
    kind = "instrument_created"


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
