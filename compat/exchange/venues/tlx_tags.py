"""TLX's data dictionary: the tag numbers by name, the session reject reasons, and which tags
each message type may carry (docs/exchange-protocol.md §2).

``Tag`` and ``RejectReason`` are namespaces of plain ``int`` constants, not ``IntEnum``s, on
purpose: every outbound field names its tag, and on Python 3.11 an ``IntEnum`` member costs
about 4x a class attribute to look up and 2x an int to format, which made a TLX order round
trip ~25% slower. ``tests/exchange/test_exchange_tlx_tags.py`` checks the numbers are unique.
"""

from __future__ import annotations

from typing import Final


class Tag:
    """TLX (FIX) tag numbers by their FIX field name."""

    # header and trailer
    BEGIN_STRING: Final = 8
    BODY_LENGTH: Final = 9
    CHECK_SUM: Final = 10
    MSG_SEQ_NUM: Final = 34
    MSG_TYPE: Final = 35
    POSS_DUP_FLAG: Final = 43
    SENDER_COMP_ID: Final = 49
    SENDING_TIME: Final = 52
    TARGET_COMP_ID: Final = 56
    POSS_RESEND: Final = 97
    ORIG_SENDING_TIME: Final = 122
    # session messages
    BEGIN_SEQ_NO: Final = 7
    END_SEQ_NO: Final = 16
    NEW_SEQ_NO: Final = 36
    REF_SEQ_NUM: Final = 45
    TEXT: Final = 58
    ENCRYPT_METHOD: Final = 98
    HEART_BT_INT: Final = 108
    TEST_REQ_ID: Final = 112
    GAP_FILL_FLAG: Final = 123
    RESET_SEQ_NUM_FLAG: Final = 141
    REF_TAG_ID: Final = 371
    REF_MSG_TYPE: Final = 372
    SESSION_REJECT_REASON: Final = 373
    USERNAME: Final = 553
    PASSWORD: Final = 554
    NEXT_EXPECTED_MSG_SEQ_NUM: Final = 789
    # orders and execution reports
    CL_ORD_ID: Final = 11
    CUM_QTY: Final = 14
    EXEC_ID: Final = 17
    LAST_PX: Final = 31
    LAST_QTY: Final = 32
    ORDER_ID: Final = 37
    ORDER_QTY: Final = 38
    ORD_STATUS: Final = 39
    ORD_TYPE: Final = 40
    ORIG_CL_ORD_ID: Final = 41
    PRICE: Final = 44
    SIDE: Final = 54
    SYMBOL: Final = 55
    TIME_IN_FORCE: Final = 59
    TRANSACT_TIME: Final = 60
    EXEC_TYPE: Final = 150
    LEAVES_QTY: Final = 151
    CXL_REJ_RESPONSE_TO: Final = 434
    MASS_CANCEL_REQUEST_TYPE: Final = 530
    MASS_CANCEL_RESPONSE: Final = 531
    TOTAL_AFFECTED_ORDERS: Final = 533
    ORD_STATUS_REQ_ID: Final = 790
    TRD_MATCH_ID: Final = 880
    TOT_NUM_REPORTS: Final = 911
    AGGRESSOR_INDICATOR: Final = 1057
    # reference data
    CURRENCY: Final = 15
    SECURITY_DESC: Final = 107
    NO_RELATED_SYM: Final = 146
    SECURITY_REQ_ID: Final = 320
    SECURITY_LIST_REQUEST_TYPE: Final = 559
    MIN_PRICE_INCREMENT: Final = 969
    # market data
    RPT_SEQ: Final = 83
    MD_REQ_ID: Final = 262
    SUBSCRIPTION_REQUEST_TYPE: Final = 263
    MARKET_DEPTH: Final = 264
    MD_UPDATE_TYPE: Final = 265
    NO_MD_ENTRY_TYPES: Final = 267
    NO_MD_ENTRIES: Final = 268
    MD_ENTRY_TYPE: Final = 269
    MD_ENTRY_PX: Final = 270
    MD_ENTRY_SIZE: Final = 271
    MD_UPDATE_ACTION: Final = 279
    MD_REQ_REJ_REASON: Final = 281
    NUMBER_OF_ORDERS: Final = 346
    TRADE_ID: Final = 1003
    AGGRESSOR_SIDE: Final = 2446
    # the exchange's own (below USER_TAG_MIN)
    RESULT_CODE: Final = 4000
    MEMBER_SEQ: Final = 4001
    CANCEL_REASON: Final = 4003
    PRICE_SCALE: Final = 4010
    TICK_SIZE_UNITS: Final = 4011
    LOT_SIZE: Final = 4012
    MAX_ORDER_QTY: Final = 4013
    INSTRUMENT_STATUS: Final = 4014
    HEART_BT_INT_MS: Final = 4020  # Logon: HeartBtInt in milliseconds (overrides 108)
    RESUME_FROM_MEMBER_SEQ: Final = 4021  # Logon: member events again from this MemberSeq (97=Y)


