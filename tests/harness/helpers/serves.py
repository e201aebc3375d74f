"""A well-behaved server: binds port 0, reports it on a ready line, exits 0 on SIGINT."""

from __future__ import annotations

import socket
import sys

name = sys.argv[1] if len(sys.argv) > 1 else "SERVER"
try:  # from before the ready line: a SIGINT right after it must still end cleanly
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    host, port = listener.getsockname()
    print(f"{name} READY main={host}:{port} admin=[::1]:9", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.close()
except KeyboardInterrupt:
    print("interrupted, shutting down cleanly", flush=True)
    sys.exit(0)
