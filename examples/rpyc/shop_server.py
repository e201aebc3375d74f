"""A small RPyC service: the "gateway" of this example.

It runs from the gateway's venv, with whichever RPyC release that venv holds, and uses only the
API every release from 4.0 on has: an ``rpyc.Service`` whose ``exposed_`` methods clients call,
served by ``rpyc.utils.server.ThreadedServer``. It imports nothing but the standard library
and rpyc.

The service (its clients reach it as ``connection.root``):

- ``price(sku)``: the unit price of a product, in cents (a plain call returning a plain value);
- ``open_basket(customer)``: a new ``Basket``, a *remote object* the client holds by reference
  (a netref) and calls methods on: ``add(sku, qty)``, ``total()``, ``lines()``;
- ``server_version()``: the RPyC release the server runs, as a string.

    python shop_server.py --host 127.0.0.1

binds port 0 and prints ``READY 127.0.0.1:<port>`` once it listens (compat's default ready
line). SIGINT or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

import rpyc
from rpyc.utils.server import ThreadedServer

PRICES = {"tea": 450, "cup": 1200, "pot": 3900}


def rpyc_version() -> str:
    version: Any = getattr(rpyc, "__version__", None) or rpyc.version.version
    return version if isinstance(version, str) else ".".join(str(part) for part in version)


class Basket:
    """One customer's basket, living in the server; clients hold it by reference."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        self._lines: dict[str, int] = {}
        self._lock = threading.Lock()

    def exposed_add(self, sku: str, qty: int) -> int:
        if sku not in PRICES:
            raise KeyError(f"unknown product {sku!r}")
        with self._lock:
            self._lines[sku] = self._lines.get(sku, 0) + int(qty)
            return self._lines[sku]

    def exposed_total(self) -> int:
        with self._lock:
            return sum(PRICES[sku] * qty for sku, qty in self._lines.items())

    def exposed_lines(self) -> list[tuple[str, int]]:
        with self._lock:
            return sorted(self._lines.items())


class ShopService(rpyc.Service):  # type: ignore[misc]
    def exposed_server_version(self) -> str:
        return rpyc_version()

    def exposed_price(self, sku: str) -> int:
        return PRICES[sku]

    def exposed_open_basket(self, customer: str) -> Basket:
        return Basket(customer)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadedServer(ShopService, hostname=args.host, port=args.port)
    # ThreadedServer binds at once but listens only in start(): listen now, so a client that
    # connects as soon as it sees the ready line is queued, not refused (start() listens again,
    # which only sets the backlog).
    server.listener.listen(64)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"READY {host}:{server.port}", flush=True)

    def stop(signum: int, frame: object) -> None:
        sys.stdout.flush()
        os._exit(0)  # connection threads may be blocked in a read: leave at once

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()


if __name__ == "__main__":
    main()
