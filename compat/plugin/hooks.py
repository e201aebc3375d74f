"""The pytest plugin: options, parametrisation over cells, verdicts, and the reports.

Hooks stay thin: they call pure functions (``compat.run.plan``, ``compat.config.expectations``,
``compat.results.verdicts``, ``compat.report``). Reports are written once, on the controller.

pytest imports this module in every run of an environment where compat is installed, so its
top level is options, markers and hooks only (the stdlib and pytest): the plan, the results,
the reports, yaml, protobuf and psutil are imported inside hooks and fixtures, once a run
collects a compat scenario or is asked for one (tests/plugin/test_cheap_plugin.py holds this).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.mark import MarkMatcher
from _pytest.mark.expression import Expression

from compat import timing  # the stdlib only
from compat.plugin.workers import DEFAULT_PER_CPU  # the stdlib only
from compat.plugin.workers import INI as WORKERS_INI

if TYPE_CHECKING:
    from compat.config.cell import Cell
    from compat.plugin.console import Progress
    from compat.results.collect import ResultsCollector
    from compat.results.model import RunResults
    from compat.run.plan import Plan

pytest_plugins = ["compat.plugin.fixtures", "compat.plugin.cache"]  # light too: bodies import what they use

# The user_properties keys of compat's reports: compat.results.verdicts.PROPERTY and DETAILS,
# compat.results.collect.ENVS. Spelled here so that a run without compat never imports
# compat.results to look at a report; test_cheap_plugin.py holds them equal.
_PROPERTY = "compat"
_REPORT_KEYS = frozenset({_PROPERTY, "compat_details", "compat_envs"})

_PLAN = pytest.StashKey["Plan | None"]()
_PLAN_ERROR = pytest.StashKey[str | None]()
# The matrix.yaml expectation that matched a scenario item (None: none did); the verdict
# cache keys and replays results by it, so it is public to compat.plugin.cache.
EXPECTATION_KEY = pytest.StashKey[dict[str, Any] | None]()
_MARKEXPR = pytest.StashKey[Expression | None]()
_SCOPE = pytest.StashKey["Callable[[Path], bool | None] | None"]()
# Scenarios `-m` deselected before they got cells: expectations about them are not checked.
_NOT_RUN = pytest.StashKey[set[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compat", "compatibility matrix")
    group.addoption("--compat-matrix", metavar="PATH", help="matrix.yaml to run (default: ini compat_matrix)")
    group.addoption("--compat-cells", metavar="GLOB", action="append", default=[],
                    help="run only cells whose id matches GLOB, e.g. 'client-2.*--gateway-3.0.0--*' "
                    "(repeatable)")
    group.addoption("--compat-candidate", metavar="ROLE=WHEEL", action="append", default=[],
                    help="use this wheel as ROLE's candidate instead of building the working tree")
    group.addoption("--compat-no-candidate", action="store_true",
                    help="test released versions only")
    group.addoption("--compat-cache-dir", metavar="DIR", help="envs and candidate builds (default .compat)")
    group.addoption("--compat-lock", metavar="PATH",
                    help="resolved-versions lock to reuse (default compat.lock.json if present)")
    group.addoption("--compat-report-dir", metavar="DIR", help="write matrix.json, matrix.md and matrix.html here")
    group.addoption("--compat-report-json", metavar="PATH", help="write the JSON report here")
    group.addoption("--compat-report-md", metavar="PATH", help="write the Markdown report here")
    group.addoption("--compat-report-html", metavar="PATH", help="write the HTML report here")
    group.addoption("--compat-host", metavar="ROLE=SPEC", action="append", default=[],
                    help="run ROLE (exchange, gateway, client) on a host: local, netns:NAME, ssh:user@host[:port]")
    group.addoption("--compat-reruns", metavar="N", type=int, default=0,
                    help="rerun a failing scenario up to N times; one that then passes is reported 'flaky' "
                    "(visible in every report, never a silent pass). Default 0: a failure is a failure")
    group.addoption("--compat-link-delay", metavar="MS", type=float, default=0.0,
                    help="standing one-way delay on every client<->gateway link (the fault proxy), e.g. 20")
    group.addoption("--compat-link-jitter", metavar="MS", type=float, default=0.0,
                    help="jitter (+/- MS, uniform) on top of --compat-link-delay; bytes are never reordered")
    group.addoption("--compat-shard", metavar="K/N", help="run the K-th of N deterministic slices of the cells")
    group.addoption("--compat-bench", action="store_true", help="also run the latency benchmark")
    group.addoption("--compat-fail-on-leak", action="store_true",
                    help="fail the session when a cell's sampled RSS grew steadily (a suspected memory leak); "
                    "without it a suspected leak is a warning in the summary and the reports")
    group.addoption("--compat-store", metavar="URL|PATH", help="record the run in this results store: a SQLite path or "
                    "postgresql://... (default <cache dir>/results.db; 'none': do not record)")
    group.addoption("--compat-label", metavar="LABEL", help="label of the recorded run, e.g. release")
    group.addoption("--compat-durations", metavar="FILE", help="balance --compat-shard by these durations "
                    "(`compat durations` writes them) instead of the store's")
    group.addoption("--compat-strict-expectations", action="store_true",
                    help="an expectation in matrix.yaml that matches nothing in the run is an error, not a warning")
    group.addoption("--compat-allow-stale", action="store_true",
                    help="a stale expectation (declared incompatible, but it passed) is reported, not a failure "
                    "of the run (as `compat gate --allow-stale`); by default it fails the run")
    group.addoption("--compat-no-oracle", action="store_true",
                    help="do not run the invariant oracle after each scenario (it reconciles every session's "
                    "events with the exchange's audit log; a violation fails the scenario)")
    group.addoption("--compat-naive-envs", action="store_true",
                    help="baseline for measurements: fresh envs for every cell, as tox would (no sharing, no cache)")
    parser.addini("compat_matrix", "default matrix.yaml path", default="matrix.yaml")
    parser.addini("compat_cache_dir", "cache directory for envs and candidates", default=".compat")
    parser.addini("compat_scenario_paths", "the folders (or files) that hold the scenarios: a run whose -m "
                  "keeps only compat scenarios collects only these (and paths named on the command line)", type="paths",
                  default=[])
    parser.addini(WORKERS_INI, "xdist workers per CPU that `-n auto` starts for a run of only compat "
                  "scenarios (they mostly wait on their processes)", default=DEFAULT_PER_CPU)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Group each cell's tests on one worker so its processes start once (xdist_group marks).
    option = config.option
    if getattr(option, "numprocesses", None) and getattr(option, "dist", "no") in ("no", "load"):
        option.dist = "loadgroup"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (or ``logical``) for a run of only compat scenarios: ``compat_workers_per_cpu`` per CPU
    (compat.plugin.workers); None leaves any other run, and PYTEST_XDIST_AUTO_NUM_WORKERS, to xdist."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or config.option.numprocesses not in ("auto", "logical"):
        return None
    expression = _compile_markexpr(config)
    if expression is None:
        return None
    from compat.plugin.scope import keeps_only
    from compat.plugin.workers import matrix_workers, per_cpu, usable_cpus

    if not keeps_only(expression, "compat"):
        return None
    try:
        workers_per_cpu = per_cpu(str(config.getini(WORKERS_INI)))
    except ValueError as error:
        raise pytest.UsageError(f"compat: {error}") from None
    return matrix_workers(usable_cpus(), workers_per_cpu)


def _rootdir_taken_from_an_option_value(config: pytest.Config) -> str | None:
    """pytest settles its rootdir before plugins add their options, so in
    ``--compat-report-dir /tmp/out`` it takes an existing ``/tmp/out`` for a test path; outside
    the project (no ini file above it) that directory becomes the rootdir, and the run then
    looks there for matrix.yaml and the tests. Name the cause instead of "no matrix.yaml"."""
    args = [str(arg) for arg in config.invocation_params.args]
    rootpath = Path(config.rootpath).resolve()
    invocation = Path(config.invocation_params.dir).resolve()
    matrix = _configured_matrix(config)
    if matrix.is_absolute() or (rootpath / matrix).exists() or not (invocation / matrix).exists():
        return None  # the rootdir holds the matrix (or the run is not from a project): not the trap
    for option, value in itertools.pairwise(args):
        if option.startswith("--compat-") and "=" not in option and Path(value).is_dir() \
                and Path(value).resolve().is_relative_to(rootpath):
            return (f"compat: pytest took {value} (the value of `{option} {value}`) for a test path and made "
                    f"it the rootdir, so matrix.yaml and the tests would be looked for there; "
                    f"write `{option}={value}` (pytest reads a joined value as an option's)")
    return None


def pytest_configure(config: pytest.Config) -> None:
    hijacked = _rootdir_taken_from_an_option_value(config)
    if hijacked is not None:
        raise pytest.UsageError(hijacked)
    if config.getoption("compat_reruns") < 0:
        raise pytest.UsageError(f"compat: --compat-reruns {config.getoption('compat_reruns')}: must be >= 0")
    delay_ms, jitter_ms = config.getoption("compat_link_delay"), config.getoption("compat_link_jitter")
    if delay_ms < 0 or jitter_ms < 0 or jitter_ms > delay_ms:
        raise pytest.UsageError(f"compat: --compat-link-delay {delay_ms:g} / --compat-link-jitter {jitter_ms:g}: "
                                "both must be >= 0 and the jitter at most the delay")
    config.stash[_MARKEXPR] = _compile_markexpr(config)
    config.stash[_SCOPE] = _scenario_scope(config)
    if _asks_for_compat(config):  # only in compat runs: other suites keep pytest's own SIGTERM behaviour
        _stop_on_sigterm()  # (a run that only collects compat scenarios gets it after deselection)
    config.addinivalue_line("markers", "compat: a compatibility scenario, run in every matrix cell")
    config.addinivalue_line("markers", "bench: a latency benchmark on the compat harness")
    config.addinivalue_line("markers", "compat_disruptive: the scenario swaps, kills or stalls the gateway; "
                            "it runs after the cell's other scenarios")
    config.addinivalue_line("markers", "compat_swap(direction): a live swap scenario taking compat_swap; it runs "
                            "once per swap matrix.yaml's swaps: declares from the cell's gateway, upgrade or downgrade")
    config.pluginmanager.register(_Ordering(), "compat-ordering")
    config.pluginmanager.register(_UnsupportedReports(), "compat-unsupported-reports")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get("compat_dist") == "loadgroup":
        # Workers re-parse the original argv, so they never saw the controller switch to
        # loadgroup; without this they would not suffix node ids with the cell's group.
        config.option.loadgroup = True
    progress = None
    if workerinput is None:  # the controller sees every report: the progress line is printed there
        from compat.plugin.console import Progress

        progress = Progress(config)
        config.pluginmanager.register(progress, "compat-progress")
    if workerinput is None and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistBridge(config, progress), "compat-xdist")
    config.stash[_PLAN] = None
    config.stash[_PLAN_ERROR] = None
    config.pluginmanager.register(_Recorder(config), "compat-recorder")


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, `timeout`, `kill`) unwinds like Ctrl-C, so every fixture's
    teardown stops the processes it started. Left to its default, SIGTERM ends pytest at once
    and the exchange, gateways and drivers (each in its own session) outlive the run."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone (the user, another plugin) chose a behaviour already

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it the hard way
        raise KeyboardInterrupt("compat: SIGTERM received; stopping the run's processes")

    signal.signal(signal.SIGTERM, interrupt)


def compat_plan(config: pytest.Config) -> Plan:
    """The session's plan, built once per process on first use."""
    plan = config.stash[_PLAN]
    if plan is not None:
        return plan
    error = config.stash[_PLAN_ERROR]
    if error is not None:
        raise pytest.UsageError(error)
    from compat.errors import CompatError
    from compat.results.identity import matrix_identity
    from compat.results.shards import load_durations
    from compat.run.plan import build_plan, parse_assignments, parse_shard

    try:
        plan = build_plan(
            matrix_path(config),
            cache_dir=cache_dir(config),
            candidates={r: Path(p) for r, p in
                        parse_assignments(config.getoption("compat_candidate"), "--compat-candidate").items()},
            no_candidate=bool(config.getoption("compat_no_candidate")),
            cell_globs=config.getoption("compat_cells"),
            lock_path=lock_path(config),
            shard=parse_shard(config.getoption("compat_shard")),
            durations=load_durations(config.getoption("compat_durations") or config.getoption("compat_store"),
                                     cache_dir(config) / "results.db",
                                     matrix=matrix_identity(matrix_path(config), Path(config.rootpath)))
            if config.getoption("compat_shard") else None,
        )
    except CompatError as exc:
        message = f"compat: {exc}"
        config.stash[_PLAN_ERROR] = message
        raise pytest.UsageError(message) from None
    config.stash[_PLAN] = plan
    return plan


