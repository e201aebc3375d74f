"""A control-channel program that protects its channel the way the driver does.

It duplicates fd 1 for the channel and points fd 1 at fd 2, so a library printing to
stdout lands in the log, never in the channel.
"""

from __future__ import annotations

import os
import sys

channel = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
print("library banner on fd 1 at import time", flush=True)
channel.write("HELLO from echo_control\n")
for line in sys.stdin:
    text = line.rstrip("\n")
    print(f"library noise while handling {text!r}", flush=True)
    os.write(1, b"raw write to fd 1\n")
    if text == "quit":
        break
    channel.write(f"echo: {text}\n")
print("echo_control exiting", file=sys.stderr, flush=True)
