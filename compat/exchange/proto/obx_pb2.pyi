# mypy: disable-error-code="type-arg"
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_TYPE_UNSPECIFIED: _ClassVar[MessageType]
    LOGON_REQUEST: _ClassVar[MessageType]
    LOGON_RESPONSE: _ClassVar[MessageType]
    LOGOUT_REQUEST: _ClassVar[MessageType]
    LOGOUT: _ClassVar[MessageType]
    HEARTBEAT: _ClassVar[MessageType]
    REJECT: _ClassVar[MessageType]
    INSTRUMENT_LIST_REQUEST: _ClassVar[MessageType]
    INSTRUMENT_LIST: _ClassVar[MessageType]
    INSTRUMENT_STATUS_UPDATE: _ClassVar[MessageType]
    ADMIN_SET_INSTRUMENT_STATUS: _ClassVar[MessageType]
    ADMIN_CREATE_INSTRUMENT: _ClassVar[MessageType]
    ADMIN_RESPONSE: _ClassVar[MessageType]
    NEW_ORDER: _ClassVar[MessageType]
    CANCEL_ORDER: _ClassVar[MessageType]
    AMEND_ORDER: _ClassVar[MessageType]
    MASS_CANCEL: _ClassVar[MessageType]
    ORDER_STATUS_REQUEST: _ClassVar[MessageType]
    ORDER_ACCEPTED: _ClassVar[MessageType]
    ORDER_REJECTED: _ClassVar[MessageType]
    ORDER_FILL: _ClassVar[MessageType]
    ORDER_CANCELLED: _ClassVar[MessageType]
    ORDER_REPLACED: _ClassVar[MessageType]
    REPLACE_REJECTED: _ClassVar[MessageType]
    CANCEL_REJECTED: _ClassVar[MessageType]
    MASS_CANCEL_RESPONSE: _ClassVar[MessageType]
    ORDER_STATUS_RESPONSE: _ClassVar[MessageType]
    MARKET_DATA_SUBSCRIBE: _ClassVar[MessageType]
    MARKET_DATA_UNSUBSCRIBE: _ClassVar[MessageType]
    MARKET_DATA_SNAPSHOT: _ClassVar[MessageType]
    MARKET_DATA_INCREMENTAL: _ClassVar[MessageType]
    TRADE_PRINT: _ClassVar[MessageType]

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    BUY: _ClassVar[Side]
    SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    LIMIT: _ClassVar[OrderType]
    MARKET: _ClassVar[OrderType]

