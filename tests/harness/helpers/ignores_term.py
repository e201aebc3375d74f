"""Ignores SIGINT and SIGTERM, so only SIGKILL stops it. Ready once the handlers are in place."""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("STUBBORN READY main=127.0.0.1:1", flush=True)
while True:
    signal.pause()
