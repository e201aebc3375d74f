"""pytest fixtures of compat (prefixed ``compat_``). Registered by ``compat.plugin.hooks``.

Imported in every run (pytest lists fixtures before it knows which tests use them), so only
the fixture functions are defined here: what each needs (envs, hosts, the stack, psutil
through the samplers and the leak guard) is imported in its body, when a scenario asks for it.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from compat.artifacts.envs import Env, EnvCache
    from compat.config.cell import Cell, Release
    from compat.harness.host import Host
    from compat.harness.resources import ResourceSampler
    from compat.run.oracle import Oracle
    from compat.run.plan import Plan
    from compat.run.scenario import Scenario
    from compat.run.stack import Stack, StackSettings

ROLES = ("exchange", "gateway", "client")
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    """After a scenario's body returned, its oracle judges every session (a violation fails it)."""
    result = yield  # a body that raised is judged on its own: the oracle does not run
    scenario = pyfuncitem.funcargs.get("compat")
    oracle = getattr(scenario, "oracle", None)
    if oracle is not None and pyfuncitem.get_closest_marker("bench") is None \
            and not pyfuncitem.config.getoption("compat_no_oracle"):
        from compat.run.oracle import verify
        from compat.run.scenario import Scenario

        assert isinstance(scenario, Scenario)
        verify(oracle, scenario, scenario.stack.log_dir / "oracle.jsonl", pyfuncitem.name)
    return result


@pytest.fixture(scope="session")
def compat_plan(request: pytest.FixtureRequest) -> Plan:
    from compat.plugin.hooks import compat_plan as plan_of

    return plan_of(request.config)


@pytest.fixture(scope="session")
def compat_run_dir(request: pytest.FixtureRequest) -> Path:
    """Logs of this run: ``<cache>/runs/<run id>/``; the id is shared by all xdist workers."""
    from compat.plugin.cache import run_id as run_id_of
    from compat.plugin.hooks import cache_dir

    run_id = os.environ.setdefault("COMPAT_RUN_ID", run_id_of(request.config))
    path = cache_dir(request.config) / "runs" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def compat_env_cache(request: pytest.FixtureRequest) -> EnvCache:
    from compat.artifacts.envs import EnvCache
    from compat.plugin.hooks import cache_dir

    return EnvCache(cache_dir(request.config) / "envs")


@pytest.fixture(scope="session")
def compat_hosts(request: pytest.FixtureRequest, compat_plan: Plan) -> Iterator[dict[str, Host]]:
    from compat.harness.host import host_from_spec
    from compat.run.plan import parse_assignments

    specs = {role: compat_plan.matrix.hosts.get(role, "local") for role in ROLES}
    specs.update(parse_assignments(request.config.getoption("compat_host"), "--compat-host"))
    # One Host per distinct spec: roles placed on the same netns/ssh host share it.
    by_spec = {spec: host_from_spec(spec) for spec in dict.fromkeys(specs.values())}
    yield {role: by_spec[spec] for role, spec in specs.items()}
    for host in by_spec.values():
        host.close()  # removes namespaces and remote run dirs; local: nothing


@pytest.fixture(scope="session")
def compat_leak_guard() -> Iterator[None]:
    """After the last stack of this process is down, no process the run started may survive."""
    from compat.harness.leaks import assert_no_leaks

    yield
    assert_no_leaks(kill_survivors=True)


@pytest.fixture(scope="session")
def compat_cell_stack(
    request: pytest.FixtureRequest, compat_leak_guard: None, compat_cell: Cell, compat_plan: Plan,
    compat_env_cache: EnvCache, compat_hosts: dict[str, Host], compat_run_dir: Path,
) -> Iterator[Stack]:
    """The running processes of one cell; started once per cell (cells are grouped per worker)."""
    from compat.artifacts.envs import EnvCache
    from compat.harness.resources import ResourceSampler
    from compat.run.stack import Stack

    cache = compat_env_cache
    if request.config.getoption("compat_naive_envs"):
        # The tox way, kept only to measure against: every pair builds its own envs from scratch.
        cache = EnvCache(compat_run_dir / "naive-envs" / compat_cell.id)
    envs: dict[str, Env] = {
        "gateway": cache.ensure(compat_cell.gateway),
        "client": cache.ensure(compat_cell.client),
    }
    if compat_plan.simulator is not None:  # the firm's simulator, run from its own wheel
        envs["exchange"] = cache.ensure(compat_plan.simulator)
    stack = Stack(compat_cell, compat_plan.matrix, envs, compat_run_dir / compat_cell.id, compat_hosts,
                  _stack_settings(compat_plan))
    stack.start()
    _apply_link_condition(request.config, stack)
    try:
        # CPU/RSS of every role for the cell's lifetime; stack.processes() follows restarts.
        with ResourceSampler.of_processes(stack.processes) as _SAMPLERS[compat_cell.id]:
            yield stack
    finally:
        _SAMPLERS.pop(compat_cell.id, None)
        stack.stop()


