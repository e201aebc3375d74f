"""``compat exchange``: run the simulated exchange (see docs/exchange-protocol.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--venue",
        choices=("obx", "tlx", "both"),
        default="both",
        help="which venue dialects to serve (default: both)",
    )
    parser.add_argument(
        "--instruments",
        type=Path,
        default=DEFAULT_INSTRUMENTS_FILE,
        help="instruments file, YAML or .json (default: the built-in ABC/XYZ/FLT)",
    )
    parser.add_argument("--audit-log", type=Path, default=None, help="append the audit journal (JSON lines) here")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--obx-port", type=int, default=0, help="OBX port (default 0: the OS picks)")
    parser.add_argument("--tlx-port", type=int, default=0, help="TLX port (default 0: the OS picks)")
    parser.add_argument("--seed", type=int, default=0, help="seed: 0 numbers orders and trades from 1")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def run_from_args(args: argparse.Namespace) -> int:
    from compat.exchange.server import ExchangeOptions, run

    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run(
        ExchangeOptions(
            venue=args.venue,
            instruments=args.instruments,
            host=args.host,
            obx_port=args.obx_port,
            tlx_port=args.tlx_port,
            audit_log=args.audit_log,
            seed=args.seed,
        )
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "exchange", help="run the simulated exchange (OBX and/or TLX venues)", description=__doc__
    )
    add_arguments(parser)
    parser.set_defaults(func=run_from_args)