class TimeInForce(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIF_UNSPECIFIED: _ClassVar[TimeInForce]
    GTC: _ClassVar[TimeInForce]
    DAY: _ClassVar[TimeInForce]
    IOC: _ClassVar[TimeInForce]
    FOK: _ClassVar[TimeInForce]

class InstrumentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTRUMENT_STATUS_UNSPECIFIED: _ClassVar[InstrumentStatus]
    PRE_OPEN: _ClassVar[InstrumentStatus]
    OPEN: _ClassVar[InstrumentStatus]
    HALTED: _ClassVar[InstrumentStatus]
    CLOSED: _ClassVar[InstrumentStatus]

class Liquidity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIQUIDITY_UNSPECIFIED: _ClassVar[Liquidity]
    MAKER: _ClassVar[Liquidity]
    TAKER: _ClassVar[Liquidity]

class CancelReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCEL_REASON_UNSPECIFIED: _ClassVar[CancelReason]
    USER: _ClassVar[CancelReason]
    IOC_REMAINDER: _ClassVar[CancelReason]
    FOK_KILL: _ClassVar[CancelReason]
    MASS: _ClassVar[CancelReason]
    HALT: _ClassVar[CancelReason]
    EXPIRED: _ClassVar[CancelReason]

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    STATE_OPEN: _ClassVar[OrderState]
    STATE_PARTIALLY_FILLED: _ClassVar[OrderState]
    STATE_FILLED: _ClassVar[OrderState]
    STATE_CANCELLED: _ClassVar[OrderState]
    STATE_REJECTED: _ClassVar[OrderState]
MESSAGE_TYPE_UNSPECIFIED: MessageType
LOGON_REQUEST: MessageType
LOGON_RESPONSE: MessageType
LOGOUT_REQUEST: MessageType
LOGOUT: MessageType
HEARTBEAT: MessageType
REJECT: MessageType
INSTRUMENT_LIST_REQUEST: MessageType
INSTRUMENT_LIST: MessageType
INSTRUMENT_STATUS_UPDATE: MessageType
ADMIN_SET_INSTRUMENT_STATUS: MessageType
ADMIN_CREATE_INSTRUMENT: MessageType
ADMIN_RESPONSE: MessageType
NEW_ORDER: MessageType
CANCEL_ORDER: MessageType
AMEND_ORDER: MessageType
MASS_CANCEL: MessageType
ORDER_STATUS_REQUEST: MessageType
ORDER_ACCEPTED: MessageType
ORDER_REJECTED: MessageType
ORDER_FILL: MessageType
ORDER_CANCELLED: MessageType
ORDER_REPLACED: MessageType
REPLACE_REJECTED: MessageType
CANCEL_REJECTED: MessageType
MASS_CANCEL_RESPONSE: MessageType
ORDER_STATUS_RESPONSE: MessageType
MARKET_DATA_SUBSCRIBE: MessageType
MARKET_DATA_UNSUBSCRIBE: MessageType
MARKET_DATA_SNAPSHOT: MessageType
MARKET_DATA_INCREMENTAL: MessageType
TRADE_PRINT: MessageType
SIDE_UNSPECIFIED: Side
BUY: Side
SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
LIMIT: OrderType
MARKET: OrderType
TIF_UNSPECIFIED: TimeInForce
GTC: TimeInForce
DAY: TimeInForce
IOC: TimeInForce
FOK: TimeInForce
INSTRUMENT_STATUS_UNSPECIFIED: InstrumentStatus
PRE_OPEN: InstrumentStatus
OPEN: InstrumentStatus
HALTED: InstrumentStatus
CLOSED: InstrumentStatus
LIQUIDITY_UNSPECIFIED: Liquidity
MAKER: Liquidity
TAKER: Liquidity
CANCEL_REASON_UNSPECIFIED: CancelReason
USER: CancelReason
IOC_REMAINDER: CancelReason
FOK_KILL: CancelReason
MASS: CancelReason
HALT: CancelReason
EXPIRED: CancelReason
ORDER_STATE_UNSPECIFIED: OrderState
STATE_OPEN: OrderState
STATE_PARTIALLY_FILLED: OrderState
STATE_FILLED: OrderState
STATE_CANCELLED: OrderState
STATE_REJECTED: OrderState

class LogonRequest(_message.Message):
    __slots__ = ("request_id", "member_id", "token", "resume_from_seq", "client_name", "heartbeat_interval_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    member_id: str
    token: str
    resume_from_seq: int
    client_name: str
    heartbeat_interval_ms: int
    def __init__(self, request_id: _Optional[int] = ..., member_id: _Optional[str] = ..., token: _Optional[str] = ..., resume_from_seq: _Optional[int] = ..., client_name: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class LogonResponse(_message.Message):
    __slots__ = ("request_id", "result_code", "text", "member_id", "next_member_seq", "replay_from_seq", "replay_count", "exchange_version", "heartbeat_interval_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    REPLAY_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_VERSION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    result_code: int
    text: str
    member_id: str
    next_member_seq: int
    replay_from_seq: int
    replay_count: int
    exchange_version: str
    heartbeat_interval_ms: int
    def __init__(self, request_id: _Optional[int] = ..., result_code: _Optional[int] = ..., text: _Optional[str] = ..., member_id: _Optional[str] = ..., next_member_seq: _Optional[int] = ..., replay_from_seq: _Optional[int] = ..., replay_count: _Optional[int] = ..., exchange_version: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Logout(_message.Message):
    __slots__ = ("code", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("request_id", "time_ns")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    time_ns: int
    def __init__(self, request_id: _Optional[int] = ..., time_ns: _Optional[int] = ...) -> None: ...

class Reject(_message.Message):
    __slots__ = ("request_id", "code", "text", "ref_message_type")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REF_MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    code: int
    text: str
    ref_message_type: int
    def __init__(self, request_id: _Optional[int] = ..., code: _Optional[int] = ..., text: _Optional[str] = ..., ref_message_type: _Optional[int] = ...) -> None: ...

class Instrument(_message.Message):
    __slots__ = ("symbol", "description", "currency", "price_scale", "tick_size_units", "lot_size", "max_order_qty", "status", "tick_size")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PRICE_SCALE_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_UNITS_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_QTY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    description: str
    currency: str
    price_scale: int
    tick_size_units: int
    lot_size: int
    max_order_qty: int
    status: InstrumentStatus
    tick_size: str
    def __init__(self, symbol: _Optional[str] = ..., description: _Optional[str] = ..., currency: _Optional[str] = ..., price_scale: _Optional[int] = ..., tick_size_units: _Optional[int] = ..., lot_size: _Optional[int] = ..., max_order_qty: _Optional[int] = ..., status: _Optional[_Union[InstrumentStatus, str]] = ..., tick_size: _Optional[str] = ...) -> None: ...

class InstrumentListRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    def __init__(self, request_id: _Optional[int] = ...) -> None: ...

class InstrumentList(_message.Message):
    __slots__ = ("request_id", "instruments")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    instruments: _containers.RepeatedCompositeFieldContainer[Instrument]
    def __init__(self, request_id: _Optional[int] = ..., instruments: _Optional[_Iterable[_Union[Instrument, _Mapping]]] = ...) -> None: ...

class InstrumentStatusUpdate(_message.Message):
    __slots__ = ("symbol", "status", "time_ns")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    status: InstrumentStatus
    time_ns: int
    def __init__(self, symbol: _Optional[str] = ..., status: _Optional[_Union[InstrumentStatus, str]] = ..., time_ns: _Optional[int] = ...) -> None: ...

class AdminSetInstrumentStatus(_message.Message):
    __slots__ = ("request_id", "symbol", "status", "cancel_resting")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_RESTING_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    status: InstrumentStatus
    cancel_resting: bool
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ..., status: _Optional[_Union[InstrumentStatus, str]] = ..., cancel_resting: _Optional[bool] = ...) -> None: ...

class AdminCreateInstrument(_message.Message):
    __slots__ = ("request_id", "instrument")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    instrument: Instrument
    def __init__(self, request_id: _Optional[int] = ..., instrument: _Optional[_Union[Instrument, _Mapping]] = ...) -> None: ...

class AdminResponse(_message.Message):
    __slots__ = ("request_id", "result_code", "text")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    result_code: int
    text: str
    def __init__(self, request_id: _Optional[int] = ..., result_code: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class NewOrder(_message.Message):
    __slots__ = ("request_id", "client_order_id", "symbol", "side", "order_type", "tif", "qty", "price_ticks")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIF_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    price_ticks: int
    def __init__(self, request_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., tif: _Optional[_Union[TimeInForce, str]] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ...) -> None: ...

class CancelOrder(_message.Message):
    __slots__ = ("request_id", "order_id", "orig_client_order_id", "symbol")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIG_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    order_id: int
    orig_client_order_id: str
    symbol: str
    def __init__(self, request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., orig_client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ...) -> None: ...

class AmendOrder(_message.Message):
    __slots__ = ("request_id", "order_id", "orig_client_order_id", "new_client_order_id", "qty", "price_ticks")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIG_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    order_id: int
    orig_client_order_id: str
    new_client_order_id: str
    qty: int
    price_ticks: int
    def __init__(self, request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., orig_client_order_id: _Optional[str] = ..., new_client_order_id: _Optional[str] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ...) -> None: ...

class MassCancel(_message.Message):
    __slots__ = ("request_id", "symbol")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ...) -> None: ...

class MassCancelResponse(_message.Message):
    __slots__ = ("request_id", "result_code", "text", "cancelled_count")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_COUNT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    result_code: int
    text: str
    cancelled_count: int
    def __init__(self, request_id: _Optional[int] = ..., result_code: _Optional[int] = ..., text: _Optional[str] = ..., cancelled_count: _Optional[int] = ...) -> None: ...

class OrderStatusRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "client_order_id", "symbol")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    order_id: int
    client_order_id: str
    symbol: str
    def __init__(self, request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ...) -> None: ...

class OrderStatus(_message.Message):
    __slots__ = ("order_id", "client_order_id", "symbol", "side", "order_type", "tif", "qty", "price_ticks", "leaves_qty", "cum_qty", "state")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIF_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    price_ticks: int
    leaves_qty: int
    cum_qty: int
    state: OrderState
    def __init__(self, order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., tif: _Optional[_Union[TimeInForce, str]] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ..., leaves_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ..., state: _Optional[_Union[OrderState, str]] = ...) -> None: ...

class OrderStatusResponse(_message.Message):
    __slots__ = ("request_id", "result_code", "text", "orders", "last_member_seq")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    LAST_MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    result_code: int
    text: str
    orders: _containers.RepeatedCompositeFieldContainer[OrderStatus]
    last_member_seq: int
    def __init__(self, request_id: _Optional[int] = ..., result_code: _Optional[int] = ..., text: _Optional[str] = ..., orders: _Optional[_Iterable[_Union[OrderStatus, _Mapping]]] = ..., last_member_seq: _Optional[int] = ...) -> None: ...

class OrderAccepted(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "request_id", "order_id", "client_order_id", "symbol", "side", "order_type", "tif", "qty", "price_ticks", "leaves_qty")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIF_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    price_ticks: int
    leaves_qty: int
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., tif: _Optional[_Union[TimeInForce, str]] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ..., leaves_qty: _Optional[int] = ...) -> None: ...

class OrderRejected(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "request_id", "client_order_id", "symbol", "code", "text")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
    time_ns: int
    request_id: int
    client_order_id: str
    symbol: str
    code: int
    text: str
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., request_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., code: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class OrderFill(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "order_id", "client_order_id", "symbol", "side", "trade_id", "qty", "price_ticks", "liquidity", "leaves_qty", "cum_qty")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
    time_ns: int
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    trade_id: int
    qty: int
    price_ticks: int
    liquidity: Liquidity
    leaves_qty: int
    cum_qty: int
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., trade_id: _Optional[int] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ..., liquidity: _Optional[_Union[Liquidity, str]] = ..., leaves_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "request_id", "order_id", "client_order_id", "symbol", "reason", "cancelled_qty", "cum_qty")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    symbol: str
    reason: CancelReason
    cancelled_qty: int
    cum_qty: int
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., reason: _Optional[_Union[CancelReason, str]] = ..., cancelled_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ...) -> None: ...

class OrderReplaced(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "request_id", "order_id", "client_order_id", "orig_client_order_id", "symbol", "qty", "price_ticks", "leaves_qty", "cum_qty", "priority_kept")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIG_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_KEPT_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
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
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., orig_client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ..., leaves_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ..., priority_kept: _Optional[bool] = ...) -> None: ...

