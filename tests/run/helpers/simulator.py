"""A tiny exchange simulator of one venue: prints ``SIM READY xch=127.0.0.1:PORT`` and echoes
every line back, prefixed with ``$SIM_TAG``. It ignores SIGINT and exits 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading


def serve(conn: socket.socket, tag: str) -> None:
    with conn, conn.makefile("rb") as lines:
        for line in lines:
            conn.sendall(tag.encode() + b" " + line)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tag = os.environ.get("SIM_TAG", "")
    listener = socket.socket()
    listener.bind((sys.argv[1], 0))
    listener.listen()
    print(f"SIM READY xch=127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, tag), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
