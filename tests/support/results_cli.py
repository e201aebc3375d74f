"""``compat`` with only the results layer's subcommands (gate, history, merge, ...), in process.

The tests of compat/results call this rather than ``compat.cli.main`` so that they stay
independent of the other layers' commands; it parses and reports errors as the real CLI does.
"""

from __future__ import annotations

import argparse

from compat.cli import run
from compat.cli.results import register


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="compat")
    register(parser.add_subparsers(dest="command"))
    return run(parser, argv)
