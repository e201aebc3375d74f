"""The TLX venue's application layer: FIX-like messages <-> engine operations.

Orders (D, F, G, q, H), reference data (x) and market data (V) in; execution reports (8, 9,
r), security lists and status (y, f) and market data (W, X, Y) out, translated from the hub's
member events and market data. Sequencing, resend and logon are the session layer's
(``tlx_session.py``); user-defined tags (>= 5000) are kept per order here, in the member's
state, and echoed on every report of the order (docs/exchange-protocol.md §2.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from compat.exchange import codes
from compat.exchange.events import (
    BUY,
    DAY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MAKER,
    MARKET,
    REASON_USER,
    SELL,
    BookUpdate,
    CancelRejected,
    MemberEvent,
    OrderAccepted,
    OrderCancelled,
    OrderFill,
    OrderRejected,
    OrderReplaced,
    ReplaceRejected,
    StatusChange,
    TradePrint,
)
from compat.exchange.hub import Hub
from compat.exchange.instruments import InstrumentSpec
from compat.exchange.venues.base import Venue
from compat.exchange.venues.tlx_codec import TlxMessage
from compat.exchange.venues.tlx_session import SessionState, TlxSessionLayer, drop_oldest, is_number, session_reject
from compat.exchange.venues.tlx_tags import USER_TAG_MIN, RejectReason, Tag

SIDES = {"1": BUY, "2": SELL}
SIDE_TEXT = {BUY: "1", SELL: "2"}
ORD_TYPES = {"1": MARKET, "2": LIMIT}
ORD_TYPE_TEXT = {MARKET: "1", LIMIT: "2"}
TIFS = {"0": DAY, "1": GTC, "3": IOC, "4": FOK}
TIF_TEXT = {DAY: "0", GTC: "1", IOC: "3", FOK: "4"}
ORD_STATUS_TEXT = {1: "0", 2: "1", 3: "2", 4: "4", 5: "8"}  # OrderView.state -> OrdStatus (39)


@dataclass
class TlxMemberState(SessionState):
    """A member's session state plus what the application keeps across its connections."""

    next_request_id: int = 1
    # request_id -> (ClOrdID, OrigClOrdID): the latest ``retention`` requests (the events that
    # name older ones have left the member stream too, so nothing renders them again)
    requests: dict[int, tuple[str, str]] = field(default_factory=dict)
    tags_by_request: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    tags_by_order: dict[int, list[tuple[int, str]]] = field(default_factory=dict)


class TlxVenue(Venue["TlxSession"]):
    """Live TLX sessions, and every member's state (for the life of the process)."""

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.members: dict[str, TlxMemberState] = {}

    def protocol_factory(self) -> TlxSession:
        return TlxSession(self)


