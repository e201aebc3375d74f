"""The `refgw` console script (1.x command line).

    refgw --port 0 --exchange-host 127.0.0.1 --exchange-port 40001 --venue obx
          [--host 127.0.0.1] [--users auth.json] [--member REFGW] [--member-token TOKEN]

Prints exactly one line ``GATEWAY READY client=HOST:PORT`` once it is logged on to the
exchange and listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from typing import Any

from refgw import __version__
from refgw.config import ConfigError, load_config
from refgw.core import Gateway
from refgw.session import Session
from refgw.venues import VenueError, make_venue


def _ignore(*_: object) -> None:
    pass


async def serve(args: argparse.Namespace) -> int:
    config = load_config(args.users)
    venue = make_venue(
        args.venue,
        host=args.exchange_host,
        port=args.exchange_port,
        member=args.member,
        token=args.member_token,
        client_name=f"refgw {__version__}",
        on_order=_ignore,
        on_book=_ignore,
        on_notice=_ignore,
    )
    gw = Gateway(venue, config)
    await venue.start()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Session(gw, reader, writer).run()

    server = await asyncio.start_server(handle, args.host, args.port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"GATEWAY READY client={host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for session in list(gw.sessions):
        session.close()
    await venue.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="refgw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"refgw {__version__}")
    parser.add_argument("--host", default="127.0.0.1", help="client listen address")
    parser.add_argument("--port", type=int, default=0, help="client listen port (0 = any free port)")
    parser.add_argument("--exchange-host", default="127.0.0.1")
    parser.add_argument("--exchange-port", type=int, required=True)
    parser.add_argument("--venue", choices=("obx", "tlx"), default="obx")
    parser.add_argument("--users", help="auth config JSON (users, throttle, risk); absent = open access")
    parser.add_argument("--member", default="REFGW", help="member id at the exchange")
    parser.add_argument("--member-token", default="refgw", help="member token at the exchange")
    args = parser.parse_args(argv)
    try:
        import uvloop  # optional speed-up

        runner: Callable[..., Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return int(runner(serve(args)))
    except (ConfigError, VenueError, OSError, TimeoutError) as exc:
        print(f"refgw: cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0
