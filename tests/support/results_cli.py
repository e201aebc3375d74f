"""``compat`` with only the results layer's subcommands (gate, history, merge, ...), in process.

The tests of compat/results call this rather than ``compat.cli.main`` so that they stay
independent of the other layers' commands; errors print and exit 1 as the real CLI does.
"""

from __future__ import annotations

import argparse
import sys

from compat.cli.results import register
from compat.errors import CompatError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="compat")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CompatError as exc:
        print(f"compat {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return code
