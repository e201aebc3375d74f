"""The `compat` command line. Subcommands live with their owners (``compat.exchange.cli``,
``compat.artifacts.cli``, ``compat.bench.cli``, ``compat.coverage.cli``; the results commands, which
span results and report, in ``compat.cli.results``; ``compat verdict-cache`` in
``compat.cli.verdict_cache``); this module only wires them.

Each owner module exposes ``register(subparsers)``, adding a parser whose ``func`` default
takes the parsed namespace and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from compat.errors import CompatError

# Owner modules of subcommands, imported lazily so that `compat --help` stays fast.
_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "compat.exchange.cli",
    "compat.artifacts.cli",
    "compat.cli.results",
    "compat.cli.init",
    "compat.cli.verdict_cache",
    "compat.bench.cli",
    "compat.coverage.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compat", description="Compatibility matrix, release gate and latency benchmark for gateway/client wheels."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # that part of compat is not installed in this build
            raise
        module.register(subparsers)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser`` and run the chosen subcommand: its exit code, 1 with one
    ``compat CMD: error: ...`` line for a CompatError, 2 with the help when none was chosen."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except CompatError as exc:
        print(f"compat {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return code


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
