"""Events the engine emits, in sequencer order.

Member events (``MemberEvent``) belong to one member and get ``member_seq`` 1, 2, 3 ... on
emission; they form the resumable member event stream and the audit log. Public events
(``TradePrint``, ``BookUpdate``, ``StatusChange``) feed market data; trades and status
changes are audited too. Integers only: prices are ticks.

Events are immutable ``NamedTuple``s. The engine (the hot path) builds each with the factory
right after its class, from one tuple of every field in order: ``new_order_fill((member,
member_seq, ...))``. At run time a factory is ``tuple.__new__`` bound to the class (no Python
call: a function factory cost ~700 instructions per event, +8% for the engine); for mypy it is
a function taking exactly that tuple, whose body ``OrderFill(*fields)`` checks the tuple type
against the class. So mypy checks every build's arity and types. Field order matters: append
new fields at the end (of the class and its factory's tuple), and never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MethodType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

_tuple_new = tuple.__new__

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


if TYPE_CHECKING:

    def new_order_accepted(
        fields: tuple[str, int, int, int, int, int, str, str, int, int, int, int, int, int], /
    ) -> OrderAccepted:
        return OrderAccepted(*fields)

else:
    new_order_accepted = MethodType(_tuple_new, OrderAccepted)


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


if TYPE_CHECKING:

    def new_order_rejected(fields: tuple[str, int, int, int, int, str, str, int, str], /) -> OrderRejected:
        return OrderRejected(*fields)

else:
    new_order_rejected = MethodType(_tuple_new, OrderRejected)


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


if TYPE_CHECKING:

    def new_order_fill(
        fields: tuple[str, int, int, int, int, str, str, int, int, int, int, int, int, int], /
    ) -> OrderFill:
        return OrderFill(*fields)

else:
    new_order_fill = MethodType(_tuple_new, OrderFill)


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


if TYPE_CHECKING:

    def new_order_cancelled(fields: tuple[str, int, int, int, int, int, str, str, int, int, int], /) -> OrderCancelled:
        return OrderCancelled(*fields)

else:
    new_order_cancelled = MethodType(_tuple_new, OrderCancelled)


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


if TYPE_CHECKING:

    def new_order_replaced(
        fields: tuple[str, int, int, int, int, int, str, str, str, int, int, int, int, bool], /
    ) -> OrderReplaced:
        return OrderReplaced(*fields)

else:
    new_order_replaced = MethodType(_tuple_new, OrderReplaced)


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


if TYPE_CHECKING:

    def new_replace_rejected(fields: tuple[str, int, int, int, int, int, str, str, int, str], /) -> ReplaceRejected:
        return ReplaceRejected(*fields)

else:
    new_replace_rejected = MethodType(_tuple_new, ReplaceRejected)


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


if TYPE_CHECKING:

    def new_cancel_rejected(fields: tuple[str, int, int, int, int, int, str, int, str], /) -> CancelRejected:
        return CancelRejected(*fields)

else:
    new_cancel_rejected = MethodType(_tuple_new, CancelRejected)


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


if TYPE_CHECKING:

    def new_trade_print(fields: tuple[int, int, str, int, int, int, int, int, int, int], /) -> TradePrint:
        return TradePrint(*fields)

else:
    new_trade_print = MethodType(_tuple_new, TradePrint)


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


if TYPE_CHECKING:

    def new_book_update(fields: tuple[int, str, int, tuple[tuple[int, int, int, int], ...]], /) -> BookUpdate:
        return BookUpdate(*fields)

else:
    new_book_update = MethodType(_tuple_new, BookUpdate)


class _StatusChangeFields(NamedTuple):
    exch_seq: int
    time_ns: int
    symbol: str
    status: int


class StatusChange(_StatusChangeFields, _Recordable):
    __slots__ = ()
    kind = "instrument_status"


if TYPE_CHECKING:

    def new_status_change(fields: tuple[int, int, str, int], /) -> StatusChange:
        return StatusChange(*fields)

else:
    new_status_change = MethodType(_tuple_new, StatusChange)


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


if TYPE_CHECKING:

    def new_instrument_created(fields: tuple[int, int, str, int, int, int, int, int], /) -> InstrumentCreated:
        return InstrumentCreated(*fields)

else:
    new_instrument_created = MethodType(_tuple_new, InstrumentCreated)


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