class ReplaceRejected(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "request_id", "order_id", "client_order_id", "new_client_order_id", "code", "text")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    new_client_order_id: str
    code: int
    text: str
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., new_client_order_id: _Optional[str] = ..., code: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class CancelRejected(_message.Message):
    __slots__ = ("member_seq", "poss_dup", "time_ns", "request_id", "order_id", "client_order_id", "code", "text")
    MEMBER_SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    member_seq: int
    poss_dup: bool
    time_ns: int
    request_id: int
    order_id: int
    client_order_id: str
    code: int
    text: str
    def __init__(self, member_seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., time_ns: _Optional[int] = ..., request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., code: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class MarketDataSubscribe(_message.Message):
    __slots__ = ("request_id", "symbol", "depth")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    depth: int
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class MarketDataUnsubscribe(_message.Message):
    __slots__ = ("request_id", "symbol")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ...) -> None: ...

class Level(_message.Message):
    __slots__ = ("price_ticks", "qty", "order_count")
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    price_ticks: int
    qty: int
    order_count: int
    def __init__(self, price_ticks: _Optional[int] = ..., qty: _Optional[int] = ..., order_count: _Optional[int] = ...) -> None: ...

class MarketDataSnapshot(_message.Message):
    __slots__ = ("request_id", "symbol", "book_seq", "bids", "asks", "status")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BOOK_SEQ_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    book_seq: int
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    status: InstrumentStatus
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ..., book_seq: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., status: _Optional[_Union[InstrumentStatus, str]] = ...) -> None: ...

