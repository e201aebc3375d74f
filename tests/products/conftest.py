"""Fixtures for the reference products: a real exchange, real gateway processes, the client in-process.

The client library runs from its source tree (``clients/refclient/src`` on sys.path); the
gateway runs as its own process from ``gateways/refgw/src``. Processes are awaited on their
ready lines, never on sleeps, and are stopped (TERM, then KILL) at teardown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import GW_SRC, Proc, start, start_exchange


@pytest.fixture(scope="session")
def exchange() -> Iterator[Proc]:
    proc = start_exchange()
    yield proc
    proc.stop()


GatewayFactory = Callable[..., Proc]


@pytest.fixture
def gateway(exchange: Proc, tmp_path: Path) -> Iterator[GatewayFactory]:
    """Start HEAD's gateway: ``gateway(venue="obx", auth=None, journal=None, member=...)``."""
    started: list[Proc] = []
    counter = iter(range(1, 1000))

    def make(
        venue: str = "obx",
        auth: dict[str, object] | None = None,
        journal: Path | None = None,
        member: str | None = None,
        extra: list[str] | None = None,
    ) -> Proc:
        host, port = exchange.addrs[venue]
        argv = [
            sys.executable,
            "-m",
            "refgw",
            "--listen",
            "127.0.0.1:0",
            "--exchange",
            f"{host}:{port}",
            "--venue",
            venue,
            "--member",
            member or f"T{os.getpid()}x{next(counter)}{tmp_path.name[-6:]}",
        ]
        if auth is not None:
            import json

            path = tmp_path / f"auth{len(started)}.json"
            path.write_text(json.dumps(auth))
            argv += ["--auth", str(path)]
        if journal is not None:
            argv += ["--journal", str(journal)]
        argv += extra or []
        proc = start(argv, "gateway", env={"PYTHONPATH": str(GW_SRC)})
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()
