"""Floods stdout before and after its ready line, then exits 0.

If the harness stopped draining the pipe, this would block on a full pipe and never reach
the ready line (before) or never exit (after).
"""

from __future__ import annotations

import sys

megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 8
line = ("x" * 1023 + "\n").encode()
out = sys.stdout.buffer
for _ in range(megabytes * 1024):
    out.write(line)
out.write(b"FLOOD READY main=127.0.0.1:2\n")
out.flush()
for _ in range(megabytes * 1024):
    out.write(line)
out.write(b"flood done\n")
out.flush()