def _apply_link_condition(config: pytest.Config, stack: Stack) -> None:
    """--compat-link-delay/--compat-link-jitter: the client<->gateway link's standing condition,
    which every scenario runs under (a scenario's own faults are cleared back to it). Validated
    by the plugin at configure time."""
    delay_ms, jitter_ms = config.getoption("compat_link_delay"), config.getoption("compat_link_jitter")
    if (delay_ms or jitter_ms) and stack.gateway_proxy is not None:
        stack.gateway_proxy.set_baseline(delay_ms, jitter_ms)


def _link_condition(config: pytest.Config) -> str | None:
    delay_ms, jitter_ms = config.getoption("compat_link_delay"), config.getoption("compat_link_jitter")
    return f"fault proxy: delay {delay_ms:g}ms ± {jitter_ms:g}ms" if delay_ms or jitter_ms else None


def _stack_settings(plan: Plan) -> StackSettings:
    from compat.run.stack import StackSettings

    settings = plan.matrix.settings
    root = plan.matrix.root

    def path(key: str) -> Path | None:
        value = settings.get(key)
        return (root / str(value)) if value else None

    return StackSettings(
        start_timeout_s=float(settings.get("start_timeout_s", 20.0)),
        stop_grace_s=float(settings.get("stop_grace_s", 3.0)),
        instruments=path("instruments"),
        auth=path("auth"),
        early_drivers=("c1",),  # every scenario's first session uses it: start it with the stack
        gateway_with_exchange=_flag(settings.get("gateway_with_exchange", True), "gateway_with_exchange"),
    )


def _flag(value: object, key: str) -> bool:
    """A yes/no of matrix.yaml ``settings`` (free-form: checked where it is read)."""
    if not isinstance(value, bool):
        raise pytest.UsageError(f"compat: matrix.yaml settings.{key} must be true or false, got {value!r}")
    return value


class _CellLeases:
    """Per cell: each instrument of a pool once (every test starts on an empty book) and fresh
    users ``u0001``, ``u0002``... (the reference auth file lists u0001–u0500, token ``secret``)."""

    def __init__(self, pools: dict[str, list[str]]) -> None:
        self._pools = {k: list(v) for k, v in pools.items()}
        self._lock = threading.Lock()
        self._users = itertools.count(1)

    def user(self) -> str:
        with self._lock:
            return f"u{next(self._users):04d}"

    def take(self, pool: str) -> str:
        with self._lock:
            available = self._pools.get(pool)
            if not available:
                raise pytest.UsageError(f"compat: instrument pool {pool!r} is exhausted or unknown; "
                                        f"pools: {sorted(self._pools)}")
            return available.pop(0)


_LEASES: dict[str, _CellLeases] = {}
_SAMPLERS: dict[str, ResourceSampler] = {}  # cell id → the sampler running over its stack


@pytest.fixture
def compat_stack(request: pytest.FixtureRequest, compat_cell_stack: Stack) -> Iterator[Stack]:
    """The cell's stack, healthy at the start of every test: restarted if a scenario broke it or
    swapped its gateway, and its gateway restarted after a disruptive scenario that may have
    damaged it (``_fresh_gateway_after``)."""
    from compat.results.collect import ENVS

    stack = compat_cell_stack
    if not stack.healthy():
        stack.stop()
        stack.start()
        _apply_link_condition(request.config, stack)
    request.node.user_properties.append((ENVS, json.dumps([_env_record(e) for e in stack.envs.values()])))
    before = stack.gateway_marker()
    yield stack
    if request.node.get_closest_marker("compat_disruptive") is not None and _fresh_gateway_after(
            request.node, stack, before):
        stack.restart_gateway()  # in this scenario's teardown: a gateway that cannot restart is its finding


