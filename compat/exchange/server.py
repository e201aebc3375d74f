"""Running the exchange: both venues on their own ports in one asyncio loop.

Prints exactly one ready line, ``EXCHANGE READY obx=HOST:PORT tlx=HOST:PORT`` (only the
venues asked for), flushed. SIGTERM/SIGINT: stop accepting, log every session out with a
reason, wait (bounded) for the connections to close, flush and close the audit log, return 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat import timing
from compat.errors import (
    ExchangeStartError,
)
from compat.exchange.audit import AuditWriter
from compat.exchange.hub import Hub
from compat.exchange.instruments import load_config
from compat.exchange.tuning import tune_gc
from compat.exchange.venues.obx import ObxVenue
from compat.exchange.venues.tlx import TlxVenue

log = logging.getLogger("compat.exchange")

HOUSEKEEPING_INTERVAL_S = 0.1
# The audit log is flushed this long after the first events written since the last flush: a
# reader (a scenario reconciling with the exchange, the invariant oracle) waits a few ms for a
# record, not up to a housekeeping interval; under load one flush still carries a batch.
AUDIT_FLUSH_S = 0.005
SHUTDOWN_GRACE_S = 2.0


@dataclass(frozen=True)
class ExchangeOptions:
    venue: str  # "obx" | "tlx" | "both"
    instruments: Path
    host: str = "127.0.0.1"
    obx_port: int = 0
    tlx_port: int = 0
    audit_log: Path | None = None
    seed: int = 0


async def serve(
    options: ExchangeOptions,
    announce: Callable[[str], None],
    stop: asyncio.Event | None = None,
    on_hub: Callable[[Hub], None] | None = None,
) -> int:
    """Serve until ``stop`` is set (by default: until SIGTERM/SIGINT, main thread only)."""
    config = load_config(options.instruments)
    loop = asyncio.get_running_loop()
    audit = AuditWriter.open(options.audit_log) if options.audit_log is not None else None
    if audit is not None:
        audit.on_pending = lambda: _flush_soon(loop, audit)
    hub = Hub(config, clock=timing.wall_ns, seed=options.seed, audit=audit)
    if on_hub is not None:
        on_hub(hub)
    venues: list[ObxVenue | TlxVenue] = []
    servers: list[asyncio.Server] = []
    addresses: list[str] = []
    try:
        for name, port, venue in (
            ("obx", options.obx_port, ObxVenue(hub) if options.venue in ("obx", "both") else None),
            ("tlx", options.tlx_port, TlxVenue(hub) if options.venue in ("tlx", "both") else None),
        ):
            if venue is None:
                continue
            try:
                server = await loop.create_server(venue.protocol_factory, options.host, port)
            except OSError as exc:
                raise ExchangeStartError(
                    f"cannot listen for {name.upper()} on {options.host}:{port}: {exc}; "
                    f"pick another --host/--{name}-port (0 lets the OS choose)"
                ) from exc
            bound = server.sockets[0].getsockname()
            venues.append(venue)
            servers.append(server)
            addresses.append(f"{name}={bound[0]}:{bound[1]}")
        if stop is None:
            stop = asyncio.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
        housekeeping = asyncio.create_task(_housekeeping(hub, stop))
        announce("EXCHANGE READY " + " ".join(addresses))
        await stop.wait()
        log.info("exchange: stop requested, shutting down")
        await housekeeping
    finally:
        for server in servers:
            server.close()
        for venue in venues:
            venue.shutdown("exchange shutting down")
        await _wait_closed(venues)
        hub.close()
    log.info("exchange: audit log flushed, bye")
    return 0


def _flush_soon(loop: asyncio.AbstractEventLoop, audit: AuditWriter) -> None:
    loop.call_later(AUDIT_FLUSH_S, audit.flush)


async def _housekeeping(hub: Hub, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HOUSEKEEPING_INTERVAL_S)
        hub.housekeeping()


async def _wait_closed(venues: list[ObxVenue | TlxVenue]) -> None:
    """Let the logouts reach the wire: wait until every connection is gone (bounded)."""
    deadline = timing.Deadline(SHUTDOWN_GRACE_S)
    while any(venue.sessions for venue in venues) and not deadline.expired():
        await asyncio.sleep(0.01)  # product code waiting on transports, not test synchronisation
    for venue in venues:
        venue.abort_all()


def _announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(options: ExchangeOptions) -> int:
    """Run until SIGTERM/SIGINT, on uvloop when it is installed."""
    tune_gc()  # process-wide, so only here (never for an in-process exchange inside tests)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(options, _announce))
    return int(uvloop.run(serve(options, _announce)))
