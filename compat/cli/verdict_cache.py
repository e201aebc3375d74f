"""``compat verdict-cache``: look at, merge and prune the verdict cache file (docs/ci-shards.md,
"Verdict cache"). The cache itself is ``compat.results.verdict_cache``; pytest fills it.

- ``info [PATH]``: how many results, from when to when;
- ``merge SRC... --output OUT``: the union of several shards' files (per key the newest; a
  result recorded with two verdicts is dropped so it runs again), like ``compat merge`` for
  their reports;
- ``prune [PATH] --older-than DAYS``: drop results recorded more than DAYS ago.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from compat import timing
from compat.results.verdict_cache import DEFAULT_NAME, VerdictCache, merge

DEFAULT_PATH = Path(".compat") / DEFAULT_NAME
_PATH_HELP = f"the cache file (default {DEFAULT_PATH})"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("verdict-cache", help="look at, merge and prune the verdict cache file",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="verdict_cache_command", metavar="COMMAND", required=True)

    info = commands.add_parser("info", help="entries, and when they were recorded")
    info.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help=_PATH_HELP)
    info.set_defaults(func=_cmd_info)

    merged = commands.add_parser("merge", help="union shards' cache files into one (what a CI cache step saves)")
    merged.add_argument("sources", nargs="+", type=Path, help="cache files, e.g. one per shard")
    merged.add_argument("--output", type=Path, required=True, help="the merged file (may be one of the sources)")
    merged.set_defaults(func=_cmd_merge)

    prune = commands.add_parser("prune", help="drop results recorded more than DAYS ago")
    prune.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help=_PATH_HELP)
    prune.add_argument("--older-than", metavar="DAYS", type=float, required=True)
    prune.set_defaults(func=_cmd_prune)


def _cmd_info(args: argparse.Namespace) -> int:
    with VerdictCache(args.path, create=False) as cache:
        span = cache.span()
        when = f", recorded {span[0]} to {span[1]}" if span else ""
        print(f"verdict cache {args.path}: {len(cache)} results{when}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    outcome = merge(args.sources, args.output)
    print(f"verdict cache {args.output}: {outcome.entries} results merged from {len(args.sources)} file(s)")
    if outcome.conflicts:
        print(f"  {len(outcome.conflicts)} result(s) recorded with two different verdicts were dropped "
              f"(they run again): {', '.join(outcome.conflicts[:5])}{' …' if len(outcome.conflicts) > 5 else ''}")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    if args.older_than < 0:
        print("compat verdict-cache prune: --older-than must be 0 or more days")
        return 2
    cutoff_s = timing.wall_ns() / 1e9 - args.older_than * 86400.0
    before = dt.datetime.fromtimestamp(cutoff_s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with VerdictCache(args.path, create=False) as cache:
        removed = cache.prune(before)
        print(f"verdict cache {args.path}: {removed} results recorded before {before} dropped, {len(cache)} kept")
    return 0
