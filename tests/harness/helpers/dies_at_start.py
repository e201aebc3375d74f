"""Fails at start the way a mis-configured gateway does: a few stderr lines, exit code 3."""

from __future__ import annotations

import sys

print("loading configuration", flush=True)
for n in range(25):
    print(f"config error detail {n}", file=sys.stderr)
print("fatal: no such venue 'XYZ'", file=sys.stderr, flush=True)
sys.exit(3)