class LevelChange(_message.Message):
    __slots__ = ("side", "price_ticks", "qty", "order_count")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    side: Side
    price_ticks: int
    qty: int
    order_count: int
    def __init__(self, side: _Optional[_Union[Side, str]] = ..., price_ticks: _Optional[int] = ..., qty: _Optional[int] = ..., order_count: _Optional[int] = ...) -> None: ...

class MarketDataIncremental(_message.Message):
    __slots__ = ("symbol", "book_seq", "changes", "time_ns")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BOOK_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    book_seq: int
    changes: _containers.RepeatedCompositeFieldContainer[LevelChange]
    time_ns: int
    def __init__(self, symbol: _Optional[str] = ..., book_seq: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[LevelChange, _Mapping]]] = ..., time_ns: _Optional[int] = ...) -> None: ...

class TradePrint(_message.Message):
    __slots__ = ("symbol", "trade_id", "price_ticks", "qty", "aggressor_side", "book_seq", "time_ns")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    AGGRESSOR_SIDE_FIELD_NUMBER: _ClassVar[int]
    BOOK_SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    trade_id: int
    price_ticks: int
    qty: int
    aggressor_side: Side
    book_seq: int
    time_ns: int
    def __init__(self, symbol: _Optional[str] = ..., trade_id: _Optional[int] = ..., price_ticks: _Optional[int] = ..., qty: _Optional[int] = ..., aggressor_side: _Optional[_Union[Side, str]] = ..., book_seq: _Optional[int] = ..., time_ns: _Optional[int] = ...) -> None: ...
