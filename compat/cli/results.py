"""The results commands: report, schema-diff, gate, can-i-deploy, history, merge, durations
(docs/history-and-gate.md, docs/ci-shards.md). At the edge because they read results and the
store and write reports through the renderers.

Exit codes: 0 ok/clear/yes; 1 blocked/no (including a pair never tested)/breaking change;
2 a usage error; errors are CompatError → 1 via compat.cli.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path

from compat.artifacts.atomic import write_text_atomically
from compat.artifacts.schema_diff import schema_diff
from compat.config.matrix import Matrix, load_matrix
from compat.config.removals import Removal
from compat.errors import ResultsError
from compat.report.demo import demo_results
from compat.report.markdown import render_markdown
from compat.report.writer import write_reports
from compat.results.gate import (
    Lookup,
    Pair,
    SupportWindow,
    can_i_deploy,
    deploy_pairs,
    gate,
    load_inventory,
)
from compat.results.history import (
    flake_rates,
    flip_lines,
    git_head_sha,
    latest_for_pair,
    list_runs,
    matrices_in,
    store_run,
)
from compat.results.identity import LEGACY, choose_matrix, edit_note, listing, run_matrix
from compat.results.jsonfile import load_json
from compat.results.model import CellResult, RunResults
from compat.results.schema_join import annotate_from_wheels
from compat.results.shards import merge_shards
from compat.results.since import against_store, stamp
from compat.results.store import DEFAULT_STORE, ResultsStore, open_store


def _results(paths: list[Path]) -> RunResults:
    """One results file, or several merged like shards (schema annotation rejoined, and a
    --compat-shard set checked for completeness)."""
    if len(paths) == 1:
        return load_json(paths[0])
    return merge_shards([load_json(p) for p in paths], names=[str(p) for p in paths])[0]


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
    if args.allow_stale:  # the stale rule the reports state, as pytest --compat-allow-stale stamps it
        results = dataclasses.replace(results, meta={**results.meta, "allow_stale": True})
    if args.store is not None:  # what flipped since the last release run recorded there
        with open_store(args.store, create=False) as store:
            results = stamp(results, against_store(results, store, args.release_label))
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


def _gate_matrix(args: argparse.Namespace, results: RunResults) -> tuple[Matrix, Path] | None:
    """The matrix the gate reads its window and declared removals from: --matrix, else the run's
    matrix_path, else ./matrix.yaml (None when there is none)."""
    candidates = [args.matrix] if args.matrix else [Path(results.matrix_path), Path("matrix.yaml")]
    for path in candidates:
        if path and str(path) and (args.matrix or path.is_file()):
            return load_matrix(Path(path)), Path(path)
    return None


def _removals(args: argparse.Namespace, results: RunResults) -> tuple[Removal, ...] | None:
    """The capability removals matrix.yaml declares; None (the run's own, stamped in its meta)
    when no matrix file is found."""
    found = _gate_matrix(args, results)
    return None if found is None else found[0].removals


def _window(args: argparse.Namespace, results: RunResults) -> SupportWindow | None:
    """--window all | --window KEY=N,... over settings.support_window of the matrix (--matrix,
    else the run's matrix_path, else ./matrix.yaml); None gates every pair."""
    overrides = list(args.window or [])
    if any(o.strip().lower() == "all" for o in overrides):
        return None
    window: SupportWindow | None = None
    found = _gate_matrix(args, results)
    if found is not None:
        window = SupportWindow.from_settings(found[0].settings, str(found[1]))
    if overrides:
        window = (window or SupportWindow(source="--window")).override(overrides)
    return window


def _store_matrix(
    store: ResultsStore, requested: str | None, own: str | None = None, *, must_exist: bool = True
) -> str | None:
    """The matrix whose runs a command reads (``compat.results.identity.choose_matrix``)."""
    known = {m.matrix: m.describe() for m in store.matrices()}
    return choose_matrix(requested, known, where=f"results store {store.where}", own=own, must_exist=must_exist)


def _others(store: ResultsStore, matrix: str | None) -> list[str]:
    """A note naming the matrix read when the store holds others too (empty otherwise)."""
    others = {m.matrix: m.describe() for m in store.matrices() if m.matrix != matrix}
    if matrix is None or not others:
        return []
    return [f"  from the runs of matrix {matrix} only; the store also holds: {listing(others)} (--matrix)"]


def _gate_input(args: argparse.Namespace) -> RunResults:
    if args.results:
        return _results(args.results)
    with open_store(args.store, create=False) as store:
        if args.run is not None:
            return store.load(args.run)
        matrix = _store_matrix(store, str(args.matrix) if args.matrix else None)
        run_id = next(iter(r.run_id for r in store.runs(limit=1, matrix=matrix)), None)
        if run_id is None:
            raise ResultsError(f"results store {store.where} holds no run; pass --results or record a run first")
        return store.load(run_id)


def _cmd_gate(args: argparse.Namespace) -> int:
    results = _gate_input(args)
    code, lines = gate(results, _window(args, results), allow_stale=args.allow_stale,
                       removals=_removals(args, results))
    print("\n".join(lines))
    return code


def _lookup(args: argparse.Namespace, stack: contextlib.ExitStack, notes: list[str]) -> Lookup:
    """Answers from the runs of one matrix (``--matrix``); ``notes`` gets a line naming it when
    the store or directory holds others too."""
    if args.history is not None:  # the file-per-run history of earlier compat versions
        directory = args.history
        known = matrices_in(directory)
        matrix = choose_matrix(args.matrix, known, where=f"history directory {directory}")
        others = {m: about for m, about in known.items() if m != matrix}
        if matrix is not None and others:
            notes.append(
                f"  from the runs of matrix {matrix} only; {directory} also holds: {listing(others)} (--matrix)"
            )

        def from_files(client: str, gateway: str, venue: str | None) -> tuple[str, list[CellResult]] | None:
            found = latest_for_pair(directory, client, gateway, venue, matrix=matrix)
            return None if found is None else (f"file {found[0].path.name}", found[1])

        return from_files
    store = stack.enter_context(open_store(args.store, create=False))
    chosen = _store_matrix(store, args.matrix)
    notes += _others(store, chosen)

    def from_store(client: str, gateway: str, venue: str | None) -> tuple[str, list[CellResult]] | None:
        found = store.latest_for_pair(client, gateway, venue, matrix=chosen)
        return None if found is None else (found[0].describe(), found[1])

    return from_store


def _cmd_can_i_deploy(args: argparse.Namespace) -> int:
    if args.role is not None:
        if args.version is None or args.to is None:
            print("compat can-i-deploy: usage: compat can-i-deploy gateway|client VERSION --to ENV", file=sys.stderr)
            return 2
        pairs = deploy_pairs(load_inventory(args.inventory), args.to, args.role, args.version)
        subject = f"{args.role} {args.version} to {args.to}"
    elif args.client and args.gateway:
        pairs = [Pair(args.client, args.gateway, args.venue)]
        subject = f"client {args.client} with gateway {args.gateway}" + (f" on {args.venue}" if args.venue else "")
    else:
        print(
            "compat can-i-deploy: pass ROLE VERSION --to ENV (with an inventory), or --client X --gateway Y",
            file=sys.stderr,
        )
        return 2
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        code, lines = can_i_deploy(_lookup(args, stack, notes), pairs, subject)
    print("\n".join(lines + notes))
    return code


def _history_add(args: argparse.Namespace) -> int:
    if not args.results:
        print("compat history add: pass --results PATH (repeat to merge shards)", file=sys.stderr)
        return 2
    results = _results(args.results)
    sha = args.git_sha or results.meta.get("git_sha") or git_head_sha(Path.cwd())
    if args.history is not None:
        print(f"stored {store_run(results, args.history, git_sha=sha)}")
        return 0
    with open_store(args.store) as store:
        # --matrix: an identity, or a matrix file identified as the plugin identifies it
        matrix = _store_matrix(store, args.matrix, must_exist=False) if args.matrix else run_matrix(results)
        matrix = matrix or run_matrix(results)
        run_id = store.record(results, git_sha=sha, label=args.label, matrix=matrix)
        print(
            f"recorded run {run_id} of matrix {matrix} in {store.where}"
            + (f" (label {args.label})" if args.label else "")
        )
    if matrix == LEGACY:
        print(
            f"  the results name no matrix (meta.matrix: recorded by an older compat), so the run is {LEGACY}; "
            "pass --matrix ID to record it with its matrix"
        )
    return 0


def _history_show(args: argparse.Namespace, store: ResultsStore) -> list[str]:
    given = _results(args.results) if args.results and args.action in ("show", "flips") else None
    matrix = _store_matrix(store, args.matrix, own=run_matrix(given) if given is not None else None)
    runs = store.runs(matrix=matrix)
    if not runs:
        if matrix is not None and store.runs(limit=1):
            return [f"results store {store.where} holds no run of matrix {matrix} yet"]
        return [f"results store {store.where} holds no run yet; the plugin records every run (--compat-store)"]
    lines = [f"results store {store.where}: {len(runs)} runs of matrix {runs[0].matrix}; newest {runs[0].describe()}"]
    lines += _others(store, runs[0].matrix)
    if args.action in ("show", "flips"):
        release = store.runs(label=args.release_label, limit=1, matrix=runs[0].matrix)
        if given is not None:
            current, current_text = given, "the given results"
        else:
            current, current_text = store.load(runs[0].run_id), runs[0].describe()
        if not release:
            lines.append(
                f"no run of matrix {runs[0].matrix} is labelled {args.release_label!r} yet: record the release "
                f"run with `compat history add --results R.json --label {args.release_label}` (or --compat-label)"
            )
        elif not args.results and release[0].run_id == runs[0].run_id:
            lines.append(f"the newest run is the {args.release_label} run ({release[0].describe()}): nothing since")
        else:
            lines.append(f"flipped since the last {args.release_label} run, {release[0].describe()} → {current_text}:")
            baseline = store.load(release[0].run_id)
            lines += flip_lines(baseline, current)
            edited = edit_note(baseline, current)
            lines += [edited] if edited else []
    if args.action in ("show", "flaky"):
        rates = flake_rates(store.observations(last_runs=args.last, matrix=runs[0].matrix))
        window = min(args.last, len(runs))
        lines.append(
            f"flake rate per cell over the last {window} runs (runs where a scenario was flaky or "
            "differed from its previous run):"
        )
        unsteady = [r for r in rates if r.unsteady_runs]
        lines += [r.line() for r in unsteady[: args.limit]]
        if len(unsteady) > args.limit:
            lines.append(f"  … {len(unsteady) - args.limit} more unsteady cells (--limit)")
        lines.append(f"  {len(rates) - len(unsteady)} of {len(rates)} cells steady")
    return lines


def _cmd_history(args: argparse.Namespace) -> int:
    if args.action == "add":
        return _history_add(args)
    if args.history is not None:
        if args.action != "list":
            print(
                "compat history: --history DIR supports add and list; use --store for flips and flake rates",
                file=sys.stderr,
            )
            return 2
        for stored in list_runs(args.history):
            print(f"{stored.timestamp}  {stored.git_sha}  {stored.path.name}")
        return 0
    with open_store(args.store, create=False) as store:
        if args.action == "list":  # every matrix's runs unless --matrix: each line names its matrix
            matrix = _store_matrix(store, args.matrix) if args.matrix else None
            for run in store.runs(limit=args.limit, matrix=matrix):
                print(
                    f"{run.run_id:>6}  {run.recorded_at}  {(run.git_sha or '-')[:12]:<12}  {run.label or '-':<10}  "
                    f"{run.matrix:<16}  {run.cells} cells, {run.scenarios} scenarios, {run.blocking} blocking"
                )
            return 0
        print("\n".join(_history_show(args, store)))
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    shards = [load_json(p) for p in args.shards]
    merged, notes = merge_shards(shards, names=[str(p) for p in args.shards])
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(open_store(args.store)) if args.store is not None else None
        if store is not None:  # the reports say what flipped since the last release run (read before recording)
            merged = stamp(merged, against_store(merged, store, args.release_label))
        for path in write_reports(merged, json_path=args.output, md_path=args.md, html_path=args.html):
            print(f"wrote {path}")
        for note in notes:
            print(note)
        if store is not None:
            sha = args.git_sha or merged.meta.get("git_sha") or git_head_sha(Path.cwd())
            run_id = store.record(merged, git_sha=sha, label=args.label)
            print(f"recorded run {run_id} of matrix {run_matrix(merged)} in {store.where}")
    code, lines = gate(merged, _window(args, merged), allow_stale=args.allow_stale, removals=_removals(args, merged))
    print("\n".join(lines))
    return code


def _cmd_durations(args: argparse.Namespace) -> int:
    with open_store(args.store, create=False) as store:
        # a matrix named but not run yet has no durations: every cell weighs the same
        matrix = _store_matrix(store, args.matrix, must_exist=False)
        durations = store.durations(last_runs=args.last, matrix=matrix)
        notes = _others(store, matrix)
        if matrix is not None and not durations:
            notes.append(f"  no run of matrix {matrix} in {store.where} yet: every cell weighs the same")
    text = json.dumps(durations, indent=2, sort_keys=True) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(args.output, text)
        print(f"wrote {args.output} ({len(durations)} cells" + (f" of matrix {matrix})" if matrix else ")"))
    for note in notes:
        print(note.strip(), file=sys.stderr)  # stdout is the JSON
    return 0


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--matrix",
        type=Path,
        help="matrix.yaml declaring settings.support_window (default: the run's matrix_path, else ./matrix.yaml)",
    )
    parser.add_argument(
        "--window",
        action="append",
        metavar="KEY=N,...|all",
        help="override the window: client_minors=3,gateway_minors=2; 'all' gates every pair",
    )
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="a stale expectation (declared incompatible, but it passed) warns instead of blocking, "
        "as pytest --compat-allow-stale does; by default it blocks, as it fails the pytest run",
    )
    # the default since stale expectations block everywhere; accepted so existing CI lines keep working
    parser.add_argument("--strict-stale", action="store_true", help=argparse.SUPPRESS)


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        metavar="URL|PATH",
        help=f"results store: a SQLite path or postgresql://... (default {DEFAULT_STORE})",
    )