def _fresh_gateway_after(item: pytest.Item, stack: Stack, before: tuple[int, ...]) -> bool:
    """Whether a disruptive scenario leaves the cell's next scenario a gateway to restart (the same
    release on the same journal), so one finding never cascades into the next verdict.

    Yes when the scenario disturbed the gateway (paused, killed or restarted it, or injected a
    fault on a link of it) and did not pass (a failure, an error, an expected failure, n/a), and
    whenever it runs with the scenario's own auth file. Not after a pass: a fault scenario ends
    by proving the gateway still serves. Not when the scenario never disturbed it: a failure
    then is an ordinary finding, as in any scenario. Not when the gateway is down or swapped for
    another release: the next scenario's setup starts a fresh stack then.
    """
    if stack.gateway is None or stack.gateway.poll() is not None or stack.gateway_release != stack.cell.gateway:
        return False
    if not stack.gateway_as_configured:
        return True
    call = item.stash.get(_REPORTS, {}).get("call")
    passed = call is not None and call.passed
    return not passed and stack.gateway_marker() != before


@pytest.fixture
def compat_oracle(compat_stack: Stack) -> Oracle | None:
    """The invariant oracle run after every scenario (unless --compat-no-oracle): the built-in
    trading oracle on compat's simulated exchange, none otherwise. Override this fixture (in a
    conftest.py) to plug in an oracle for your own exchange (``compat.run.oracle.Oracle``)."""
    from compat.run.oracle import default_oracle

    return default_oracle(compat_stack.matrix.exchange.builtin)


@pytest.fixture
def compat(request: pytest.FixtureRequest, compat_stack: Stack, compat_plan: Plan,
           compat_env_cache: EnvCache, compat_oracle: Oracle | None) -> Iterator[Scenario]:
    """The scenario's handle: sessions, fresh symbols, and evidence collected on failure."""
    from compat.results.cache_key import DEPS
    from compat.results.verdicts import DETAILS
    from compat.run.scenario import Scenario

    leases = _LEASES.get(compat_stack.cell.id)
    if leases is None:  # once per cell: reading the instruments file costs ~50 ms a time
        leases = _LEASES[compat_stack.cell.id] = _CellLeases(instrument_pools(compat_stack))

    def restart(release: Release) -> None:
        compat_stack.restart_gateway(release, compat_env_cache.ensure(release))

    def probe(release: Release) -> None:
        compat_stack.probe_gateway(release, compat_env_cache.ensure(release))

    gateways = compat_plan.releases.get("gateway", ())
    scenario = Scenario(compat_stack, leases.take, gateways, restart, users=leases.user, probe=probe,
                        oracle=compat_oracle)
    swaps_before = len(compat_stack.swap_targets)
    yield scenario
    request.node.user_properties.append((DEPS, json.dumps(_deps(scenario, compat_stack, swaps_before, gateways))))
    reports = request.node.stash.get(_REPORTS, {})
    call = reports.get("call")
    hosts = {role: h.spec for role, h in compat_stack.hosts.items()}
    if (link := _link_condition(request.config)) is not None:
        hosts["client-gateway link"] = link  # the report names the injected condition next to the hosts
    details: dict[str, Any] = {"hosts": hosts,
                               "metrics": scenario.metrics}
    if (sampler := _SAMPLERS.get(compat_stack.cell.id)) is not None:
        details["resources"] = sampler.record()  # the cell so far; the results keep the longest window
    if call is not None and not call.passed:
        details["log_tails"] = compat_stack.log_tails()
        details["wire"] = scenario.wire_logs()
    request.node.user_properties.append((DETAILS, json.dumps(details, default=str)))
    scenario.release()


def _deps(scenario: Scenario, stack: Stack, swaps_before: int, gateways: Sequence[Release]) -> dict[str, Any]:
    """What the verdict cache must also check before reusing this result (``cache_key.Deps``):
    the releases a live swap started (other than the cell's own gateway) and, when the body
    looked at the plan's gateway releases (a neighbour to swap to), their order."""
    from compat.results.cache_key import Deps

    swapped = [r for r in stack.swap_targets[swaps_before:] if r != stack.cell.gateway]
    return Deps(swapped_to=tuple(dict.fromkeys((r.label, r.sha256) for r in swapped)),
                gateway_order=tuple(r.label for r in gateways) if scenario.read_gateway_order else None).to_dict()


def instrument_pools(stack: Stack) -> dict[str, list[str]]:
    """Symbols grouped by pool prefix (``ABC007`` is in pool ``ABC``) from the stack's instruments."""
    from compat.exchange.instruments import load_config

    pools: dict[str, list[str]] = {}
    for instrument in load_config(stack.instruments_path).instruments:
        symbol = str(instrument.symbol)
        pool = symbol.rstrip("0123456789") or symbol
        pools.setdefault(pool, []).append(symbol)
    return pools


def _env_record(env: Env) -> dict[str, Any]:
    return {"product": env.release.package, "version": env.release.version, "wheel_sha256": env.release.sha256,
            "path": str(env.path), "built": env.built, "seconds": round(env.seconds, 3)}