def _configured_matrix(config: pytest.Config) -> Path:
    """The matrix file as given (option, else ini); relative to the rootdir when relative."""
    return Path(str(config.getoption("compat_matrix") or config.getini("compat_matrix")))


def matrix_path(config: pytest.Config) -> Path:
    """``--compat-matrix`` is relative to where the user typed it (the invocation directory);
    the ini's ``compat_matrix`` to the rootdir, where the ini file is. Everything inside
    matrix.yaml is relative to matrix.yaml's own folder."""
    path = _configured_matrix(config)
    if path.is_absolute():
        return path
    if config.getoption("compat_matrix"):
        typed = Path(config.invocation_params.dir) / path
        if typed.exists() or not (Path(config.rootpath) / path).exists():
            return typed
    return Path(config.rootpath) / path


def cache_dir(config: pytest.Config) -> Path:
    value = config.getoption("compat_cache_dir") or config.getini("compat_cache_dir")
    path = Path(str(value))
    return path if path.is_absolute() else Path(config.rootpath) / path


def lock_path(config: pytest.Config) -> Path | None:
    value = config.getoption("compat_lock")
    if value:
        path = Path(value)
        if not path.exists():
            from compat.errors import ConfigError

            raise ConfigError(f"--compat-lock {value}: no such file (write one with `compat lock`)")
        return path
    default = Path(config.rootpath) / "compat.lock.json"
    return default if default.exists() else None


