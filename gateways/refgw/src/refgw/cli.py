"""The `refgw` console script (2.x command line).

    refgw --listen 127.0.0.1:0 --exchange 127.0.0.1:40001 --venue obx|tlx
          [--journal PATH] [--auth auth.json] [--member REFGW] [--member-token TOKEN]
          [--resend-window N] [--retain-finished N] [--retain-finished-s SECONDS]

Prints exactly one line ``GATEWAY READY client=HOST:PORT`` once it is logged on to the
exchange and listening. Exit codes: 0 stopped by a signal, 2 could not start (reason on
stderr), 3 the exchange logged the member out because it logged on elsewhere (sessions get a
Logout naming it). SIGUSR1 prints what it holds on stderr: ``refgw: memory: orders=N live=N
finished=N client_ids=N venue_ids=N sessions=N resend_frames=N forgotten_events=N``.
A dropped exchange connection, or one the exchange has gone silent on for
the auth config's ``exchange_link`` missed heartbeats, is re-established with bounded backoff
while client sessions stay up and new requests are rejected (see refgw.core).
With ``--journal`` it resumes sessions, open orders and the venue cursor from the journal,
or refuses to start with a clear reason. Without a journal (or with
an empty one) orders the member still has at the exchange are orphans: they are cancelled.
Finished orders are remembered (duplicate client_order_id answers, cancel rejects, resume
status) for the newest ``--retain-finished`` of them and at most ``--retain-finished-s``
seconds, then forgotten (see refgw.retention); live orders always.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from refgw import refgw_pb2 as pb
from refgw._version import __version__
from refgw.config import ConfigError, load_config
from refgw.core import Gateway
from refgw.journal import Journal, JournalError
from refgw.retention import DEFAULT_FINISHED_AGE_S, DEFAULT_FINISHED_ORDERS, Retention
from refgw.session import Session
from refgw.venues import VenueError, make_venue


def _ignore(*_: object) -> None:
    pass


def tune_gc() -> None:
    """Young collections every 50,000 allocations, not 700: every order allocates several
    tracked objects and keeps one (GwOrder) until it has finished and left retention (up to
    100,000 finished ones by default, refgw.retention), so the default thresholds make the
    collector walk a large heap every few dozen orders. Start-up objects (config,
    instruments, journal recovery) are frozen out of its way. Full collections still run."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0 = no age bound), got {text!r}")
    return value


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


async def serve(args: argparse.Namespace) -> int:
    config = load_config(args.auth)
    journal = Journal(Path(args.journal), __version__) if args.journal else None
    exch_host, exch_port = args.exchange
    venue = make_venue(
        args.venue,
        host=exch_host,
        port=exch_port,
        member=args.member,
        token=args.member_token,
        client_name=f"refgw {__version__}",
        on_order=_ignore,
        on_book=_ignore,
        on_notice=_ignore,
        heartbeat_ms=config.link.heartbeat_ms,
        missed_heartbeats=config.link.missed_heartbeats,
    )
    retention = Retention(finished_orders=args.retain_finished, finished_age_s=args.retain_finished_s)
    gw = Gateway(venue, config, journal=journal, resend_window=args.resend_window, retention=retention)
    gw.recover()
    await venue.start(resume_from_seq=gw.cursor + 1 if gw.cursor else 0, venue_cursor=gw.venue_cursor)
    if journal is None or journal.fresh:
        venue.mass_cancel("")  # no record of earlier orders: orphans are cancelled by policy

    tune_gc()
    listen_host, listen_port = args.listen
    server = await asyncio.get_running_loop().create_server(lambda: Session(gw), listen_host, listen_port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"GATEWAY READY client={host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(_memory_line(gw), file=sys.stderr, flush=True))
    gw.on_fatal = lambda reason: stop.set()
    gw.reconnect_enabled = True  # a dropped exchange link is re-established (3.1)
    await stop.wait()
    gw.stop_reconnecting()
    server.close()
    reason = f"exchange connection lost: {gw.venue_lost}" if gw.venue_lost else "gateway stopping"
    for session in list(gw.sessions):
        session.send(pb.LOGOUT, pb.Logout(reason=reason))
        session.close()
    await venue.close()
    if journal is not None:
        journal.close()
    return 3 if gw.venue_lost else 0


def _memory_line(gw: Gateway) -> str:
    """``refgw: memory: orders=N live=N finished=N ...``: what retention bounds, on demand."""
    return "refgw: memory: " + " ".join(f"{name}={count}" for name, count in gw.memory_counts().items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="refgw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"refgw {__version__}")
    parser.add_argument("--listen", type=_hostport, default=("127.0.0.1", 0), help="client HOST:PORT (port 0 = any)")
    parser.add_argument("--exchange", type=_hostport, required=True, help="exchange venue HOST:PORT")
    parser.add_argument("--venue", choices=("obx", "tlx"), default="obx")
    parser.add_argument("--journal", help="session journal file (created if missing)")
    parser.add_argument("--auth", help="auth config JSON (users, throttle, risk); absent = open access")
    parser.add_argument("--member", default="REFGW", help="member id at the exchange")
    parser.add_argument("--member-token", default="refgw", help="member token at the exchange")
    parser.add_argument("--resend-window", type=int, default=100_000, help="reports kept per session for resend")
    parser.add_argument(
        "--retain-finished", type=_count, default=DEFAULT_FINISHED_ORDERS, metavar="N",
        help=f"finished orders remembered, the newest first (default {DEFAULT_FINISHED_ORDERS}; 0 = none)",
    )
    parser.add_argument(
        "--retain-finished-s", type=_seconds, default=DEFAULT_FINISHED_AGE_S, metavar="SECONDS",
        help=f"and for at most this long after they finished (default {DEFAULT_FINISHED_AGE_S:g}; 0 = no age bound)",
    )
    args = parser.parse_args(argv)
    runner: Callable[..., Any]
    try:
        import uvloop  # optional speed-up

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return int(runner(serve(args)))
    except (ConfigError, VenueError, JournalError, OSError, TimeoutError) as exc:
        print(f"refgw: cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0