def _add_matrix_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--matrix",
        metavar="ID|PATH",
        help=f"{what}: an identity as `compat history list` shows it, or a matrix file (default: "
        "./matrix.yaml's when the store holds its runs, else the store's only matrix)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser("report", help="render JSON/markdown/HTML reports from results JSON")
    report.add_argument("--results", type=Path, action="append", default=[], help="results JSON (repeat to merge)")
    report.add_argument("--demo", action="store_true", help="render a synthetic 10x10x2 matrix instead")
    report.add_argument("--json", type=Path, help="write the (merged) JSON report here")
    report.add_argument("--md", type=Path, help="write the markdown report here")
    report.add_argument("--html", type=Path, help="write the HTML report here")
    report.add_argument("--wheelhouse", type=Path, help="annotate with schema changes between these wheels")
    report.add_argument("--wheel", type=Path, action="append", default=[], help="extra wheel (e.g. a candidate)")
    report.add_argument("--client-dist", default="refclient", help="client distribution name (refclient)")
    report.add_argument("--gateway-dist", default="refgw", help="gateway distribution name (refgw)")
    report.add_argument("--allow-stale", action="store_true",
                        help="record in the reports that stale expectations only warn (meta.allow_stale), "
                        "as pytest --compat-allow-stale does; by default they block")
    report.add_argument("--store", default=None, metavar="URL|PATH",
                        help="compare with the last release run of the results' matrix recorded there: the "
                        "reports lead with what flipped since (meta.since_release)")
    report.add_argument("--release-label", default="release", help="label of release runs (default release)")
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
        "gate", help="exit 1 when a pair inside the support window fails or errors (explains each)"
    )
    gate_parser.add_argument(
        "--results",
        type=Path,
        action="append",
        default=[],
        help="results JSON (repeat to merge); default: the newest run of the store",
    )
    _add_store_option(gate_parser)
    gate_parser.add_argument("--run", type=int, help="gate this run id of the store instead of the newest")
    _add_window_options(gate_parser)
    gate_parser.set_defaults(func=_cmd_gate)

    deploy = subparsers.add_parser(
        "can-i-deploy", help="answer from stored results: does deploying ROLE VERSION to ENV meet only tested pairs"
    )
    deploy.add_argument("role", nargs="?", choices=("gateway", "client"), help="what is deployed")
    deploy.add_argument("version", nargs="?", help="its version")
    deploy.add_argument("--to", metavar="ENV", help="environment of the inventory, e.g. production")
    deploy.add_argument(
        "--inventory",
        type=Path,
        default=Path("inventory.yaml"),
        help="what runs where (default inventory.yaml; docs/history-and-gate.md)",
    )
    deploy.add_argument("--client", help="single pair: client version (instead of ROLE VERSION --to ENV)")
    deploy.add_argument("--gateway", help="single pair: gateway version")
    deploy.add_argument("--venue", help="single pair: only this venue")
    _add_store_option(deploy)
    _add_matrix_option(deploy, "answer from the runs of this matrix")
    deploy.add_argument("--history", type=Path, help="read a file-per-run history directory instead of a store")
    deploy.set_defaults(func=_cmd_can_i_deploy)

    history = subparsers.add_parser(
        "history", help="flips since the last release run and flake rates per cell; add or list runs"
    )
    history.add_argument("action", nargs="?", default="show", choices=("show", "flips", "flaky", "add", "list"))
    _add_store_option(history)
    _add_matrix_option(
        history, "the runs of this matrix (add: record the run as this matrix's; default its meta.matrix)"
    )
    history.add_argument("--history", type=Path, help="a file-per-run history directory (add, list)")
    history.add_argument(
        "--results",
        type=Path,
        action="append",
        default=[],
        help="add: results JSON to record; flips: compare these (unrecorded) results",
    )
    history.add_argument("--label", help="add: label the run (e.g. release)")
    history.add_argument("--git-sha", help="add: commit of the results (default: meta.git_sha, else HEAD)")
    history.add_argument("--release-label", default="release", help="label of release runs (default release)")
    history.add_argument("--last", type=int, default=50, help="flake rates over the newest N runs (default 50)")
    history.add_argument("--limit", type=int, default=30, help="at most N lines of cells/runs (default 30)")
    history.set_defaults(func=_cmd_history)

    merge_parser = subparsers.add_parser(
        "merge", help="merge --compat-shard reports into one report and one gate decision"
    )
    merge_parser.add_argument("shards", type=Path, nargs="+", metavar="SHARD.json")
    merge_parser.add_argument("--output", "-o", type=Path, required=True, help="write the merged JSON here")
    merge_parser.add_argument("--md", type=Path, help="also write the markdown report")
    merge_parser.add_argument("--html", type=Path, help="also write the HTML report")
    merge_parser.add_argument("--store", default=None, metavar="URL|PATH", help="also record the merged run here")
    merge_parser.add_argument("--label", help="label of the recorded run (with --store)")
    merge_parser.add_argument("--release-label", default="release",
                              help="with --store, the reports compare with the last run so labelled (default release)")
    merge_parser.add_argument("--git-sha", help="commit of the recorded run (default: meta.git_sha, else HEAD)")
    _add_window_options(merge_parser)
    merge_parser.set_defaults(func=_cmd_merge)

    durations = subparsers.add_parser(
        "durations", help="mean past duration per cell (JSON) to pin --compat-shard balancing across CI jobs"
    )
    _add_store_option(durations)
    _add_matrix_option(durations, "average the runs of this matrix")
    durations.add_argument("--output", "-o", type=Path, help="write here (default: stdout)")
    durations.add_argument("--last", type=int, default=20, help="average the newest N runs of each cell")
    durations.set_defaults(func=_cmd_durations)