def _scenario_scope(config: pytest.Config) -> Callable[[Path], bool | None] | None:
    """The collection filter of a run that can only run scenarios (compat.plugin.scope), if the
    ini names the scenario folders; None: collect as pytest does."""
    paths = config.getini("compat_scenario_paths")
    expression = config.stash[_MARKEXPR]
    if not paths or expression is None:
        return None
    from compat.plugin.scope import keeps_only, named_paths, scope_filter

    if not keeps_only(expression, "compat"):
        return None
    named = named_paths([str(arg) for arg in config.invocation_params.args], Path(config.invocation_params.dir))
    return scope_filter(paths, named)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    scope = config.stash.get(_SCOPE, None)
    return None if scope is None else scope(collection_path)


def _compile_markexpr(config: pytest.Config) -> Expression | None:
    """The ``-m`` expression, compiled by pytest's own parser (None without ``-m``)."""
    markexpr = str(getattr(config.option, "markexpr", "") or "")
    if not markexpr:
        return None
    try:
        return Expression.compile(markexpr)
    except SyntaxError as exc:  # pytest's own wording, as its deselection would say it later
        raise pytest.UsageError(f"Wrong expression passed to '-m': {exc.text}: at column {exc.offset}: "
                                f"{exc.msg}") from None


def _selects(expression: Expression | None, marks: Iterable[pytest.Mark]) -> bool:
    """Whether ``-m`` keeps an item carrying ``marks``, evaluated as pytest's deselection does."""
    return expression is None or expression.evaluate(MarkMatcher.from_markers(marks))


