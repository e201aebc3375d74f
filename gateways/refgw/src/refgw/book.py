"""The gateway's copy of each venue book, built from the venue's snapshot + incrementals."""

from __future__ import annotations

from refgw.model import BookEvent


class Book:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book_seq = 0
        self.ready = False
        self.bids: dict[int, tuple[int, int]] = {}  # ticks -> (qty, order_count)
        self.asks: dict[int, tuple[int, int]] = {}
        self.last_trade_ticks = 0

    def apply(self, ev: BookEvent) -> None:
        if ev.snapshot:
            self.bids = {t: (q, c) for t, q, c in ev.bids}
            self.asks = {t: (q, c) for t, q, c in ev.asks}
            self.ready = True
        else:
            for side, ticks, qty, count in ev.changes:
                levels = self.bids if side == "BUY" else self.asks
                if qty == 0:
                    levels.pop(ticks, None)
                else:
                    levels[ticks] = (qty, count)
        for _, ticks, _, _ in ev.trades:
            self.last_trade_ticks = ticks
        self.book_seq = ev.book_seq

    def top(self) -> tuple[int, int, int, int]:
        """(bid_ticks, bid_qty, ask_ticks, ask_qty); zeros for an empty side."""
        bid = max(self.bids) if self.bids else 0
        ask = min(self.asks) if self.asks else 0
        return bid, self.bids[bid][0] if bid else 0, ask, self.asks[ask][0] if ask else 0
