"""A tiny gateway for the launch-contract tests: records what it was given, reaches the exchange
it was pointed at (if any), then prints a bare ``READY 127.0.0.1:PORT`` and serves until SIGTERM.

It ignores SIGINT, so only a stop sequence that sends SIGTERM ends it cleanly (exit code 0).
``--started PATH``: creates PATH first thing; ``--exchange-mark PATH``: records whether PATH
existed when it started (``exchange_ready_at_start``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    out = Path(argv[argv.index("--out") + 1])
    if "--started" in argv:
        Path(argv[argv.index("--started") + 1]).touch()
    mark = argv[argv.index("--exchange-mark") + 1] if "--exchange-mark" in argv else None
    exchange_ready_at_start = None if mark is None else os.path.exists(mark)
    exchange = argv[argv.index("--exchange") + 1] if "--exchange" in argv else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    answer = None
    if exchange is not None:
        host, _, port = exchange.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5.0) as link:
            link.sendall(b"ping\n")
            answer = link.makefile("rb").readline().decode().strip()
    env = {k: v for k, v in os.environ.items() if k.startswith("GW_")}
    out.write_text(json.dumps({"script": sys.argv[0], "argv": argv, "env": env, "exchange_answer": answer,
                               "exchange_ready_at_start": exchange_ready_at_start}))
    if "--never-ready" in argv:
        print("booting: configuration read, waiting for a licence server", flush=True)
        while True:
            signal.pause()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print(f"READY 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
