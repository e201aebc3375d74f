"""Rolling-window message-rate limit (Optivex RollingWindowLimit)."""

from __future__ import annotations

import time
from collections import deque


class RollingWindow:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_ns = int(window_s * 1e9)
        self._stamps: deque[int] = deque()

    def admit(self, now_ns: int | None = None) -> int:
        """Record one message; returns 0 if admitted, else the ms until one would be."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        stamps = self._stamps
        horizon = now - self.window_ns
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        if len(stamps) >= self.limit:
            return max(1, (stamps[0] - horizon + 999_999) // 1_000_000)
        stamps.append(now)
        return 0