class TlxSession(TlxSessionLayer):
    venue: TlxVenue
    state: TlxMemberState | None
    handlers: ClassVar[dict[str, str]] = {
        **TlxSessionLayer.handlers,
        "D": "_on_new_order",
        "F": "_on_cancel",
        "G": "_on_replace",
        "q": "_on_mass_cancel",
        "H": "_on_order_status",
        "x": "_on_security_list",
        "V": "_on_market_data_request",
    }

    def __init__(self, venue: TlxVenue) -> None:
        super().__init__(venue)
        self.md_ids: dict[str, str] = {}  # symbol -> MDReqID
        self.pending_trades: dict[str, list[TradePrint]] = {}

    def _member_state(self, member: str) -> TlxMemberState:
        return self.venue.members.setdefault(member, TlxMemberState())

    # ------------------------------------------------------------------ application messages

    def _new_request(self, clordid: str, orig: str, tags: list[tuple[int, str]]) -> int:
        state = self.state
        assert state is not None
        request_id = state.next_request_id
        state.next_request_id += 1
        requests = state.requests
        requests[request_id] = (clordid, orig)
        if len(requests) > 2 * state.retention:
            drop_oldest(requests, len(requests) - state.retention)
        if tags:
            state.tags_by_request[request_id] = tags
        return request_id

    @staticmethod
    def _user_tags(message: TlxMessage) -> list[tuple[int, str]]:
        return [(t, v) for t, v in message.fields if t >= USER_TAG_MIN]

    @staticmethod
    def _require(message: TlxMessage, *tags: int) -> None:
        for tag in tags:
            if not message.get(tag):
                raise session_reject(
                    RejectReason.REQUIRED_TAG_MISSING, tag, f"tag {tag} is required for MsgType {message.msg_type}"
                )

    @staticmethod
    def _int(message: TlxMessage, tag: int) -> int:
        text = message.get(tag) or ""
        if not (is_number(text) or (text.startswith("-") and is_number(text[1:]))):
            raise session_reject(RejectReason.INCORRECT_DATA_FORMAT, tag, f"tag {tag} must be an integer, got {text!r}")
        return int(text)

    def _price(self, message: TlxMessage, spec: InstrumentSpec | None) -> int | None:
        """Ticks for tag 44; None = not on tick. Unknown instrument: 0 (the engine rejects)."""
        text = message.get(Tag.PRICE) or ""
        if spec is None:
            return 0
        try:
            return spec.parse_price(text)
        except ValueError:
            raise session_reject(
                RejectReason.INCORRECT_DATA_FORMAT, Tag.PRICE, f"Price (44) must be a decimal number, got {text!r}"
            ) from None

    def _on_new_order(self, message: TlxMessage) -> None:
        assert self.member is not None and self.state is not None
        self._require(message, Tag.CL_ORD_ID, Tag.SYMBOL, Tag.SIDE, Tag.ORDER_QTY, Tag.ORD_TYPE)
        clordid = message.get(Tag.CL_ORD_ID) or ""
        symbol = message.get(Tag.SYMBOL) or ""
        qty = self._int(message, Tag.ORDER_QTY)
        order_type = ORD_TYPES.get(message.get(Tag.ORD_TYPE) or "", 0)
        side = SIDES.get(message.get(Tag.SIDE) or "", 0)
        tif_text = message.get(Tag.TIME_IN_FORCE)
        tif = GTC if tif_text is None else TIFS.get(tif_text, -1)
        request_id = self._new_request(clordid, "", self._user_tags(message))
        spec = self.hub.spec(symbol)
        price = 0
        if order_type == LIMIT:
            self._require(message, Tag.PRICE)
            parsed = self._price(message, spec)
            if parsed is None:
                assert spec is not None
                self.hub.reject_order(
                    self.member,
                    request_id,
                    clordid,
                    symbol,
                    codes.PRICE_NOT_ON_TICK,
                    f"price {message.get(Tag.PRICE)} is not a multiple of the tick {spec.tick_size}",
                )
                return
            price = parsed
        if tif == FOK and self.state.begin == "TLX.1":
            self.hub.reject_order(
                self.member,
                request_id,
                clordid,
                symbol,
                codes.INVALID_TIF,
                "FOK (59=4) needs BeginString TLX.2",
            )
            return
        self.hub.new_order(self.member, request_id, clordid, symbol, side, order_type, tif, qty, price)

    def _target(self, message: TlxMessage) -> tuple[int, str]:
        if message.get(Tag.ORDER_ID):
            return self._int(message, Tag.ORDER_ID), message.get(Tag.ORIG_CL_ORD_ID) or ""
        self._require(message, Tag.ORIG_CL_ORD_ID)
        return 0, message.get(Tag.ORIG_CL_ORD_ID) or ""

    def _on_cancel(self, message: TlxMessage) -> None:
        assert self.member is not None
        self._require(message, Tag.CL_ORD_ID)
        order_id, orig = self._target(message)
        request_id = self._new_request(message.get(Tag.CL_ORD_ID) or "", orig, self._user_tags(message))
        self.hub.cancel(self.member, request_id, order_id, orig if not order_id else "", message.get(Tag.SYMBOL) or "")

    def _on_replace(self, message: TlxMessage) -> None:
        assert self.member is not None
        self._require(message, Tag.CL_ORD_ID)
        order_id, orig = self._target(message)
        new_clordid = message.get(Tag.CL_ORD_ID) or ""
        request_id = self._new_request(new_clordid, orig, self._user_tags(message))
        qty = self._int(message, Tag.ORDER_QTY) if message.has(Tag.ORDER_QTY) else None
        price: int | None = None
        if message.has(Tag.PRICE):
            views = self.hub.order_status(self.member, order_id, orig, "")
            spec = self.hub.spec(views[0].symbol) if views else self.hub.spec(message.get(Tag.SYMBOL) or "")
            parsed = self._price(message, spec)
            if parsed is None:
                assert spec is not None
                self.hub.reject_amend(
                    self.member,
                    request_id,
                    order_id,
                    orig,
                    new_clordid,
                    codes.PRICE_NOT_ON_TICK,
                    f"price {message.get(Tag.PRICE)} is not a multiple of the tick {spec.tick_size}",
                )
                return
            price = parsed or None
        self.hub.amend(self.member, request_id, order_id, orig if not order_id else "", new_clordid, qty, price)

    def _on_mass_cancel(self, message: TlxMessage) -> None:
        assert self.member is not None
        self._require(message, Tag.CL_ORD_ID, Tag.MASS_CANCEL_REQUEST_TYPE)
        kind = message.get(Tag.MASS_CANCEL_REQUEST_TYPE)
        if kind not in ("1", "7"):
            raise session_reject(
                RejectReason.VALUE_INCORRECT,
                Tag.MASS_CANCEL_REQUEST_TYPE,
                "MassCancelRequestType (530) must be 1 (by symbol) or 7 (all)",
            )
        symbol = message.get(Tag.SYMBOL) or "" if kind == "1" else ""
        if kind == "1" and not symbol:
            raise session_reject(RejectReason.REQUIRED_TAG_MISSING, Tag.SYMBOL, "Symbol (55) is required when 530=1")
        request_id = self._new_request(message.get(Tag.CL_ORD_ID) or "", "", [])
        code, count = self.hub.mass_cancel(self.member, request_id, symbol)
        body = [
            (Tag.CL_ORD_ID, message.get(Tag.CL_ORD_ID) or ""),
            (Tag.MASS_CANCEL_REQUEST_TYPE, kind),
            (Tag.MASS_CANCEL_RESPONSE, "0" if code else kind),
            (Tag.TOTAL_AFFECTED_ORDERS, str(count)),
        ]
        if symbol:
            body.append((Tag.SYMBOL, symbol))
        if code:
            body += [(Tag.TEXT, f"unknown instrument {symbol!r}"), (Tag.RESULT_CODE, str(code))]
        self.send_app("r", body)

    def _on_order_status(self, message: TlxMessage) -> None:
        assert self.member is not None
        order_id = self._int(message, Tag.ORDER_ID) if message.get(Tag.ORDER_ID) else 0
        views = self.hub.order_status(
            self.member, order_id, message.get(Tag.CL_ORD_ID) or "", message.get(Tag.SYMBOL) or ""
        )
        req = message.get(Tag.ORD_STATUS_REQ_ID) or ""
        if not views:
            self.send_app(
                "8",
                [
                    (Tag.ORD_STATUS_REQ_ID, req),
                    (Tag.TOT_NUM_REPORTS, "0"),
                    (Tag.ORDER_ID, str(order_id)),
                    (Tag.CL_ORD_ID, message.get(Tag.CL_ORD_ID) or ""),
                    (Tag.EXEC_TYPE, "I"),
                    (Tag.ORD_STATUS, "8"),
                    (Tag.TEXT, "no such order"),
                    (Tag.RESULT_CODE, str(codes.UNKNOWN_ORDER)),
                ],
            )
            return
        for view in views:
            spec = self.hub.spec(view.symbol)
            status = ORD_STATUS_TEXT.get(view.state, "0")
            body = [
                (Tag.ORD_STATUS_REQ_ID, req),
                (Tag.TOT_NUM_REPORTS, str(len(views))),
                (Tag.ORDER_ID, str(view.order_id)),
                (Tag.CL_ORD_ID, view.client_order_id),
                (Tag.EXEC_ID, f"S{view.order_id}"),
                (Tag.EXEC_TYPE, "I"),
                (Tag.ORD_STATUS, status),
                (Tag.SYMBOL, view.symbol),
                (Tag.SIDE, SIDE_TEXT.get(view.side, "0")),
                (Tag.ORDER_QTY, str(view.qty)),
                (Tag.ORD_TYPE, ORD_TYPE_TEXT.get(view.order_type, "0")),
                (Tag.TIME_IN_FORCE, TIF_TEXT.get(view.tif, "1")),
                (Tag.LEAVES_QTY, str(view.leaves_qty)),
                (Tag.CUM_QTY, str(view.cum_qty)),
            ]
            if view.order_type == LIMIT and spec is not None:
                body.append((Tag.PRICE, spec.format_price(view.price_ticks)))
            self.send_app("8", body)

    def _on_security_list(self, message: TlxMessage) -> None:
        body: list[tuple[int, str]] = [
            (Tag.SECURITY_REQ_ID, message.get(Tag.SECURITY_REQ_ID) or ""),
            (Tag.NO_RELATED_SYM, "0"),
        ]
        instruments = self.hub.instruments()
        body[1] = (Tag.NO_RELATED_SYM, str(len(instruments)))
        for spec, status in instruments:
            body += [
                (Tag.SYMBOL, spec.symbol),
                (Tag.SECURITY_DESC, spec.description),
                (Tag.CURRENCY, spec.currency),
                (Tag.MIN_PRICE_INCREMENT, str(spec.tick_size)),
                (Tag.PRICE_SCALE, str(spec.price_scale)),
                (Tag.TICK_SIZE_UNITS, str(spec.tick_size_units)),
                (Tag.LOT_SIZE, str(spec.lot_size)),
                (Tag.MAX_ORDER_QTY, str(spec.max_order_qty)),
                (Tag.INSTRUMENT_STATUS, str(status)),
            ]
        self.send_app("y", body)

    def _on_market_data_request(self, message: TlxMessage) -> None:
        self._require(message, Tag.MD_REQ_ID, Tag.SUBSCRIPTION_REQUEST_TYPE, Tag.SYMBOL)
        req_id = message.get(Tag.MD_REQ_ID) or ""
        symbol = message.get(Tag.SYMBOL) or ""
        kind = message.get(Tag.SUBSCRIPTION_REQUEST_TYPE)
        if kind == "2":
            self.hub.unsubscribe(symbol, self)
            self.md_ids.pop(symbol, None)
            return
        if kind != "1":
            raise session_reject(
                RejectReason.VALUE_INCORRECT,
                Tag.SUBSCRIPTION_REQUEST_TYPE,
                "SubscriptionRequestType (263) must be 1 or 2",
            )
        snapshot = self.hub.subscribe(symbol, self)
        spec = self.hub.spec(symbol)
        if snapshot is None or spec is None:
            self.send_app(
                "Y",
                [
                    (Tag.MD_REQ_ID, req_id),
                    (Tag.MD_REQ_REJ_REASON, "0"),
                    (Tag.TEXT, f"unknown instrument {symbol!r}"),
                    (Tag.RESULT_CODE, str(codes.UNKNOWN_INSTRUMENT)),
                ],
            )
            return
        self.md_ids[symbol] = req_id
        self.pending_trades.pop(symbol, None)
        body = [
            (Tag.MD_REQ_ID, req_id),
            (Tag.SYMBOL, symbol),
            (Tag.RPT_SEQ, str(snapshot.book_seq)),
            (Tag.NO_MD_ENTRIES, str(len(snapshot.bids) + len(snapshot.asks))),
        ]
        for entry_type, levels in (("0", snapshot.bids), ("1", snapshot.asks)):
            for price, qty, count in levels:
                body += [
                    (Tag.MD_ENTRY_TYPE, entry_type),
                    (Tag.MD_ENTRY_PX, spec.format_price(price)),
                    (Tag.MD_ENTRY_SIZE, str(qty)),
                    (Tag.NUMBER_OF_ORDERS, str(count)),
                ]
        self.send_app("W", body)

    # ------------------------------------------------------------------ hub callbacks

    def on_member_event(self, event: MemberEvent) -> None:
        state = self.state
        if state is None or event.member_seq <= state.delivered_member_seq:
            return
        state.delivered_member_seq = event.member_seq
        message = self._execution_message(state, event)
        if message is not None:
            self.send_app(*message)

    def resend_member_event(self, event: MemberEvent) -> None:
        state = self.state
        if state is None:
            return
        message = self._execution_message(state, event)
        if message is not None:
            msg_type, body = message
            self.send_app(msg_type, [(Tag.POSS_RESEND, "Y"), *body])

    def _execution_message(
        self, state: TlxMemberState, event: MemberEvent
    ) -> tuple[str, list[tuple[int, str]]] | None:
        """The ExecutionReport (8) or OrderCancelReject (9) of a member event."""
        spec = self.hub.spec(getattr(event, "symbol", ""))
        px = spec.format_price if spec is not None else str
        request = state.requests.get(getattr(event, "request_id", 0))
        if isinstance(event, OrderAccepted | OrderRejected):
            tags = state.tags_by_request.pop(event.request_id, [])
            if isinstance(event, OrderAccepted) and tags:
                state.tags_by_order[event.order_id] = tags
            elif isinstance(event, OrderAccepted):  # sent before: its tags moved to the order
                tags = state.tags_by_order.get(event.order_id, [])
        else:
            order_id = getattr(event, "order_id", 0)
            update = state.tags_by_request.pop(getattr(event, "request_id", 0), None)
            if update:
                merged = dict(state.tags_by_order.get(order_id, []))
                merged.update(update)
                state.tags_by_order[order_id] = sorted(merged.items())
            tags = state.tags_by_order.get(order_id, [])
        common = [(Tag.MEMBER_SEQ, str(event.member_seq))]
        if isinstance(event, OrderAccepted):
            body = [
                (Tag.ORDER_ID, str(event.order_id)),
                (Tag.CL_ORD_ID, event.client_order_id),
                (Tag.EXEC_ID, f"E{event.member_seq}"),
                (Tag.EXEC_TYPE, "0"),
                (Tag.ORD_STATUS, "0"),
                (Tag.SYMBOL, event.symbol),
                (Tag.SIDE, SIDE_TEXT[event.side]),
                (Tag.ORDER_QTY, str(event.qty)),
                (Tag.ORD_TYPE, ORD_TYPE_TEXT[event.order_type]),
            ]
            if event.order_type == LIMIT:
                body.append((Tag.PRICE, px(event.price_ticks)))
            body += [
                (Tag.TIME_IN_FORCE, TIF_TEXT[event.tif]),
                (Tag.LEAVES_QTY, str(event.leaves_qty)),
                (Tag.CUM_QTY, "0"),
            ]
            return "8", body + common + tags
        elif isinstance(event, OrderFill):
            body = [
                (Tag.ORDER_ID, str(event.order_id)),
                (Tag.CL_ORD_ID, event.client_order_id),
                (Tag.EXEC_ID, f"E{event.member_seq}"),
                (Tag.EXEC_TYPE, "F"),
                (Tag.ORD_STATUS, "2" if event.leaves_qty == 0 else "1"),
                (Tag.SYMBOL, event.symbol),
                (Tag.SIDE, SIDE_TEXT[event.side]),
                (Tag.ORDER_QTY, str(event.leaves_qty + event.cum_qty)),
                (Tag.LAST_QTY, str(event.qty)),
                (Tag.LAST_PX, px(event.price_ticks)),
                (Tag.LEAVES_QTY, str(event.leaves_qty)),
                (Tag.CUM_QTY, str(event.cum_qty)),
                (Tag.TRD_MATCH_ID, str(event.trade_id)),
                (Tag.AGGRESSOR_INDICATOR, "N" if event.liquidity == MAKER else "Y"),
            ]
            return "8", body + common + tags
        elif isinstance(event, OrderCancelled):
            # 11 is the cancel request's ClOrdID for a user cancel, else the order's own.
            if event.reason == REASON_USER and request is not None and request[0] != event.client_order_id:
                clordid, orig = request[0], event.client_order_id
            else:
                clordid, orig = event.client_order_id, ""
            body = [(Tag.ORDER_ID, str(event.order_id)), (Tag.CL_ORD_ID, clordid)]
            if orig:
                body.append((Tag.ORIG_CL_ORD_ID, orig))
            body += [
                (Tag.EXEC_ID, f"E{event.member_seq}"),
                (Tag.EXEC_TYPE, "4"),
                (Tag.ORD_STATUS, "4"),
                (Tag.SYMBOL, event.symbol),
                (Tag.LEAVES_QTY, "0"),
                (Tag.CUM_QTY, str(event.cum_qty)),
                (Tag.CANCEL_REASON, str(event.reason)),
            ]
            return "8", body + common + tags
        elif isinstance(event, OrderRejected):
            body = [
                (Tag.ORDER_ID, "0"),
                (Tag.CL_ORD_ID, event.client_order_id),
                (Tag.EXEC_ID, f"E{event.member_seq}"),
                (Tag.EXEC_TYPE, "8"),
                (Tag.ORD_STATUS, "8"),
                (Tag.SYMBOL, event.symbol),
                (Tag.LEAVES_QTY, "0"),
                (Tag.CUM_QTY, "0"),
                (Tag.TEXT, event.text),
                (Tag.RESULT_CODE, str(event.code)),
            ]
            return "8", body + common + tags
        elif isinstance(event, OrderReplaced):
            body = [
                (Tag.ORDER_ID, str(event.order_id)),
                (Tag.CL_ORD_ID, event.client_order_id),
                (Tag.ORIG_CL_ORD_ID, event.orig_client_order_id),
                (Tag.EXEC_ID, f"E{event.member_seq}"),
                (Tag.EXEC_TYPE, "5"),
                (Tag.ORD_STATUS, "1" if event.cum_qty else "0"),
                (Tag.SYMBOL, event.symbol),
                (Tag.ORDER_QTY, str(event.qty)),
                (Tag.PRICE, px(event.price_ticks)),
                (Tag.LEAVES_QTY, str(event.leaves_qty)),
                (Tag.CUM_QTY, str(event.cum_qty)),
            ]
            return "8", body + common + tags
        elif isinstance(event, ReplaceRejected | CancelRejected):
            clordid, orig = request if request is not None else (event.client_order_id, event.client_order_id)
            body = [
                (Tag.ORDER_ID, str(event.order_id)),
                (Tag.CL_ORD_ID, clordid),
                (Tag.ORIG_CL_ORD_ID, orig or event.client_order_id),
                (Tag.ORD_STATUS, "8" if event.code == codes.UNKNOWN_ORDER else "0"),
                (Tag.CXL_REJ_RESPONSE_TO, "2" if isinstance(event, ReplaceRejected) else "1"),
                (Tag.TEXT, event.text),
                (Tag.RESULT_CODE, str(event.code)),
            ]
            return "9", body + common
        return None

    def on_trade(self, event: TradePrint) -> None:
        self.pending_trades.setdefault(event.symbol, []).append(event)

    def on_book_update(self, event: BookUpdate) -> None:
        spec = self.hub.spec(event.symbol)
        if spec is None:
            return
        trades = self.pending_trades.pop(event.symbol, [])
        body = [
            (Tag.MD_REQ_ID, self.md_ids.get(event.symbol, "")),
            (Tag.SYMBOL, event.symbol),
            (Tag.RPT_SEQ, str(event.book_seq)),
            (Tag.NO_MD_ENTRIES, str(len(trades) + len(event.changes))),
        ]
        for trade in trades:
            body += [
                (Tag.MD_UPDATE_ACTION, "0"),
                (Tag.MD_ENTRY_TYPE, "2"),
                (Tag.MD_ENTRY_PX, spec.format_price(trade.price_ticks)),
                (Tag.MD_ENTRY_SIZE, str(trade.qty)),
                (Tag.TRADE_ID, str(trade.trade_id)),
                (Tag.AGGRESSOR_SIDE, SIDE_TEXT[trade.aggressor_side]),
            ]
        for side, price, qty, count in event.changes:
            body += [
                (Tag.MD_UPDATE_ACTION, "2" if qty == 0 else "1"),
                (Tag.MD_ENTRY_TYPE, "0" if side == BUY else "1"),
                (Tag.MD_ENTRY_PX, spec.format_price(price)),
                (Tag.MD_ENTRY_SIZE, str(qty)),
                (Tag.NUMBER_OF_ORDERS, str(count)),
            ]
        self.send_app("X", body)

    def on_status(self, event: StatusChange) -> None:
        self.send_app("f", [(Tag.SYMBOL, event.symbol), (Tag.INSTRUMENT_STATUS, str(event.status))])
