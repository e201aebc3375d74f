"""A tiny exchange simulator of one venue: prints ``SIM READY xch=127.0.0.1:PORT`` and echoes
every line back, prefixed with ``$SIM_TAG``. It ignores SIGINT and exits 0 on SIGTERM.

``--after PATH``: it gets ready only once PATH exists (a start that lasts until another process
did something, e.g. until the gateway started); ``--mark PATH``: it creates PATH just before
its ready line; ``--fail``: it exits 4 at start, before any ready line.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time


def serve(conn: socket.socket, tag: str) -> None:
    with conn, conn.makefile("rb") as lines:
        for line in lines:
            conn.sendall(tag.encode() + b" " + line)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tag = os.environ.get("SIM_TAG", "")
    args = sys.argv[1:]
    if "--fail" in args:
        print("simulator: cannot read its configuration", flush=True)
        return 4
    if "--after" in args:
        after = args[args.index("--after") + 1]
        deadline = time.monotonic() + 15.0
        while not os.path.exists(after) and time.monotonic() < deadline:
            time.sleep(0.01)  # what it waits for is another process's doing: look again
    listener = socket.socket()
    listener.bind((args[0], 0))
    listener.listen()
    if "--mark" in args:
        with open(args[args.index("--mark") + 1], "w"):
            pass
    print(f"SIM READY xch=127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, tag), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