def _keeps_only(expression: Expression, mark: str | None) -> bool:
    """Whether ``-m`` keeps an item whose one mark is ``mark`` (None: an unmarked item)."""
    return expression.evaluate(lambda name, /, **kwargs: name == mark and not kwargs)


def _asks_for_compat(config: pytest.Config) -> bool:
    """The run was asked for compat before anything is collected: ``-m`` keeps a scenario marked
    ``compat`` (or a ``bench``) and drops an unmarked test (``-m compat``, ``-m "compat and not
    slow"``, ``-m "compat or bench"``; not ``-m "not compat"`` nor ``-m "not slow"``), or a
    matrix or cells were named. Without any of these, compat scenarios run only if collected."""
    expression = config.stash[_MARKEXPR]
    selected = expression is not None and not _keeps_only(expression, None) \
        and any(_keeps_only(expression, mark) for mark in ("compat", "bench"))
    return selected or bool(config.getoption("compat_matrix")) or bool(config.getoption("compat_cells"))


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """A compat run builds its plan before collection, so a configuration error is pytest's one
    `ERROR: compat: ...` line at any verbosity (`-q` prints no header, which otherwise built it)."""
    config = session.config
    if _asks_for_compat(config) and matrix_path(config).exists():
        compat_plan(config)
        _import_run_modules()


