"""Test helper: ``allocates.py leak BYTES_PER_S`` grows its RSS steadily; ``allocates.py idle`` does not.

Prints ``ALLOC READY pid=N`` once running. Runs until signalled. The leak touches every byte
it allocates (``b"\\x01" * n``), so the pages are resident, not just reserved; it stops growing
at 512 MiB so a forgotten helper cannot take the machine down.
"""

from __future__ import annotations

import os
import sys
import time

TICK_S = 0.05
CAP_BYTES = 512 * 1024 * 1024


def main() -> None:
    mode = sys.argv[1]
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(f"ALLOC READY pid={os.getpid()}", flush=True)
    kept: list[bytes] = []
    held = 0
    while True:
        if mode == "leak" and held < CAP_BYTES:
            chunk = b"\x01" * int(rate * TICK_S)
            kept.append(chunk)
            held += len(chunk)
        time.sleep(TICK_S)  # the helper's own pace, not synchronisation


if __name__ == "__main__":
    main()