class RejectReason:
    """SessionRejectReason (373) of a session-level Reject (35=3)."""

    REQUIRED_TAG_MISSING: Final = 1
    UNDEFINED_TAG: Final = 3
    VALUE_INCORRECT: Final = 5
    INCORRECT_DATA_FORMAT: Final = 6
    COMPID_PROBLEM: Final = 9
    INVALID_MSG_TYPE: Final = 11
    TAG_REPEATED: Final = 13


USER_TAG_MIN = 5000  # tags from here up are the member's own: stored and echoed, never validated


def _numbers(*tags: int) -> frozenset[int]:
    return frozenset(tags)


HEADER_TAGS = _numbers(
    Tag.MSG_TYPE,
    Tag.MSG_SEQ_NUM,
    Tag.SENDER_COMP_ID,
    Tag.TARGET_COMP_ID,
    Tag.SENDING_TIME,
    Tag.POSS_DUP_FLAG,
    Tag.ORIG_SENDING_TIME,
    Tag.POSS_RESEND,
)

_ORDER = (Tag.CL_ORD_ID, Tag.SYMBOL, Tag.SIDE, Tag.ORDER_QTY)

BODY_TAGS: dict[str, frozenset[int]] = {  # inbound message type -> the body tags it may carry
    "A": _numbers(
        Tag.ENCRYPT_METHOD,
        Tag.HEART_BT_INT,
        Tag.HEART_BT_INT_MS,
        Tag.RESUME_FROM_MEMBER_SEQ,
        Tag.RESET_SEQ_NUM_FLAG,
        Tag.NEXT_EXPECTED_MSG_SEQ_NUM,
        Tag.USERNAME,
        Tag.PASSWORD,
    ),
    "0": _numbers(Tag.TEST_REQ_ID),
    "1": _numbers(Tag.TEST_REQ_ID),
    "2": _numbers(Tag.BEGIN_SEQ_NO, Tag.END_SEQ_NO),
    "3": _numbers(Tag.REF_SEQ_NUM, Tag.REF_TAG_ID, Tag.REF_MSG_TYPE, Tag.SESSION_REJECT_REASON, Tag.TEXT),
    "4": _numbers(Tag.GAP_FILL_FLAG, Tag.NEW_SEQ_NO),
    "5": _numbers(Tag.TEXT),
    "D": _numbers(*_ORDER, Tag.ORD_TYPE, Tag.PRICE, Tag.TIME_IN_FORCE, Tag.TRANSACT_TIME),
    "F": _numbers(*_ORDER, Tag.ORIG_CL_ORD_ID, Tag.ORDER_ID, Tag.TRANSACT_TIME),
    "G": _numbers(
        *_ORDER,
        Tag.ORIG_CL_ORD_ID,
        Tag.ORDER_ID,
        Tag.ORD_TYPE,
        Tag.PRICE,
        Tag.TIME_IN_FORCE,
        Tag.TRANSACT_TIME,
    ),
    "q": _numbers(Tag.CL_ORD_ID, Tag.MASS_CANCEL_REQUEST_TYPE, Tag.SYMBOL, Tag.TRANSACT_TIME),
    "H": _numbers(Tag.ORD_STATUS_REQ_ID, Tag.ORDER_ID, Tag.CL_ORD_ID, Tag.SYMBOL, Tag.SIDE),
    "x": _numbers(Tag.SECURITY_REQ_ID, Tag.SECURITY_LIST_REQUEST_TYPE),
    "V": _numbers(
        Tag.MD_REQ_ID,
        Tag.SUBSCRIPTION_REQUEST_TYPE,
        Tag.MARKET_DEPTH,
        Tag.MD_UPDATE_TYPE,
        Tag.NO_RELATED_SYM,
        Tag.SYMBOL,
        Tag.NO_MD_ENTRY_TYPES,
        Tag.MD_ENTRY_TYPE,
    ),
}
