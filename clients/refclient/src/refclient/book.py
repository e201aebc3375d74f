"""The client's local order book: snapshot + incrementals, with resync on a sequence gap.

Recovery (as the exchange and ITCH-style feeds prescribe): incrementals that arrive while a
snapshot is awaited are buffered; when the snapshot (book_seq S) arrives, buffered updates with
seq <= S are dropped and the rest applied in order. A gap (an update whose seq is not the
previous + 1) discards the book, asks for a fresh snapshot and buffers again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class LocalBook:
    symbol: str
    request_snapshot: Callable[[str], None]
    seq: int = 0
    synced: bool = False
    resyncs: int = 0
    bids_by_ticks: dict[int, int] = field(default_factory=dict)
    asks_by_ticks: dict[int, int] = field(default_factory=dict)
    tick: Decimal = Decimal(1)
    _buffer: list[tuple[int, list[tuple[int, int, int]]]] = field(default_factory=list)

    @property
    def bids(self) -> list[tuple[Decimal, int]]:
        return [(self.tick * t, q) for t, q in sorted(self.bids_by_ticks.items(), reverse=True)]

    @property
    def asks(self) -> list[tuple[Decimal, int]]:
        return [(self.tick * t, q) for t, q in sorted(self.asks_by_ticks.items())]

    def on_snapshot(self, seq: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.bids_by_ticks = {t: q for t, q in bids if q}
        self.asks_by_ticks = {t: q for t, q in asks if q}
        self.seq = seq
        self.synced = True
        pending, self._buffer = self._buffer, []
        for upd_seq, changes in pending:
            if upd_seq > self.seq:
                self.on_incremental(upd_seq, changes)

    def on_incremental(self, seq: int, changes: list[tuple[int, int, int]]) -> None:
        """``changes``: (side 1=bid 2=ask, ticks, absolute qty; 0 deletes)."""
        if not self.synced:
            self._buffer.append((seq, changes))
            return
        if seq <= self.seq:
            return  # already in the snapshot
        if seq != self.seq + 1:
            self.synced = False
            self.resyncs += 1
            self._buffer = [(seq, changes)]
            self.request_snapshot(self.symbol)
            return
        for side, ticks, qty in changes:
            levels = self.bids_by_ticks if side == 1 else self.asks_by_ticks
            if qty:
                levels[ticks] = qty
            else:
                levels.pop(ticks, None)
        self.seq = seq
