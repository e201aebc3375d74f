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
    LOGOUT: _ClassVar[MessageType]
    HEARTBEAT: _ClassVar[MessageType]
    INSTRUMENTS_REQUEST: _ClassVar[MessageType]
    INSTRUMENTS_RESPONSE: _ClassVar[MessageType]
    INSERT_ORDER: _ClassVar[MessageType]
    CANCEL_ORDER: _ClassVar[MessageType]
    EXECUTION_REPORT: _ClassVar[MessageType]
    SUBSCRIBE: _ClassVar[MessageType]
    TOP_OF_BOOK: _ClassVar[MessageType]
    BOOK_SNAPSHOT: _ClassVar[MessageType]
    BOOK_INCREMENTAL: _ClassVar[MessageType]
    REJECT: _ClassVar[MessageType]
    AMEND_ORDER: _ClassVar[MessageType]
    MASS_CANCEL_ACK: _ClassVar[MessageType]
    MASS_CANCEL: _ClassVar[MessageType]
    INSTRUMENT_STATUS: _ClassVar[MessageType]
    TRADE_REPORT: _ClassVar[MessageType]

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    BUY: _ClassVar[Side]
    SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIMIT: _ClassVar[OrderType]
    MARKET: _ClassVar[OrderType]

class ExecType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXEC_TYPE_UNSPECIFIED: _ClassVar[ExecType]
    ACCEPTED: _ClassVar[ExecType]
    FILL: _ClassVar[ExecType]
    CANCELLED: _ClassVar[ExecType]
    REJECTED: _ClassVar[ExecType]
    REPLACED: _ClassVar[ExecType]
    ORDER_STATUS: _ClassVar[ExecType]

class CancelReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCEL_REASON_UNSPECIFIED: _ClassVar[CancelReason]
    USER: _ClassVar[CancelReason]
    IOC_REMAINDER: _ClassVar[CancelReason]
    FOK_KILL: _ClassVar[CancelReason]
    MASS: _ClassVar[CancelReason]
    HALT: _ClassVar[CancelReason]
    EXCHANGE: _ClassVar[CancelReason]

class RejectCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_CODE_UNSPECIFIED: _ClassVar[RejectCode]
    UNKNOWN_INSTRUMENT: _ClassVar[RejectCode]
    INVALID_QUANTITY: _ClassVar[RejectCode]
    PRICE_NOT_ON_TICK: _ClassVar[RejectCode]
    RISK_REJECT: _ClassVar[RejectCode]
    THROTTLED: _ClassVar[RejectCode]
    UNKNOWN_ORDER: _ClassVar[RejectCode]
    EXCHANGE_REJECT: _ClassVar[RejectCode]
    AUTH_FAILED: _ClassVar[RejectCode]
    NOT_LOGGED_ON: _ClassVar[RejectCode]
    INVALID_PRICE: _ClassVar[RejectCode]
    NO_LIQUIDITY: _ClassVar[RejectCode]
    RISK_MAX_QUANTITY: _ClassVar[RejectCode]
    RISK_NOTIONAL: _ClassVar[RejectCode]
    RISK_OUTSTANDING_QUANTITY: _ClassVar[RejectCode]
    RISK_PRICE_COLLAR: _ClassVar[RejectCode]
    UNSUPPORTED_MESSAGE_TYPE: _ClassVar[RejectCode]
    MALFORMED_MESSAGE: _ClassVar[RejectCode]
    UNSUPPORTED_TIME_IN_FORCE: _ClassVar[RejectCode]
    UNSUPPORTED_PROTOCOL_VERSION: _ClassVar[RejectCode]
    DUPLICATE_CLORDID_REPLAYED: _ClassVar[RejectCode]
    RESUME_GAP: _ClassVar[RejectCode]
    UNKNOWN_SESSION: _ClassVar[RejectCode]
    INSTRUMENT_HALTED: _ClassVar[RejectCode]
    QTY_OUT_OF_RANGE: _ClassVar[RejectCode]

