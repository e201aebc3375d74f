"""The verdict cache in a pytest run: results reused when nothing that could change them changed.

For every (cell, scenario) test the plugin computes its key once the plan and the items are
known (``compat.results.cache_key``: both wheels, the exchange, the scenario's sources,
compat's source, the expectation, the matrix settings, hosts, Python and platform...). Then:

- **Reuse** (``pytest_runtest_protocol``, first): a key found in the cache file
  (``compat.results.verdict_cache``) whose recorded deps still hold is *replayed*: its stored
  reports are logged as this test's (marked ``compat_cached``: ``cached_from`` in the JSON, a
  distinct grade in the grid, a count in the summary) without setting up a fixture, so a cell
  whose every scenario is cached starts no process at all.
- **Record** (a wrapper around the protocol, on the process that ran the test: an xdist
  worker or the only one): a clean final verdict (``CACHEABLE``) is written under the key the
  test had *before* it ran, with the reports of its final attempt and the deps the ``compat``
  fixture recorded (the releases a live swap started, whether the gateway order was read).

``--compat-fresh`` reuses nothing (and still records); a release run (``--compat-label
release``) is fresh unless ``--compat-reuse-verdicts``; ``--compat-verdict-cache none`` neither
reuses nor records. Scenarios marked ``bench`` (measurements, not verdicts) and those matrix.yaml
declares ``unsupported`` (skipped, they cost nothing) are never cached.

Top level: the stdlib and pytest only (``compat.plugin.hooks`` loads this module in every run);
the cache, the keys and the results are imported once a compat test is collected.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from compat import timing
from compat.plugin.hooks import EXPECTATION_KEY, cache_dir, cell_of, compat_plan, scenario_name

if TYPE_CHECKING:
    from compat.config.cell import Cell
    from compat.results.verdict_cache import CachedResult, VerdictCache

RELEASE_LABEL = "release"
_KEY = pytest.StashKey[str | None]()
# The cache's entry under an item's key, read once: a worker weighs its cells with it when it
# orders them (compat.plugin.schedule), then replays it.
_FOUND = pytest.StashKey["CachedResult | None"]()
_RUN_ID = pytest.StashKey[str]()
_CACHED_PROPERTY = "compat_cached"  # compat.results.cache_key.CACHED (test_verdict_cache holds them equal)
# pytest's ini options that can turn a scenario's outcome around (a warning made an error, a
# strict xfail, what is on sys.path, a per-test timeout); read with getini, keyed with the run.
_VERDICT_INI = ("addopts", "filterwarnings", "xfail_strict", "pythonpath", "usefixtures", "timeout",
                "timeout_method", "asyncio_mode")
# A result's expected seconds when the cache holds no duration of it (the median scenario is ~0.1 s).
DEFAULT_RESULT_S = 0.2
_ENVS_PROPERTY = "compat_envs"  # compat.results.collect.ENVS: a replay built no env, so it claims none


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compat", "compatibility matrix")
    group.addoption("--compat-fresh", action="store_true",
                    help="run every scenario: reuse no verdict from the verdict cache (fresh results are "
                    "still recorded in it)")
    group.addoption("--compat-reuse-verdicts", action="store_true",
                    help="reuse cached verdicts in a release run too (--compat-label release runs fresh)")
    group.addoption("--compat-verdict-cache", metavar="PATH|none",
                    help="the verdict cache file (default <cache dir>/verdicts.db); 'none': neither reuse "
                    "nor record verdicts")


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get("compat_run_id"):
        config.stash[_RUN_ID] = str(workerinput["compat_run_id"])
    else:
        config.stash[_RUN_ID] = os.environ.get("COMPAT_RUN_ID") or \
            f"{timing.utc_timestamp().replace(':', '')}-{os.getpid()}"
    plugin = VerdictCachePlugin(config)
    config.pluginmanager.register(plugin, "compat-verdict-cache")
    config.pluginmanager.register(_RecordAfterRun(plugin), "compat-verdict-cache-record")
    if workerinput is not None:  # xdist hands cells out in the order its workers collected them
        from compat.plugin.schedule import HeaviestCellsFirst

        config.pluginmanager.register(HeaviestCellsFirst(plugin.expected_seconds), "compat-schedule")
    if workerinput is None and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_RunIdToWorkers(config), "compat-run-id")


def run_id(config: pytest.Config) -> str:
    """The id of this run, the same on the controller and every xdist worker: the name of its
    log directory (``<cache>/runs/<run id>``) and the ``run_id`` of the results it caches."""
    return config.stash[_RUN_ID]


class _RunIdToWorkers:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["compat_run_id"] = run_id(self.config)


def cache_path(config: pytest.Config) -> Path | None:
    """The cache file this run uses, None with ``--compat-verdict-cache none``."""
    value = config.getoption("compat_verdict_cache")
    if value is not None and str(value).lower() == "none":
        return None
    if value:
        path = Path(value)
        return path if path.is_absolute() else Path(config.invocation_params.dir) / path
    from compat.results.verdict_cache import DEFAULT_NAME

    return cache_dir(config) / DEFAULT_NAME


def reuse_rule(config: pytest.Config) -> tuple[bool, str]:
    """(reuse cached verdicts?, the rule in words for the terminal)."""
    if config.getoption("compat_fresh"):
        return False, "--compat-fresh: every scenario ran, none was reused"
    if config.getoption("compat_label") == RELEASE_LABEL and not config.getoption("compat_reuse_verdicts"):
        return False, "a release run is fresh: every scenario ran (--compat-reuse-verdicts reuses cached verdicts)"
    return True, "--compat-fresh reruns them"


class VerdictCachePlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.reuse, self.rule = reuse_rule(config)
        self._cache: VerdictCache | None = None
        self._unusable: str | None = None  # why the cache file cannot be used (warned once)
        self._run: dict[str, Any] | None = None
        self._cells: dict[str, dict[str, Any] | None] = {}
        # What every cell shares (matrix_ingredients), and each scenario module's part: computed
        # once per process, not once per item (they read the exchange's and adapters' sources).
        self._shared: dict[str, Any] | None = None
        self._shared_known = False
        self._files: dict[Path, dict[str, str]] = {}
        self._running: str | None = None  # the node id this process is running now
        self._reports: list[pytest.TestReport] = []
        self._replayed: set[str] = set()  # node ids replayed from the cache (controller: as reported)
        self._fresh: set[str] = set()
        self._past: dict[tuple[str, str], float] | None = None  # (cell id, scenario): seconds, as the run found them

    # --- keys ----------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)  # after hooks.py attached the expectations and -k/-m deselected
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        cells = [(item, cell) for item in items if (cell := cell_of(item)) is not None]
        if not cells or cache_path(config) is None:
            return  # nothing of compat in this run: nothing of the cache is imported either
        for item, cell in cells:
            item.stash[_KEY] = self._key(item, cell)

    def _key(self, item: pytest.Item, cell: Cell) -> str | None:
        """The item's cache key, or None for a test that is never cached."""
        if item.get_closest_marker("bench") is not None or item.get_closest_marker("skip") is not None:
            return None  # a measurement, or declared unsupported (skipped before anything runs)
        from compat.results.cache_key import result_key, scenario_ingredients

        cell_part = self._cell_ingredients(cell)
        if cell_part is None:
            return None
        scenario = scenario_ingredients(item.path, Path(self.config.rootpath), (), scenario_name(item),
                                        item.stash.get(EXPECTATION_KEY, None), self._file_ingredients(item.path))
        return result_key(self._run_ingredients(), cell_part, scenario)

    def _file_ingredients(self, path: Path) -> dict[str, str]:
        """A scenario module's key part, once per module (thousands of items share a few files)."""
        if path not in self._files:
            from compat.results.cache_key import file_ingredients, import_bases

            root = Path(self.config.rootpath)
            pythonpath = [Path(p) for p in self.config.getini("pythonpath")]
            self._files[path] = file_ingredients(path, root, import_bases(path, root, pythonpath))
        return self._files[path]

    def _run_ingredients(self) -> dict[str, Any]:
        if self._run is None:
            from compat.results.cache_key import run_ingredients

            option = self.config.getoption
            options = {"link_delay_ms": option("compat_link_delay"), "link_jitter_ms": option("compat_link_jitter"),
                       "reruns": option("compat_reruns"), "bench": bool(option("compat_bench"))}
            ini: dict[str, object] = {}
            for name in _VERDICT_INI:
                try:
                    ini[name] = str(self.config.getini(name))
                except ValueError:
                    continue  # not an option of this pytest and its plugins
            self._run = run_ingredients(options, ini, pytest.__version__)
        return self._run

    def _cell_ingredients(self, cell: Cell) -> dict[str, Any] | None:
        if cell.id not in self._cells:
            from compat.results.cache_key import cell_part, matrix_ingredients
            from compat.run.plan import parse_assignments

            plan = compat_plan(self.config)
            if not self._shared_known:
                hosts = {role: plan.matrix.hosts.get(role, "local") for role in ("exchange", "gateway", "client")}
                hosts.update(parse_assignments(self.config.getoption("compat_host"), "--compat-host"))
                self._shared, self._shared_known = matrix_ingredients(plan.matrix, plan.simulator, hosts), True
            shared = self._shared
            self._cells[cell.id] = None if shared is None else cell_part(shared, cell)
        return self._cells[cell.id]

    def _open(self) -> VerdictCache | None:
        if self._cache is None and self._unusable is None:
            from compat.errors import ResultsError
            from compat.results.verdict_cache import VerdictCache

            path = cache_path(self.config)
            assert path is not None, "keys are made only when there is a cache"
            try:
                self._cache = VerdictCache(path)
            except ResultsError as exc:  # a broken cache costs time, never a verdict
                self._give_up(str(exc))
        return self._cache

    def _give_up(self, why: str) -> None:
        """Run on without the cache (every test runs, nothing is recorded), saying so once: a
        warning in pytest's summary, which xdist carries from a worker to the controller."""
        import warnings

        from compat.errors import CompatWarning

        self._unusable = why
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        warnings.warn(CompatWarning(f"compat verdict cache not used from here on: {why}"), stacklevel=1)

    # --- scheduling ----------------------------------------------------------------------

    def expected_seconds(self, item: pytest.Item, cell: Cell) -> float:
        """What ``item`` should cost in this run (compat.plugin.schedule weighs cells with it):
        nothing when declared unsupported or found in the cache as the run started (this run's
        own records left out: every xdist worker must come to the same order), else its last
        recorded duration, else ``DEFAULT_RESULT_S``."""
        if item.get_closest_marker("skip") is not None:
            return 0.0
        key = item.stash.get(_KEY, None)
        if self.reuse and key is not None and (cache := self._open()) is not None:
            from compat.errors import ResultsError
            from compat.results.cache_key import deps_hold

            try:
                entry = _entry(item, key, cache)
            except ResultsError:
                entry = None  # the run itself says so, once, when it looks the key up
            if entry is not None and entry.run_id != run_id(self.config) and \
                    deps_hold(entry.deps, compat_plan(self.config).releases.get("gateway", ())):
                return 0.0
        return self._past_durations().get((cell.id, scenario_name(item)), DEFAULT_RESULT_S)

    def _past_durations(self) -> dict[tuple[str, str], float]:
        if self._past is None:
            self._past = {}
            if cache_path(self.config) is not None and (cache := self._open()) is not None:
                from compat.errors import ResultsError

                with contextlib.suppress(ResultsError):  # no durations: every result weighs DEFAULT_RESULT_S
                    self._past = cache.past_durations(exclude_run=run_id(self.config))
        return self._past

    # --- reuse ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        key = item.stash.get(_KEY, None)
        if not self.reuse or key is None or (cache := self._open()) is None:
            return None
        from compat.errors import ResultsError
        from compat.results.cache_key import deps_hold

        try:
            entry = _entry(item, key, cache)
        except ResultsError as exc:
            self._give_up(str(exc))
            return None
        if entry is None or not deps_hold(entry.deps, compat_plan(self.config).releases.get("gateway", ())):
            return None
        _replay(item, nextitem, entry)
        return True

    # --- record --------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid == self._running:
            self._reports.append(report)
        if report.when != "call" and report.outcome != "skipped":
            return
        properties = dict(report.user_properties)
        if _CACHED_PROPERTY in properties:
            self._replayed.add(report.nodeid)
        elif "compat" in properties:
            self._fresh.add(report.nodeid)

    def _record(self, key: str) -> None:
        from compat.results.cache_key import DEPS, Deps
        from compat.results.collect import ResultsCollector
        from compat.results.verdict_cache import CACHEABLE, CachedResult

        attempt = _final_attempt(self._reports)
        if not attempt or any(_CACHED_PROPERTY in dict(r.user_properties) for r in self._reports):
            return
        collector = ResultsCollector(started_at="")  # every attempt: a pass after a failure is flaky
        for report in self._reports:
            collector.add(report.nodeid, report.when, report.duration, report.user_properties)
        results = collector.results(finished_at="", matrix_path="")
        scenarios = [s for cell in results.cells for s in cell.scenarios]
        if len(scenarios) != 1 or scenarios[0].verdict not in CACHEABLE:
            return
        scenario = scenarios[0]
        deps = Deps()
        for report in attempt:
            for name, value in report.user_properties:
                if name == DEPS:
                    deps = Deps.from_dict(json.loads(str(value)))
        entry = CachedResult(key=key, cell_id=results.cells[0].cell_id, scenario=scenario.scenario,
                             verdict=scenario.verdict, run_id=run_id(self.config), recorded_at=timing.utc_timestamp(),
                             duration_s=sum(r.duration for r in attempt), deps=deps,
                             reports=tuple(_stored(report) for report in attempt))
        cache = self._open()
        if cache is not None:
            from compat.errors import ResultsError

            try:
                cache.put(entry)
            except ResultsError as exc:
                self._give_up(str(exc))

    # --- the end -------------------------------------------------------------------------

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        if report.when == "call" and report.passed and _CACHED_PROPERTY in dict(report.user_properties):
            return "passed", "c", ("PASSED (cached)", {"green": True})
        return None

    @pytest.hookimpl(tryfirst=True)  # before the compat section: its gate decision stays the last line
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if hasattr(config, "workerinput") or not (self._replayed or self._fresh):
            return
        path = cache_path(config)
        if path is None:
            terminalreporter.write_line("compat verdict cache: off (--compat-verdict-cache none)")
            return
        reused, total = len(self._replayed), len(self._replayed | self._fresh)
        line = f"compat verdict cache: {reused} of {total} results reused from {path}"
        terminalreporter.write_line(f"{line}; {self.rule}" if self.reuse or not reused else line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _entry(item: pytest.Item, key: str, cache: VerdictCache) -> CachedResult | None:
    """The cache's entry under ``item``'s ``key``, read from the file once per item (a
    ResultsError when it cannot be read, and nothing kept)."""
    if _FOUND not in item.stash:
        item.stash[_FOUND] = cache.get(key)
    return item.stash[_FOUND]


def _final_attempt(reports: list[pytest.TestReport]) -> list[pytest.TestReport]:
    """The reports of a test's last attempt (pytest-rerunfailures logs every attempt's setup,
    call and teardown in turn): those from the last ``setup`` on."""
    starts = [n for n, report in enumerate(reports) if report.when == "setup"]
    return reports[starts[-1]:] if starts else []


def _stored(report: pytest.TestReport) -> dict[str, Any]:
    """A report as the cache keeps it: enough to log it again as this test's."""
    longrepr: Any = None
    if report.skipped and isinstance(report.longrepr, tuple):
        longrepr = [str(report.longrepr[0]), report.longrepr[1], str(report.longrepr[2])]
    elif report.failed or report.skipped:
        longrepr = report.longreprtext
    return {"when": report.when, "outcome": report.outcome, "longrepr": longrepr,
            "wasxfail": getattr(report, "wasxfail", None),
            "user_properties": [[str(name), value if isinstance(value, str) else json.dumps(value, default=str)]
                                for name, value in report.user_properties]}


def _replay(item: pytest.Item, nextitem: pytest.Item | None, entry: CachedResult) -> None:
    """Log ``entry``'s reports as ``item``'s, as pytest's own protocol would log a run of it,
    without setting up any fixture; only what the previous test left set up and ``nextitem``
    does not need is torn down (the teardown pytest would have done after this test)."""
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    origin = json.dumps(entry.origin())
    expectation = item.stash.get(EXPECTATION_KEY, None)
    keywords: dict[str, Any] = dict.fromkeys(item.keywords, 1)
    for stored in entry.reports:
        if stored["when"] == "teardown":
            failed = _teardown(item, nextitem)
            if failed is not None:  # a fixture of an earlier test failed to tear down: reported as pytest would
                ihook.pytest_runtest_logreport(report=failed)
                continue
        now = timing.wall_ns() / 1e9
        report = pytest.TestReport(
            item.nodeid, item.location, keywords, stored["outcome"], _replayed_longrepr(stored, entry),
            stored["when"], duration=0.0, start=now, stop=now,
            user_properties=_replayed_properties(stored, expectation, origin),
        )
        if stored.get("wasxfail") is not None:
            report.wasxfail = stored["wasxfail"]  # pytest's own xfail attribute
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


def _teardown(item: pytest.Item, nextitem: pytest.Item | None) -> pytest.TestReport | None:
    """pytest's teardown step for ``item`` (``SetupState.teardown_exact``: what ``nextitem``
    does not share is torn down); a failing finalizer's report, None when all went well."""
    call = pytest.CallInfo.from_call(lambda: item.session._setupstate.teardown_exact(nextitem), when="teardown",
                                     reraise=(pytest.exit.Exception, KeyboardInterrupt))
    if call.excinfo is None:
        return None
    report: pytest.TestReport = item.ihook.pytest_runtest_makereport(item=item, call=call)
    return report


def _replayed_longrepr(stored: dict[str, Any], entry: CachedResult) -> Any:
    longrepr = stored.get("longrepr")
    if isinstance(longrepr, list):
        return (longrepr[0], longrepr[1], longrepr[2])  # a skip: (path, line, reason)
    if longrepr and stored["outcome"] == "failed":
        return (f"compat: cached verdict of run {entry.run_id} ({entry.recorded_at}); --compat-fresh reruns it\n"
                f"{longrepr}")
    return longrepr


def _replayed_properties(stored: dict[str, Any], expectation: dict[str, Any] | None,
                         origin: str) -> list[tuple[str, object]]:
    """The stored user_properties, but: no env records (a replay built none), the verdict
    payload naming matrix.yaml's rule as it reads now (its line may have moved), and where the
    result came from."""
    properties: list[tuple[str, object]] = []
    for name, value in stored["user_properties"]:
        if name == _ENVS_PROPERTY:
            continue
        if name == "compat":
            payload = json.loads(value)
            payload["expectation"] = expectation
            value = json.dumps(payload, default=str)
        properties.append((name, value))
    properties.append((_CACHED_PROPERTY, origin))
    return properties


class _RecordAfterRun:
    """Wraps each test this process runs: its reports, then its result recorded under its key
    (a second object: the reuse hook of ``VerdictCachePlugin`` already has the hook's name)."""

    def __init__(self, plugin: VerdictCachePlugin) -> None:
        self.plugin = plugin

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[
            None, bool | None, bool | None]:
        plugin = self.plugin
        plugin._running, plugin._reports = item.nodeid, []
        try:
            result = yield
        finally:
            plugin._running = None
        key = item.stash.get(_KEY, None)
        if key is not None:
            plugin._record(key)
        plugin._reports = []
        return result