# What the hooks and fixtures of a running matrix import. Imported once a compat run is certain
# (session start, or the first collected cell) rather than inside the first hook that needs
# them: a Ctrl-C that lands mid-import (pytest rewrites asserts in plugin modules as it imports
# them) can leave a traceback pytest itself fails to format, so the run would end with exit 1
# instead of 2 (interrupted). Before the run is certain, nothing of this is imported: that is
# what keeps `pytest -m "not compat"` cheap.
_RUN_MODULES = (
    "compat.report", "compat.report.resources", "compat.results.collect", "compat.results.verdicts",
    "compat.results.schema_join", "compat.results.shards", "compat.results.store", "compat.plugin.console",
    "compat.run.scenario", "compat.run.stack", "compat.artifacts.envs", "compat.harness.resources",
    "compat.harness.leaks", "compat.exchange.instruments", "compat.config.expectations", "compat.config.swaps",
    "compat.results.declared", "compat.results.since", "compat.report.front", "compat.report.findings",
    "compat.results.capabilities",
)


def _import_run_modules() -> None:
    for name in _RUN_MODULES:
        importlib.import_module(name)


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _asks_for_compat(config) or not matrix_path(config).exists():
        return None
    return compat_plan(config).header()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "compat_cell" not in metafunc.fixturenames:
        return
    if not _selects(metafunc.config.stash[_MARKEXPR], _scenario_marks(metafunc.definition)):
        # `-m` deselects every cell of this function anyway (e.g. `-m "not compat"`, or a `slow`
        # scenario under `-m "compat and not slow"`): do not resolve or build anything for it.
        metafunc.config.stash.setdefault(_NOT_RUN, set()).add(metafunc.function.__name__.removeprefix("test_"))
        metafunc.parametrize(_cell_argnames(metafunc), [], scope="session")
        return
    error: str | None = None
    try:
        plan = compat_plan(metafunc.config)
    except pytest.UsageError as exc:
        error = str(exc)
    if error is not None:  # raised here it would come wrapped in a pluggy traceback: one line instead
        pytest.fail(error, pytrace=False)
    cells = list(plan.cells)
    if "compat_swap" in metafunc.fixturenames:
        _parametrize_swaps(metafunc, plan)
        return
    metafunc.parametrize("compat_cell", cells, ids=[c.id for c in cells], scope="session")


def _cell_argnames(metafunc: pytest.Metafunc) -> list[str]:
    return ["compat_cell", "compat_swap"] if "compat_swap" in metafunc.fixturenames else ["compat_cell"]


def _parametrize_swaps(metafunc: pytest.Metafunc, plan: Plan) -> None:
    """A swap scenario (``@pytest.mark.compat_swap("upgrade"|"downgrade")``, taking the
    ``compat_swap`` fixture) runs once per swap matrix.yaml's ``swaps:`` declares from the cell's
    gateway in that direction (compat.config.swaps); a cell with none has no such test."""
    from compat.config.swaps import DIRECTIONS, swaps_from

    marker = metafunc.definition.get_closest_marker("compat_swap")
    direction = marker.args[0] if marker is not None and marker.args else None
    if direction not in DIRECTIONS:
        pytest.fail(f"compat: {metafunc.definition.nodeid} takes compat_swap, so it must be marked "
                    f"@pytest.mark.compat_swap(\"upgrade\") or (\"downgrade\"), got {marker}", pytrace=False)
    swaps = plan.swaps
    pairs = [(cell, swap) for cell in plan.cells for swap in swaps_from(swaps, cell.gateway, direction)]
    # The cell value is the same object in every pair of a cell, so its session-scoped stack is
    # set up once and shared with the cell's other scenarios (pytest compares params with ==).
    metafunc.parametrize(["compat_cell", "compat_swap"], pairs, ids=[f"{c.id}-{s.id}" for c, s in pairs],
                         scope="session")


def _swap_of(item: pytest.Item) -> Any:
    """The live swap a swap scenario makes (a ``compat.config.swaps.Swap``), else None."""
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("compat_swap")


def _scenario_marks(node: pytest.Item) -> list[pytest.Mark]:
    """A test's marks, plus an implicit ``compat`` when it takes a cell (the ``compat`` or
    ``compat_cell`` fixture) and is marked neither ``compat`` nor ``bench``: forgetting
    ``pytestmark = pytest.mark.compat`` must not make ``-m compat`` silently select nothing."""
    marks = list(node.iter_markers())
    if not any(mark.name in ("compat", "bench") for mark in marks):
        marks.append(pytest.mark.compat.mark)
    return marks