class TimeInForce(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GTC: _ClassVar[TimeInForce]
    DAY: _ClassVar[TimeInForce]
    IOC: _ClassVar[TimeInForce]
    FOK: _ClassVar[TimeInForce]

class Liquidity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIQUIDITY_UNSPECIFIED: _ClassVar[Liquidity]
    MAKER: _ClassVar[Liquidity]
    TAKER: _ClassVar[Liquidity]

class InstrumentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTRUMENT_STATE_UNSPECIFIED: _ClassVar[InstrumentState]
    PRE_OPEN: _ClassVar[InstrumentState]
    OPEN: _ClassVar[InstrumentState]
    HALTED: _ClassVar[InstrumentState]
    CLOSED: _ClassVar[InstrumentState]
MESSAGE_TYPE_UNSPECIFIED: MessageType
LOGON_REQUEST: MessageType
LOGON_RESPONSE: MessageType
LOGOUT: MessageType
HEARTBEAT: MessageType
INSTRUMENTS_REQUEST: MessageType
INSTRUMENTS_RESPONSE: MessageType
INSERT_ORDER: MessageType
CANCEL_ORDER: MessageType
EXECUTION_REPORT: MessageType
SUBSCRIBE: MessageType
TOP_OF_BOOK: MessageType
BOOK_SNAPSHOT: MessageType
BOOK_INCREMENTAL: MessageType
REJECT: MessageType
AMEND_ORDER: MessageType
MASS_CANCEL_ACK: MessageType
MASS_CANCEL: MessageType
INSTRUMENT_STATUS: MessageType
TRADE_REPORT: MessageType
SIDE_UNSPECIFIED: Side
BUY: Side
SELL: Side
LIMIT: OrderType
MARKET: OrderType
EXEC_TYPE_UNSPECIFIED: ExecType
ACCEPTED: ExecType
FILL: ExecType
CANCELLED: ExecType
REJECTED: ExecType
REPLACED: ExecType
ORDER_STATUS: ExecType
CANCEL_REASON_UNSPECIFIED: CancelReason
USER: CancelReason
IOC_REMAINDER: CancelReason
FOK_KILL: CancelReason
MASS: CancelReason
HALT: CancelReason
EXCHANGE: CancelReason
REJECT_CODE_UNSPECIFIED: RejectCode
UNKNOWN_INSTRUMENT: RejectCode
INVALID_QUANTITY: RejectCode
PRICE_NOT_ON_TICK: RejectCode
RISK_REJECT: RejectCode
THROTTLED: RejectCode
UNKNOWN_ORDER: RejectCode
EXCHANGE_REJECT: RejectCode
AUTH_FAILED: RejectCode
NOT_LOGGED_ON: RejectCode
INVALID_PRICE: RejectCode
NO_LIQUIDITY: RejectCode
RISK_MAX_QUANTITY: RejectCode
RISK_NOTIONAL: RejectCode
RISK_OUTSTANDING_QUANTITY: RejectCode
RISK_PRICE_COLLAR: RejectCode
UNSUPPORTED_MESSAGE_TYPE: RejectCode
MALFORMED_MESSAGE: RejectCode
UNSUPPORTED_TIME_IN_FORCE: RejectCode
UNSUPPORTED_PROTOCOL_VERSION: RejectCode
DUPLICATE_CLORDID_REPLAYED: RejectCode
RESUME_GAP: RejectCode
UNKNOWN_SESSION: RejectCode
INSTRUMENT_HALTED: RejectCode
QTY_OUT_OF_RANGE: RejectCode
GTC: TimeInForce
DAY: TimeInForce
IOC: TimeInForce
FOK: TimeInForce
LIQUIDITY_UNSPECIFIED: Liquidity
MAKER: Liquidity
TAKER: Liquidity
INSTRUMENT_STATE_UNSPECIFIED: InstrumentState
PRE_OPEN: InstrumentState
OPEN: InstrumentState
HALTED: InstrumentState
CLOSED: InstrumentState

class LogonRequest(_message.Message):
    __slots__ = ("request_id", "username", "password", "protocol_min", "protocol_max", "client_name", "client_version", "capabilities", "session_id", "resume_from_seq", "heartbeat_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_MIN_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_MAX_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    username: str
    password: str
    protocol_min: int
    protocol_max: int
    client_name: str
    client_version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    session_id: str
    resume_from_seq: int
    heartbeat_ms: int
    def __init__(self, request_id: _Optional[int] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., protocol_min: _Optional[int] = ..., protocol_max: _Optional[int] = ..., client_name: _Optional[str] = ..., client_version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., session_id: _Optional[str] = ..., resume_from_seq: _Optional[int] = ..., heartbeat_ms: _Optional[int] = ...) -> None: ...

class LogonResponse(_message.Message):
    __slots__ = ("request_id", "error_message", "error_code", "negotiated_version", "gateway_version", "capabilities", "supported_min", "supported_max", "session_id", "next_outbound_seq", "throttle_limit", "throttle_window_ms", "heartbeat_ms", "resumed", "replay_count", "resume_gap")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATED_VERSION_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_MIN_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_MAX_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_OUTBOUND_SEQ_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    REPLAY_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESUME_GAP_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    error_message: str
    error_code: RejectCode
    negotiated_version: int
    gateway_version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    supported_min: int
    supported_max: int
    session_id: str
    next_outbound_seq: int
    throttle_limit: int
    throttle_window_ms: int
    heartbeat_ms: int
    resumed: bool
    replay_count: int
    resume_gap: bool
    def __init__(self, request_id: _Optional[int] = ..., error_message: _Optional[str] = ..., error_code: _Optional[_Union[RejectCode, str]] = ..., negotiated_version: _Optional[int] = ..., gateway_version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., supported_min: _Optional[int] = ..., supported_max: _Optional[int] = ..., session_id: _Optional[str] = ..., next_outbound_seq: _Optional[int] = ..., throttle_limit: _Optional[int] = ..., throttle_window_ms: _Optional[int] = ..., heartbeat_ms: _Optional[int] = ..., resumed: _Optional[bool] = ..., replay_count: _Optional[int] = ..., resume_gap: _Optional[bool] = ...) -> None: ...

class Logout(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    def __init__(self, request_id: _Optional[int] = ...) -> None: ...

class InstrumentsRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    def __init__(self, request_id: _Optional[int] = ...) -> None: ...

class Instrument(_message.Message):
    __slots__ = ("symbol", "description", "lot_size", "max_order_qty", "status", "currency", "tick_size_units", "price_scale")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_QTY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_UNITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_SCALE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    description: str
    lot_size: int
    max_order_qty: int
    status: InstrumentState
    currency: str
    tick_size_units: int
    price_scale: int
    def __init__(self, symbol: _Optional[str] = ..., description: _Optional[str] = ..., lot_size: _Optional[int] = ..., max_order_qty: _Optional[int] = ..., status: _Optional[_Union[InstrumentState, str]] = ..., currency: _Optional[str] = ..., tick_size_units: _Optional[int] = ..., price_scale: _Optional[int] = ...) -> None: ...

class InstrumentsResponse(_message.Message):
    __slots__ = ("request_id", "instruments", "error_message")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    instruments: _containers.RepeatedCompositeFieldContainer[Instrument]
    error_message: str
    def __init__(self, request_id: _Optional[int] = ..., instruments: _Optional[_Iterable[_Union[Instrument, _Mapping]]] = ..., error_message: _Optional[str] = ...) -> None: ...

class InsertOrder(_message.Message):
    __slots__ = ("request_id", "symbol", "side", "qty", "order_type", "time_in_force", "price_ticks", "client_order_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    time_in_force: TimeInForce
    price_ticks: int
    client_order_id: str
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., qty: _Optional[int] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., time_in_force: _Optional[_Union[TimeInForce, str]] = ..., price_ticks: _Optional[int] = ..., client_order_id: _Optional[str] = ...) -> None: ...

class CancelOrder(_message.Message):
    __slots__ = ("request_id", "order_id", "client_order_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    order_id: int
    client_order_id: str
    def __init__(self, request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[str] = ...) -> None: ...

class ExecutionReport(_message.Message):
    __slots__ = ("request_id", "order_id", "exec_type", "symbol", "side", "qty", "leaves_qty", "cum_qty", "last_qty", "trade_id", "cancel_reason", "reject_code", "text", "exchange_order_id", "client_order_id", "seq", "poss_dup", "price_ticks", "last_price_ticks", "retry_after_ms", "priority_kept", "liquidity")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_TYPE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    LAST_QTY_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    REJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    POSS_DUP_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_KEPT_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    order_id: int
    exec_type: ExecType
    symbol: str
    side: Side
    qty: int
    leaves_qty: int
    cum_qty: int
    last_qty: int
    trade_id: str
    cancel_reason: CancelReason
    reject_code: RejectCode
    text: str
    exchange_order_id: str
    client_order_id: str
    seq: int
    poss_dup: bool
    price_ticks: int
    last_price_ticks: int
    retry_after_ms: int
    priority_kept: bool
    liquidity: Liquidity
    def __init__(self, request_id: _Optional[int] = ..., order_id: _Optional[int] = ..., exec_type: _Optional[_Union[ExecType, str]] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., qty: _Optional[int] = ..., leaves_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ..., last_qty: _Optional[int] = ..., trade_id: _Optional[str] = ..., cancel_reason: _Optional[_Union[CancelReason, str]] = ..., reject_code: _Optional[_Union[RejectCode, str]] = ..., text: _Optional[str] = ..., exchange_order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., seq: _Optional[int] = ..., poss_dup: _Optional[bool] = ..., price_ticks: _Optional[int] = ..., last_price_ticks: _Optional[int] = ..., retry_after_ms: _Optional[int] = ..., priority_kept: _Optional[bool] = ..., liquidity: _Optional[_Union[Liquidity, str]] = ...) -> None: ...

class AmendOrder(_message.Message):
    __slots__ = ("request_id", "client_order_id", "order_id", "qty", "price_ticks")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    client_order_id: str
    order_id: int
    qty: int
    price_ticks: int
    def __init__(self, request_id: _Optional[int] = ..., client_order_id: _Optional[str] = ..., order_id: _Optional[int] = ..., qty: _Optional[int] = ..., price_ticks: _Optional[int] = ...) -> None: ...

class MassCancel(_message.Message):
    __slots__ = ("request_id", "symbol")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ...) -> None: ...

class MassCancelAck(_message.Message):
    __slots__ = ("request_id", "cancelled_count", "code", "text")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    cancelled_count: int
    code: RejectCode
    text: str
    def __init__(self, request_id: _Optional[int] = ..., cancelled_count: _Optional[int] = ..., code: _Optional[_Union[RejectCode, str]] = ..., text: _Optional[str] = ...) -> None: ...

class Reject(_message.Message):
    __slots__ = ("request_id", "code", "text", "ref_message_type")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REF_MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    code: RejectCode
    text: str
    ref_message_type: int
    def __init__(self, request_id: _Optional[int] = ..., code: _Optional[_Union[RejectCode, str]] = ..., text: _Optional[str] = ..., ref_message_type: _Optional[int] = ...) -> None: ...

class Subscribe(_message.Message):
    __slots__ = ("request_id", "symbol", "depth")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    depth: int
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class TopOfBook(_message.Message):
    __slots__ = ("symbol", "bid_qty", "ask_qty", "bid_ticks", "ask_ticks")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BID_QTY_FIELD_NUMBER: _ClassVar[int]
    ASK_QTY_FIELD_NUMBER: _ClassVar[int]
    BID_TICKS_FIELD_NUMBER: _ClassVar[int]
    ASK_TICKS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    bid_qty: int
    ask_qty: int
    bid_ticks: int
    ask_ticks: int
    def __init__(self, symbol: _Optional[str] = ..., bid_qty: _Optional[int] = ..., ask_qty: _Optional[int] = ..., bid_ticks: _Optional[int] = ..., ask_ticks: _Optional[int] = ...) -> None: ...

class Level(_message.Message):
    __slots__ = ("price_ticks", "qty", "order_count")
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    price_ticks: int
    qty: int
    order_count: int
    def __init__(self, price_ticks: _Optional[int] = ..., qty: _Optional[int] = ..., order_count: _Optional[int] = ...) -> None: ...

class BookSnapshot(_message.Message):
    __slots__ = ("request_id", "symbol", "book_seq", "bids", "asks")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BOOK_SEQ_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    symbol: str
    book_seq: int
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    def __init__(self, request_id: _Optional[int] = ..., symbol: _Optional[str] = ..., book_seq: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ...) -> None: ...

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

class BookIncremental(_message.Message):
    __slots__ = ("symbol", "book_seq", "changes")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BOOK_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    book_seq: int
    changes: _containers.RepeatedCompositeFieldContainer[LevelChange]
    def __init__(self, symbol: _Optional[str] = ..., book_seq: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[LevelChange, _Mapping]]] = ...) -> None: ...

class InstrumentStatus(_message.Message):
    __slots__ = ("symbol", "status")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    status: InstrumentState
    def __init__(self, symbol: _Optional[str] = ..., status: _Optional[_Union[InstrumentState, str]] = ...) -> None: ...

class TradeReport(_message.Message):
    __slots__ = ("symbol", "trade_id", "price_ticks", "qty", "aggressor_side", "book_seq")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    AGGRESSOR_SIDE_FIELD_NUMBER: _ClassVar[int]
    BOOK_SEQ_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    trade_id: str
    price_ticks: int
    qty: int
    aggressor_side: Side
    book_seq: int
    def __init__(self, symbol: _Optional[str] = ..., trade_id: _Optional[str] = ..., price_ticks: _Optional[int] = ..., qty: _Optional[int] = ..., aggressor_side: _Optional[_Union[Side, str]] = ..., book_seq: _Optional[int] = ...) -> None: ...
