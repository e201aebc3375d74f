"""Starts, talks, and never prints its ready line."""

from __future__ import annotations

import signal

for step in range(3):
    print(f"warming up step {step}", flush=True)
print("still warming up, forever", flush=True)
while True:
    signal.pause()
