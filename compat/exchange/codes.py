"""Result codes of the simulated exchange (docs/exchange-protocol.md §0.1).

Ranges follow exchange-core: auth -1xxx, instrument -12xx, risk/validation -2xxx,
matching -3xxx, protocol/session -4xxx. Codes <= -10000 belong to gateways.
"""

from __future__ import annotations

OK = 0

NOT_LOGGED_ON = -1001
UNKNOWN_MEMBER = -1002
BAD_TOKEN = -1003
NOT_AUTHORISED = -1004
ALREADY_LOGGED_ON = -1005

UNKNOWN_INSTRUMENT = -1201
INSTRUMENT_HALTED = -1202
INSTRUMENT_CLOSED = -1203
INSTRUMENT_NOT_OPEN = -1204
INSTRUMENT_EXISTS = -1205
INVALID_INSTRUMENT = -1206

INVALID_QTY = -2001
QTY_NOT_LOT_MULTIPLE = -2002
QTY_ABOVE_MAX = -2003
INVALID_PRICE = -2004
PRICE_NOT_ON_TICK = -2005
INVALID_SIDE = -2006
INVALID_ORDER_TYPE = -2007
INVALID_TIF = -2008
MISSING_CLIENT_ORDER_ID = -2009

NO_LIQUIDITY = -3001
UNKNOWN_ORDER = -3002
DUPLICATE_CLIENT_ORDER_ID = -3003
AMEND_QTY_TOO_LOW = -3004
NOT_AMENDABLE = -3005

MALFORMED_MESSAGE = -4001
UNKNOWN_MESSAGE_TYPE = -4002
FRAME_TOO_LARGE = -4003
BAD_FRAMING = -4004
UNEXPECTED_MESSAGE = -4005
SEQUENCE_ERROR = -4006
HEARTBEAT_TIMEOUT = -4007
SHUTTING_DOWN = -4008
SUPERSEDED = -4009

GATEWAY_RANGE_START = -10000  # codes <= this are never produced by the exchange

NAMES: dict[int, str] = {
    value: name
    for name, value in globals().items()
    if name.isupper() and isinstance(value, int) and name != "GATEWAY_RANGE_START"
}


def name_of(code: int) -> str:
    return NAMES.get(code, f"CODE_{code}")
