"""The built-in exchange's side of the reconciliation: its audit log, read incrementally, and
the member the cell's gateway trades as.

The audit log of a cell grows over all its scenarios (a slow-consumer scenario alone writes tens
of thousands of records); reading it whole after every scenario would cost more with each one.
An :class:`AuditTail` keeps what it has parsed, per file, and reads only the bytes appended
since. A stack restart moves the old log aside and starts a new file: a changed inode or a
shorter file starts the tail over.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat.errors import AuditLogError
from compat.run.oracle.invariants import Instrument

# The built-in exchange logs every member logon (compat/exchange/venues/obx.py, tlx_session.py):
# "obx 127.0.0.1:35254: member REFGW logged on (refgw 3.0.0), replayed 0". The stack starts the
# gateway right after the exchange and waits until it is ready, which it is only once logged on,
# so the first member to log on is the gateway's; members scenarios add (an outside trader, the
# admin that halts an instrument) come later.
_LOGON = re.compile(r"\bmember (\S+) logged on\b")


@dataclass
class AuditTail:
    """One audit log's records so far, indexed by symbol."""

    path: Path
    offset: int = 0
    inode: int | None = None
    instruments: dict[str, Instrument] = field(default_factory=dict)
    by_symbol: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    _partial: bytes = b""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> None:
        """Parse what was appended since the last call (a torn last line waits for the next)."""
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                return
            if self.inode != stat.st_ino or stat.st_size < self.offset:
                self._restart(stat.st_ino)
            if stat.st_size == self.offset:
                return
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
            self.offset += len(chunk)
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()  # b"" when the chunk ended a line
            for number, raw in enumerate(lines):
                if raw:
                    self._add(raw, number)

    def records(self, symbols: frozenset[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [record for symbol in symbols for record in self.by_symbol.get(symbol, ())]

    def _restart(self, inode: int) -> None:
        self.offset, self.inode, self._partial = 0, inode, b""
        self.instruments.clear()
        self.by_symbol.clear()

    def _add(self, raw: bytes, number: int) -> None:
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AuditLogError(f"{self.path}: a line near byte {self.offset} is not a JSON record: {exc}") from exc
        if not isinstance(record, dict):
            raise AuditLogError(f"{self.path}: a line near byte {self.offset} is not a JSON object")
        if record.get("kind") == "header":
            for spec in record.get("instruments") or ():
                self._instrument(spec)
        elif record.get("kind") == "instrument_created":
            self._instrument(record)
        symbol = record.get("symbol")
        if isinstance(symbol, str):
            self.by_symbol[symbol].append(record)

    def _instrument(self, spec: dict[str, Any]) -> None:
        symbol = spec.get("symbol")
        if isinstance(symbol, str) and "tick_size_units" in spec:
            self.instruments[symbol] = Instrument(symbol, int(spec["tick_size_units"]), int(spec.get("price_scale", 0)))


_TAILS: dict[Path, AuditTail] = {}
_TAILS_LOCK = threading.Lock()
# A worker runs one cell's scenarios together (they are grouped per worker), so the tails of
# the cells before it are done with: keep a few, not every cell's records for the whole run.
_TAILS_KEPT = 2


def audit_tail(path: Path) -> AuditTail:
    """The process-wide tail of ``path`` (one per audit log), brought up to date."""
    with _TAILS_LOCK:
        tail = _TAILS.pop(path, None)
        if tail is None:
            tail = AuditTail(path, inode=_inode(path))
        _TAILS[path] = tail  # the most recently used last
        while len(_TAILS) > _TAILS_KEPT:
            del _TAILS[next(iter(_TAILS))]
    tail.refresh()
    return tail


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def gateway_member(exchange_log: Path) -> str | None:
    """The member the cell's gateway logged on as: the first logon in the exchange's log."""
    try:
        with exchange_log.open("r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                found = _LOGON.search(line)
                if found:
                    return found.group(1)
    except FileNotFoundError:
        return None
    return None
