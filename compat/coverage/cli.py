"""``compat coverage``: run the protocol mutants of a product's candidate through its column.

    compat coverage [--product gateway] [--sample 12 --seed 0] [--venue tlx] [--counterpart '*+candidate']
    compat coverage --show-history

The product's candidate is ``--wheel``, else built from matrix.yaml's ``source`` of the product.
Reports go to ``--report-dir`` (coverage.json, coverage.md); the score is appended to the
coverage history (``--history``). docs/coverage.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from compat.artifacts.candidate import build_candidate, source_tree_hash
from compat.config.matrix import load_matrix
from compat.coverage.report import append_history, history_lines, read_history, render_markdown, write_reports
from compat.coverage.runner import ColumnSpec, MutantCache
from compat.coverage.suite import run_coverage
from compat.errors import ConfigError
from compat.harness.uv import file_sha256


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "coverage", help="protocol mutants of a product's candidate: which schema elements no scenario notices",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--product", choices=("gateway", "client"), default="gateway",
                        help="the product whose schema is mutated (default gateway)")
    parser.add_argument("--matrix", type=Path, default=Path("matrix.yaml"), help="matrix file (default matrix.yaml)")
    parser.add_argument("--wheel", type=Path, help="the product's wheel (default: its candidate built from source)")
    parser.add_argument("--sample", type=int, metavar="N", help="run N mutants drawn with --seed, the kinds in "
                        "turn (CI); default: every mutant")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--mutant", action="append", default=[], metavar="ID",
                        help="run only this mutant, e.g. drop:ExecutionReport.cum_qty (repeatable; ids as the "
                        "report lists them)")
    parser.add_argument("--venue", action="append", default=[], metavar="GLOB",
                        help="venues of the column to run (repeatable; default every venue)")
    parser.add_argument("--counterpart", action="append", default=[], metavar="GLOB",
                        help="versions of the other product to run against (repeatable; default all), "
                        "e.g. '*+candidate'")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k over the scenarios")
    parser.add_argument("--tests", action="append", default=[], metavar="PATH",
                        help="scenario paths (repeatable; default tests/compat)")
    parser.add_argument("-n", dest="workers", type=int, default=0, help="pytest-xdist workers per run (default 0)")
    parser.add_argument("--cache-dir", type=Path, default=Path(".compat"),
                        help="envs, candidate builds, and the per-mutant judgements under coverage/ (default .compat)")
    parser.add_argument("--report-dir", type=Path, help="where coverage.json and coverage.md go "
                        "(default <cache dir>/coverage/<package>)")
    parser.add_argument("--history", type=Path,
                        help="coverage history file (default <cache dir>/coverage/history.jsonl)")
    parser.add_argument("--run-timeout", type=float, default=3600.0, help="seconds one column run may take")
    parser.add_argument("--min-score", type=float, metavar="F", help="exit 1 when the suite strength is below F "
                        "(0..1)")
    parser.add_argument("--fresh", action="store_true", help="judge every mutant (and the baseline) again instead "
                        "of reusing the cached judgements")
    parser.add_argument("--show-history", action="store_true", help="print the recorded scores and exit")
    parser.set_defaults(func=_cmd_coverage)


def _stop_runs_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, ``kill``) unwinds like Ctrl-C, so the column run in progress
    (its own process group) is stopped with its processes instead of outliving us."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt("compat coverage: SIGTERM received; stopping the column run")

    signal.signal(signal.SIGTERM, interrupt)


def _cmd_coverage(args: argparse.Namespace) -> int:
    cache_dir = args.cache_dir.resolve()
    history = args.history or cache_dir / "coverage" / "history.jsonl"
    if args.show_history:
        print("\n".join(history_lines(read_history(history))))
        return 0
    if args.sample is not None and args.sample < 1:
        raise ConfigError(f"--sample {args.sample}: must be 1 or more")
    if args.min_score is not None and not 0 <= args.min_score <= 1:
        raise ConfigError(f"--min-score {args.min_score}: a share between 0 and 1")
    matrix = load_matrix(args.matrix)
    _stop_runs_on_sigterm()
    product = matrix.products[args.product]
    other = matrix.products["client" if args.product == "gateway" else "gateway"]
    if args.wheel is not None:
        if not args.wheel.is_file():
            raise ConfigError(f"--wheel {args.wheel}: no such file")
        wheel = args.wheel.resolve()
    elif product.source is not None:
        wheel = build_candidate(product.source, cache_dir / "candidates" / args.product, args.product)
    else:
        raise ConfigError(f"products.{args.product} in {args.matrix} has no source to build the candidate from: "
                          "pass its wheel with --wheel")
    spec = ColumnSpec(project=Path.cwd(), matrix=args.matrix.resolve(), role=args.product,
                      tests=tuple(args.tests or ["tests/compat"]), cache_dir=cache_dir,
                      counterparts=tuple(args.counterpart or ["*"]), venues=tuple(args.venue or ["*"]),
                      keyword=args.keyword, workers=args.workers, timeout_s=args.run_timeout)
    extra = {"adapter": file_sha256(matrix.products["client"].adapter) if matrix.products["client"].adapter else "",
             "other_source": source_tree_hash(other.source) if other.source is not None else "",
             "index": matrix.index.describe()}
    if matrix.index.find_links is not None and matrix.index.find_links.is_dir():
        extra["wheels"] = " ".join(sorted(p.name for p in matrix.index.find_links.glob("*.whl")))
    work = cache_dir / "coverage" / "work" / product.package
    cache = MutantCache(cache_dir / "coverage" / "mutants", read=not args.fresh)
    coverage = run_coverage(spec, wheel, work, cache, package=product.package,
                            sample=args.sample, seed=args.seed, only=tuple(args.mutant), fingerprint_extra=extra,
                            progress=lambda line: print(line, flush=True))
    report_dir = args.report_dir or cache_dir / "coverage" / product.package
    for path in write_reports(coverage, report_dir):
        print(f"wrote {path}")
    append_history(coverage, history)
    sys.stdout.write(render_markdown(coverage))
    if args.min_score is not None and coverage.score < args.min_score:
        print(f"compat coverage: suite strength {coverage.score:.0%} is below --min-score {args.min_score:.0%}")
        return 1
    return 0