def scenario_name(item: pytest.Item) -> str:
    """``price_exact_fill[FLT-0.3]``: the test name without ``test_`` and without the cell id,
    keeping the scenario's own parameters so expectations can name one of them."""
    base = (getattr(item, "originalname", None) or item.name.split("[", 1)[0]).removeprefix("test_")
    cell = cell_of(item)
    if "[" not in item.name or cell is None:
        return base
    params = item.name.split("[", 1)[1].removesuffix("]").replace(cell.id, "").strip("-")
    return f"{base}[{params}]" if params else base


def cell_of(item: pytest.Item) -> Cell | None:
    """The cell a scenario item runs in, or None for an item that is not a scenario."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "compat_cell" not in callspec.params or "compat.config.cell" not in sys.modules:
        # Not a scenario, or one `-m` deselected before any plan was built (pytest then leaves a
        # placeholder for the cell): no Cell can exist before its module is imported.
        return None
    from compat.config.cell import Cell

    cell = callspec.params["compat_cell"]
    return cell if isinstance(cell, Cell) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        takes_a_cell = "compat_cell" in getattr(item, "fixturenames", ())
        if takes_a_cell and not any(item.iter_markers("compat")) and not any(item.iter_markers("bench")):
            item.add_marker(pytest.mark.compat)  # before pytest's own -m deselection (we run first)
        cell = cell_of(item)
        if cell is None:
            continue
        item.add_marker(pytest.mark.xdist_group(name=cell.id))
        if reruns := config.getoption("compat_reruns"):
            item.add_marker(pytest.mark.flaky(reruns=reruns))  # pytest-rerunfailures runs the attempts
        from compat.config.expectations import find as find_expectation

        plan = compat_plan(config)
        expectation = find_expectation(plan.matrix.expectations, cell, scenario_name(item), swap=_swap_of(item))
        record: dict[str, Any] | None = None
        if expectation is not None and expectation.kind != "compatible":
            record = {"kind": expectation.kind, "reason": expectation.reason, "ticket": expectation.ticket,
                      "expires": expectation.expires.isoformat() if expectation.expires else None,
                      "line": expectation.line}
            if expectation.fails_with:  # how it is known to fail: another failure is a break
                record["fails_with"] = [pattern.record() for pattern in expectation.fails_with]
            if expectation.kind == "unsupported":
                item.add_marker(pytest.mark.skip(reason=f"n/a: {expectation.reason}"))
        item.stash[EXPECTATION_KEY] = record
    if any(cell_of(item) is not None for item in items):
        _import_run_modules()
    _check_expectations(config, items)


def _check_expectations(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A rule that matches nothing in this run hides nothing today, but it was written to hide
    something: most often a scenario name spelled differently. Say so, naming the rule."""
    scenarios = [(cell, scenario_name(item)) for item in items if (cell := cell_of(item)) is not None]
    if not scenarios:
        return
    swaps = [(cell, scenario_name(item), swap) for item in items
             if (cell := cell_of(item)) is not None and (swap := _swap_of(item)) is not None]
    from compat.config.expectations import unmatched
    from compat.errors import UnmatchedExpectationWarning

    plan = compat_plan(config)
    nothing_left_out: set[str] = set()
    not_run = config.stash.get(_NOT_RUN, nothing_left_out)
    lines = unmatched(plan.matrix.expectations, plan.cells, [name for _cell, name in scenarios], sorted(not_run),
                      swaps=swaps)
    if lines and config.getoption("compat_strict_expectations"):
        raise pytest.UsageError("compat: --compat-strict-expectations:\n" + "\n".join(lines))
    for line in lines:
        warnings.warn(UnmatchedExpectationWarning(f"compat: {line}"), stacklevel=1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    cell = cell_of(item)
    if cell is None:
        return report
    from compat.results.verdicts import judge

    verdict = judge(report, call, item.stash.get(EXPECTATION_KEY, None),
                    allow_stale=bool(item.config.getoption("compat_allow_stale")))
    if verdict is not None:
        payload = {
            "cell_id": cell.id,
            # Labels, not bare versions: a candidate built from a tree still carrying the last
            # release's version must get its own row and column in the grid.
            "client_version": cell.client.label,
            "gateway_version": cell.gateway.label,
            "venue": cell.venue,
            "scenario": scenario_name(item),
            "expectation": item.stash.get(EXPECTATION_KEY, None),
            # pytest-rerunfailures counts attempts on the item; without reruns there is one.
            "attempt": int(getattr(item, "execution_count", 1) or 1),
            **verdict,
        }
        if (swap := _swap_of(item)) is not None:  # a swap has two ends: results carry both
            payload["swap"] = swap.as_record()
        report.user_properties.append((_PROPERTY, json.dumps(payload, default=str)))
        report.user_properties.extend(junit_pairs(payload))
    return report


def junit_pairs(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The cell's versions and verdict as JUnit XML properties (junitxml writes user_properties)."""
    from compat.report import junit_properties
    from compat.results.model import CellResult, ScenarioResult, Verdict

    cell = CellResult(cell_id=payload["cell_id"], client_version=payload["client_version"],
                      gateway_version=payload["gateway_version"], venue=payload["venue"])
    scenario = ScenarioResult(cell_id=payload["cell_id"], scenario=payload["scenario"],
                              verdict=Verdict(payload["verdict"]), expectation=payload.get("expectation"))
    return junit_properties(cell, scenario)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    for key, value in getattr(report, "user_properties", ()):
        if key != _PROPERTY:
            continue
        verdict = json.loads(str(value)).get("verdict")
        if verdict == "error" and report.when == "call":
            return "error", "E", "ERROR"
        if verdict == "n/a":
            return "n/a", "n", "N/A"
        if verdict == "stale" and report.failed:  # counted with the failures: its message is shown, the run fails
            return "failed", "S", "STALE"
        if verdict == "stale":  # --compat-allow-stale: counted apart, and the run does not fail
            return "stale", "S", "STALE"
    return None


class _Ordering:
    """Cells stay contiguous, and within a cell disruptive scenarios (kills, stalls, live swaps)
    run last, so the others never pay for restarting the stack they left behind; the live swaps
    last of all: a swap leaves another gateway release running, which the next scenario of the
    cell would meet by restarting the whole stack."""

    @pytest.hookimpl(trylast=True)  # after pytest's own -k/-m deselection: ``items`` is what runs
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        first_seen: dict[str, int] = {}
        for index, item in enumerate(items):
            cell = cell_of(item)
            if cell is not None:
                first_seen.setdefault(cell.id, index)
        if first_seen:  # scenarios will run (even without `-m compat`): their processes too
            _stop_on_sigterm()

        def key(pair: tuple[int, pytest.Item]) -> tuple[int, int, int]:
            index, item = pair
            cell = cell_of(item)
            if cell is None:
                return (index, 0, index)
            if item.get_closest_marker("compat_swap") is not None:
                return (first_seen[cell.id], 2, index)
            disruptive = item.get_closest_marker("compat_disruptive") is not None
            return (first_seen[cell.id], int(disruptive), index)

        items[:] = [item for _, item in sorted(enumerate(items), key=key)]


class _UnsupportedReports:
    """The call report of a scenario the pair cannot run (``OperationUnsupported`` raised in its
    body: verdict n/a), made without formatting a traceback. ``judge`` replaces its longrepr with
    the n/a reason anyway, and pytest's traceback (the source of every frame, parsed) costs about
    0.1 s a report: a third of the matrix's n/a results come this way. Every other report is
    pytest's own."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
        if call.when != "call" or call.excinfo is None or cell_of(item) is None:
            return None
        from compat.errors import OperationUnsupported

        if not call.excinfo.errisinstance(OperationUnsupported):
            return None
        # TestReport.from_item_and_call's failed report, but for its longrepr (set by judge).
        sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
        return pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                                 f"n/a: {call.excinfo.value}", "call", sections, call.duration, call.start,
                                 call.stop, user_properties=item.user_properties)


class _XdistBridge:
    """Tells every xdist worker the distribution mode the controller settled on."""

    def __init__(self, config: pytest.Config, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["compat_dist"] = getattr(self.config.option, "dist", "no")

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.progress is not None:  # the controller collects nothing itself: the workers' ids
            self.progress.set_collected(ids)


class _Recorder:
    """Collects verdicts on the controller (xdist forwards every worker's reports to it)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started_at = timing.utc_timestamp()
        self.collector: ResultsCollector | None = None  # made by the first report of a scenario
        self.written: list[Path] = []
        self.recorded = ""
        self._cached: RunResults | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.collector is None:
            if not any(key in _REPORT_KEYS for key, _ in report.user_properties):
                return  # not a compat scenario's, and none came before it
            from compat.results.collect import ResultsCollector

            self.collector = ResultsCollector(started_at=self.started_at)
        self.collector.add(report.nodeid, report.when, report.duration, report.user_properties)

    def _has_results(self) -> bool:
        return self.collector is not None and self.collector.has_results()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput") or not self._has_results():
            return  # reports are written once, on the controller
        from compat.report import write_reports
        from compat.results.store import record_run

        paths = _report_paths(self.config)
        # write_reports also appends the markdown to $GITHUB_STEP_SUMMARY when CI sets it.
        self.written = write_reports(self._results(), json_path=paths["json_path"], md_path=paths["md_path"],
                                     html_path=paths["html_path"])
        self.recorded = record_run(self._results(), self.config.getoption("compat_store"),
                                   cache_dir(self.config) / "results.db", label=self.config.getoption("compat_label"),
                                   root=Path(self.config.rootpath))
        if self.config.getoption("compat_fail_on_leak") and session.exitstatus == pytest.ExitCode.OK:
            from compat.report.resources import leaks

            if leaks(self._results()):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if hasattr(config, "workerinput") or not self._has_results():
            return
        from compat.plugin.console import section_lines

        terminalreporter.section("compat matrix")
        # Grades in colour where pytest writes colour (a terminal, --color=yes), plain otherwise.
        colour = bool(getattr(terminalreporter, "hasmarkup", False))
        for line, markup in section_lines(self._results(), allow_stale=bool(config.getoption("compat_allow_stale")),
                                          fail_on_leak=bool(config.getoption("compat_fail_on_leak")), color=colour,
                                          written=self.written, recorded=self.recorded):
            terminalreporter.write_line(line, **markup)

    def _results(self) -> RunResults:
        if self._cached is not None:
            return self._cached
        from compat.results.schema_join import annotate_from_wheels
        from compat.results.shards import with_shard_meta

        assert self.collector is not None, "results are asked for only once a scenario reported"
        results = self.collector.results(finished_at=timing.utc_timestamp(),
                                         matrix_path=str(matrix_path(self.config)))
        plan = compat_plan(self.config)
        # Join the static schema diff of every pair's wheels to the dynamic verdicts.
        wheels = [release.wheel for releases in plan.releases.values() for release in releases]
        client, gateway = plan.matrix.products["client"].package, plan.matrix.products["gateway"].package
        results = with_shard_meta(annotate_from_wheels(results, wheels, client, gateway), plan.shard)
        if self.config.getoption("compat_allow_stale"):  # the reports say which stale rule the run applied
            results = dataclasses.replace(results, meta={**results.meta, "allow_stale": True})
        # The reports' first screen: the gate of the matrix's window, its known issues, and the
        # flips since the last release run (read before this run is recorded).
        from compat.results.declared import with_declarations
        from compat.results.since import since_release, stamp

        results = with_declarations(results, plan.matrix)
        results = stamp(results, since_release(results, self.config.getoption("compat_store"),
                                               cache_dir(self.config) / "results.db"))
        if plan.matrix.removals:  # the reports and the gate tell a declared capability removal from a loss
            from compat.results.capabilities import REMOVALS_META

            records = [removal.to_record() for removal in plan.matrix.removals]
            results = dataclasses.replace(results, meta={**results.meta, REMOVALS_META: records})
        self._cached = results
        return self._cached


def _report_paths(config: pytest.Config) -> dict[str, Path | None]:
    report_dir = config.getoption("compat_report_dir")
    paths: dict[str, Path | None] = {"json_path": None, "md_path": None, "html_path": None}
    if report_dir:
        base = Path(report_dir)
        paths = {"json_path": base / "matrix.json", "md_path": base / "matrix.md", "html_path": base / "matrix.html"}
    for key, option in (("json_path", "compat_report_json"), ("md_path", "compat_report_md"),
                        ("html_path", "compat_report_html")):
        value = config.getoption(option)
        if value:
            paths[key] = Path(value)
    return paths


