"""CLI subcommands of the report layer: report, schema-diff, gate, can-i-deploy, history.

Exit codes: 0 ok/clear/yes; 1 blocked/no/breaking change; 2 unknown (can-i-deploy without
history for the pair) or a usage error; errors are CompatError → 1 via compat.cli.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compat.outcome import RunResults
from compat.report.demo import demo_results
from compat.report.gate import can_i_deploy, gate
from compat.report.history import git_head_sha, list_runs, store_run
from compat.report.json_report import load_json, merge_files
from compat.report.markdown import render_markdown
from compat.report.schema_diff import schema_diff
from compat.report.schema_join import annotate_from_wheels
from compat.report.writer import write_reports


def _results(paths: list[Path]) -> RunResults:
    return load_json(paths[0]) if len(paths) == 1 else merge_files(paths)


def _cmd_report(args: argparse.Namespace) -> int:
    if args.demo:
        results = demo_results()
    elif args.results:
        results = _results(args.results)
    else:
        print("compat report: pass --results PATH (repeat to merge shards) or --demo", file=sys.stderr)
        return 2
    if args.wheelhouse is not None:
        wheels = [*args.wheelhouse.glob("*.whl"), *args.wheel]
        results = annotate_from_wheels(results, wheels, args.client_dist, args.gateway_dist)
    written = write_reports(results, json_path=args.json, md_path=args.md, html_path=args.html)
    for path in written:
        print(f"wrote {path}")
    if not (args.json or args.md or args.html):
        sys.stdout.write(render_markdown(results))
    return 0


def _cmd_schema_diff(args: argparse.Namespace) -> int:
    diff = schema_diff(args.a, args.b)
    changes = diff.breaking if args.breaking_only else diff.changes
    if args.json:
        print(json.dumps({**diff.to_dict(), "breaking": len(diff.breaking)}, indent=2, ensure_ascii=False))
    else:
        print(f"schema changes from {diff.a} to {diff.b}:")
        for change in changes:
            print("  " + change.text())
        print(f"{len(diff.breaking)} wire-breaking, {len(diff.changes) - len(diff.breaking)} safe")
    return 1 if diff.breaking else 0


def _cmd_gate(args: argparse.Namespace) -> int:
    code, lines = gate(_results(args.results), allow_stale=args.allow_stale)
    print("\n".join(lines))
    return code


def _cmd_can_i_deploy(args: argparse.Namespace) -> int:
    code, lines = can_i_deploy(args.history, args.client, args.gateway, args.venue)
    print("\n".join(lines))
    return code


def _cmd_history(args: argparse.Namespace) -> int:
    if args.action == "add":
        if not args.results:
            print("compat history add: pass --results PATH", file=sys.stderr)
            return 2
        results = _results(args.results)
        sha = args.git_sha or results.meta.get("git_sha") or git_head_sha(Path.cwd())
        path = store_run(results, args.history, git_sha=sha)
        print(f"stored {path}")
        return 0
    for run in list_runs(args.history):
        print(f"{run.timestamp}  {run.git_sha}  {run.path.name}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser("report", help="render JSON/markdown/HTML reports from results JSON")
    report.add_argument(
        "--results", type=Path, action="append", default=[], help="results JSON (repeat to merge)"
    )
    report.add_argument("--demo", action="store_true", help="render a synthetic 10x10x2 matrix instead")
    report.add_argument("--json", type=Path, help="write the (merged) JSON report here")
    report.add_argument("--md", type=Path, help="write the markdown report here")
    report.add_argument("--html", type=Path, help="write the HTML report here")
    report.add_argument("--wheelhouse", type=Path, help="annotate with schema changes between these wheels")
    report.add_argument(
        "--wheel", type=Path, action="append", default=[], help="extra wheel (e.g. a candidate)"
    )
    report.add_argument("--client-dist", default="refclient", help="client distribution name (refclient)")
    report.add_argument("--gateway-dist", default="refgw", help="gateway distribution name (refgw)")
    report.set_defaults(func=_cmd_report)

    diff = subparsers.add_parser(
        "schema-diff", help="classify protobuf schema changes between two wheels (exit 1 when wire-breaking)"
    )
    diff.add_argument("a", type=Path, help="old side: a wheel, a .desc descriptor set or a _pb2.py")
    diff.add_argument("b", type=Path, help="new side")
    diff.add_argument("--json", action="store_true", help="print the changes as JSON")
    diff.add_argument("--breaking-only", action="store_true", help="list only wire-breaking changes")
    diff.set_defaults(func=_cmd_schema_diff)

    gate_parser = subparsers.add_parser(
        "gate", help="exit 1 when a verdict blocks the release (fail, stale, error)"
    )
    gate_parser.add_argument("--results", type=Path, action="append", required=True, help="results JSON")
    gate_parser.add_argument("--allow-stale", action="store_true", help="do not block on stale expectations")
    gate_parser.set_defaults(func=_cmd_gate)

    deploy = subparsers.add_parser(
        "can-i-deploy", help="answer from history: does client X work with gateway Y"
    )
    deploy.add_argument("--client", required=True, help="client version")
    deploy.add_argument("--gateway", required=True, help="gateway version")
    deploy.add_argument("--venue", help="only this venue (default: every venue the run covered)")
    deploy.add_argument("--history", type=Path, required=True, help="history directory")
    deploy.set_defaults(func=_cmd_can_i_deploy)

    history = subparsers.add_parser("history", help="store a run's results in the history, or list it")
    history.add_argument("action", choices=("add", "list"))
    history.add_argument("--history", type=Path, required=True, help="history directory")
    history.add_argument("--results", type=Path, action="append", default=[], help="results JSON to add")
    history.add_argument("--git-sha", help="commit the results belong to (default: meta.git_sha, else HEAD)")
    history.set_defaults(func=_cmd_history)
