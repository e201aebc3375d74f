"""``python -m compat.exchange ARGS``: the same program as ``compat exchange ARGS``."""

from __future__ import annotations

import argparse
import sys

from compat.errors import CompatError
from compat.exchange.cli import add_arguments, run_from_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.exchange", description="the simulated exchange")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except CompatError as exc:
        print(f"compat exchange: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
