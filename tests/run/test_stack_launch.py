"""The launch contract and the exchange role on real processes: a Stack of tiny helper programs
(tests/run/helpers/) with `exchange: none` and with an own simulator, started and stopped by
what matrix.yaml says (placeholders, env, ready lines, stop sequences)."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from compat.artifacts.envs import Env
from compat.config.cell import Cell, Release
from compat.config.matrix import load_matrix
from compat.errors import StartError
from compat.harness.host import Host
from compat.harness.local import LocalHost
from compat.run.stack import Stack, StackSettings

HELPERS = Path(__file__).resolve().parent / "helpers"
PY = sys.executable


def _release(role: str, version: str) -> Release:
    return Release(role, f"fake{role}", version, Path(f"{role}.whl"), "0" * 64)


def _env(release: Release, tmp_path: Path) -> Env:
    return Env(release=release, path=tmp_path, python=Path(PY), bin_dir=Path(PY).parent, built=False, seconds=0.0)


def _matrix(tmp_path: Path, body: str) -> Path:
    """matrix.yaml in its own folder with the helpers beside it ({matrix_dir} must find them)."""
    folder = tmp_path / "project"
    folder.mkdir()
    for helper in HELPERS.glob("*.py"):
        (folder / helper.name).write_text(helper.read_text())
    (folder / "adapter.py").write_text("class Adapter: ...\n")
    path = folder / "matrix.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def _stack(tmp_path: Path, matrix_path: Path, venue: str, early_drivers: tuple[str, ...] = (),
           **settings: float) -> Stack:
    matrix = load_matrix(matrix_path)
    cell = Cell(client=_release("client", "1.0.0"), gateway=_release("gateway", "2.0.0"), venue=venue)
    envs = {"gateway": _env(cell.gateway, tmp_path), "client": _env(cell.client, tmp_path)}
    local: Host = LocalHost()
    hosts = {"exchange": local, "gateway": local, "client": local}
    return Stack(cell, matrix, envs, tmp_path / "logs" / cell.id, hosts,
                 StackSettings(start_timeout_s=settings.get("start_timeout_s", 15.0), stop_grace_s=10.0,
                               early_drivers=early_drivers))


_EXCHANGES_BEFORE: set[int] = set()


def _exchange_descendants() -> list[psutil.Process]:
    """compat.exchange processes below this one that this test started: under xdist another
    module's fixture on the same worker may keep its own exchange running meanwhile."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "compat.exchange" in " ".join(child.cmdline()) and child.pid not in _EXCHANGES_BEFORE:
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.fixture(autouse=True)
def _exchanges_already_running() -> Iterator[None]:
    _EXCHANGES_BEFORE.clear()
    _EXCHANGES_BEFORE.update(p.pid for p in _exchange_descendants())
    yield
    _EXCHANGES_BEFORE.clear()


NO_EXCHANGE = f"""\
products:
  gateway:
    package: fakegateway
    source: .
    launch:
      - argv: ["{PY}", "{{matrix_dir}}/gateway.py", "--out", "{{log_dir}}/gateway-seen.json", "--venue", "{{venue}}"]
    env: {{GW_HOME: "{{matrix_dir}}/home", GW_MODE: "test"}}
    stop: [TERM, KILL]
  client:
    package: fakeclient
    source: .
    adapter: adapter.py
exchange: none
"""


@pytest.fixture
def no_exchange_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = _stack(tmp_path, _matrix(tmp_path, NO_EXCHANGE), venue="")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_exchange_none_starts_no_exchange_and_no_link_proxy(no_exchange_stack: Stack) -> None:
    stack = no_exchange_stack
    assert stack.cell.id == "client-1.0.0--gateway-2.0.0"
    assert stack.exchange is None and stack.exchange_link is None and stack.exchange_addresses == {}
    assert _exchange_descendants() == []
    gateway = stack.gateway
    assert gateway is not None and gateway.poll() is None
    assert any(child.pid == gateway.pid for child in psutil.Process().children(recursive=True))
    assert stack.healthy() and set(stack.processes()) == {"gateway"}


def test_an_early_driver_starts_with_the_stack_and_is_the_one_client_hands_out(tmp_path: Path) -> None:
    matrix_path = _matrix(tmp_path, NO_EXCHANGE)
    (matrix_path.parent / "adapter.py").write_text("class Adapter:\n    def __init__(self, ctx):\n        pass\n")
    stack = _stack(tmp_path, matrix_path, venue="", early_drivers=("c1",))
    stack.start()
    try:
        early = stack.processes()["client:c1"]  # started by start(), before anyone asked for it
        assert early.poll() is None
        handle = stack.client("c1")  # shakes hands with that process instead of starting another
        assert handle.channel is early and stack.processes()["client:c1"] is early
        assert stack.client("c1") is handle
        assert set(stack.processes()) == {"gateway", "client:c1"}
    finally:
        stack.stop()
    assert early.poll() is not None, "the early driver outlived its stack"
    assert stack.processes() == {}


def test_a_bare_ready_line_and_matrix_dir_and_env_reach_the_gateway(no_exchange_stack: Stack) -> None:
    stack = no_exchange_stack
    assert stack.gateway is not None
    assert stack.gateway.ready_line.startswith("READY 127.0.0.1:")  # the default regex, no GATEWAY prefix
    port = int(stack.gateway.ready_line.rsplit(":", 1)[1])
    assert stack.gateway_address == ("127.0.0.1", port)
    seen = json.loads((stack.log_dir / "gateway-seen.json").read_text())
    matrix_dir = str(stack.matrix.root)
    assert seen["script"] == f"{matrix_dir}/gateway.py"
    assert seen["env"] == {"GW_HOME": f"{matrix_dir}/home", "GW_MODE": "test"}
    assert seen["argv"][seen["argv"].index("--venue") + 1] == ""  # no venue in this matrix


def test_a_term_only_gateway_stops_cleanly_with_its_stop_sequence(no_exchange_stack: Stack) -> None:
    stack = no_exchange_stack
    gateway = stack.gateway
    assert gateway is not None
    assert stack.stop_gateway() == 0  # SIGTERM first: a clean exit, not a kill
    log = gateway.log_path.read_text()
    assert "stop: SIGTERM to process group" in log and "exited with code 0 after SIGTERM" in log
    assert "SIGINT" not in log  # the default sequence would have started with it (and waited)


def test_a_gateway_that_never_reports_ready_shows_what_it_printed(tmp_path: Path) -> None:
    body = NO_EXCHANGE.replace('"--venue", "{venue}"]', '"--never-ready"]')
    stack = _stack(tmp_path, _matrix(tmp_path, body), venue="", start_timeout_s=1.0)
    with pytest.raises(StartError) as raised:
        stack.start()
    message = str(raised.value)
    assert "did not report ready within 1.0s" in message
    assert "booting: configuration read, waiting for a licence server" in message  # the tail of its output
    assert "READY" in message  # the regex it waited for


SIMULATOR = f"""\
products:
  gateway:
    package: fakegateway
    source: .
    launch:
      - argv: >-
          {PY} {{matrix_dir}}/gateway.py --out {{workdir}}/seen.json
          --exchange {{exchange}} --host {{exchange_host}} --port {{exchange_port}}
    stop: [TERM]
  client:
    package: fakeclient
    source: .
    adapter: adapter.py
exchange:
  argv: ["{PY}", "{{matrix_dir}}/simulator.py", "{{listen_host}}"]
  venues: [xch]
  ready: '^SIM READY (?P<addrs>.+)$'
  env: {{SIM_TAG: "sim-for-{{venue}}"}}
  stop: [TERM, KILL]
  stop_grace_s: 5
"""


def test_an_own_simulator_is_launched_per_cell_and_reaches_the_gateway(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _matrix(tmp_path, SIMULATOR), venue="xch")
    stack.start()
    try:
        simulator, gateway = stack.exchange, stack.gateway
        assert simulator is not None and gateway is not None
        assert _exchange_descendants() == []  # the simulator, not compat's exchange
        assert simulator.ready_line.startswith("SIM READY xch=127.0.0.1:")
        assert stack.exchange_link is not None  # the gateway's link goes through the fault proxy
        seen = json.loads((stack.log_dir / "gateway-1" / "seen.json").read_text())
        link_host, link_port = stack.exchange_link.address
        argv = seen["argv"]
        assert argv[argv.index("--exchange") + 1] == f"{link_host}:{link_port}"
        assert argv[argv.index("--host") + 1] == link_host and argv[argv.index("--port") + 1] == str(link_port)
        assert seen["exchange_answer"] == "sim-for-xch ping"  # through the proxy, to the simulator, with its env
    finally:
        stack.stop()
    assert simulator.poll() == 0
    log = simulator.log_path.read_text()
    assert "stop: SIGTERM to process group" in log and "exited with code 0 after SIGTERM" in log
    assert "SIGINT" not in log
    assert _exchange_descendants() == []


def _ordered_matrix(tmp_path: Path, simulator_args: str) -> Path:
    """SIMULATOR, with the gateway touching ``{log_dir}/gateway-started`` first thing and noting
    whether ``{log_dir}/sim-ready`` (the simulator's mark before its ready line) existed then."""
    body = SIMULATOR.replace("--exchange {{exchange}}".replace("{{", "{").replace("}}", "}"),
                             "--exchange {exchange} --started {log_dir}/gateway-started "
                             "--exchange-mark {log_dir}/sim-ready")
    body = body.replace('"{listen_host}"]', f'"{{listen_host}}", {simulator_args}]')
    return _matrix(tmp_path, body)


def test_the_gateway_starts_while_the_exchange_starts_and_meets_it_ready(tmp_path: Path) -> None:
    """The simulator gets ready only once the gateway has started: a stack that waited for the
    exchange's ready line before starting the gateway would never get either ready. The gateway's
    connection to the exchange (through the link proxy, held until the simulator is ready) is
    answered by the simulator all the same."""
    matrix_path = _ordered_matrix(tmp_path, '"--after", "{log_dir}/gateway-started", "--mark", "{log_dir}/sim-ready"')
    stack = _stack(tmp_path, matrix_path, venue="xch")
    stack.start()
    try:
        seen = json.loads((stack.log_dir / "gateway-1" / "seen.json").read_text())
        assert seen["exchange_ready_at_start"] is False  # it started before the simulator was ready
        assert seen["exchange_answer"] == "sim-for-xch ping"  # and its first exchange message was answered
        assert stack.exchange_link is not None and stack.exchange_link.upstream == stack.exchange_address
    finally:
        stack.stop()


def test_with_gateway_with_exchange_off_the_gateway_starts_after_the_exchange_is_ready(tmp_path: Path) -> None:
    matrix_path = _ordered_matrix(tmp_path, '"--mark", "{log_dir}/sim-ready"')
    stack = _stack(tmp_path, matrix_path, venue="xch")
    stack.settings = dataclasses.replace(stack.settings, gateway_with_exchange=False)
    stack.start()
    try:
        seen = json.loads((stack.log_dir / "gateway-1" / "seen.json").read_text())
        assert seen["exchange_ready_at_start"] is True
        assert seen["exchange_answer"] == "sim-for-xch ping"
    finally:
        stack.stop()


def test_an_exchange_that_fails_to_start_is_the_error_and_the_gateway_is_stopped(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _ordered_matrix(tmp_path, '"--fail"'), venue="xch")
    with pytest.raises(StartError) as raised:
        stack.start()
    message = str(raised.value)
    assert message.startswith("exchange-xch died at start with exit code 4")
    assert "simulator: cannot read its configuration" in message
    assert (stack.log_dir / "gateway-started").exists()  # the gateway was started beside the exchange...
    log = next(stack.log_dir.glob("gateway-*.log")).read_text()
    pid = int(re.search(r"started pid (\d+)", log)[1])  # type: ignore[index]
    assert "stop: " in log and not psutil.pid_exists(pid)  # ...and stopped (reaped), not left running
    assert stack.gateway is None and stack.exchange is None


def _simulator_wheel(work: Path, version: str, out: Path) -> None:
    """The helper simulator packaged as a release of its own (console script `acmesim`), whose
    echo names its version, so the test sees which release answered."""
    import subprocess

    project = work / f"acmesim-{version}"
    (project / "acmesim").mkdir(parents=True)
    source = (HELPERS / "simulator.py").read_text().replace(
        'tag = os.environ.get("SIM_TAG", "")', f'tag = "acmesim-{version}"')
    (project / "acmesim" / "__init__.py").write_text(source)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "acmesim"
        version = "{version}"
        [project.scripts]
        acmesim = "acmesim:main"
        """))
    subprocess.run(["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
                   check=True, capture_output=True, timeout=300)


def test_a_simulator_released_as_a_wheel_runs_from_its_own_venv(tmp_path: Path) -> None:
    from compat.artifacts.envs import EnvCache
    from compat.artifacts.resolve import resolve_simulator

    body = SIMULATOR.replace(f'''  argv: ["{PY}", "{{matrix_dir}}/simulator.py", "{{listen_host}}"]''',
                             '''  package: acmesim
  version: "<2"
  argv: ["{bin}/acmesim", "{listen_host}"]''')
    matrix_path = _matrix(tmp_path, body)
    for version in ("1.0.0", "1.1.0", "2.0.0"):  # the default index: wheelhouse/ beside matrix.yaml
        _simulator_wheel(tmp_path / "build", version, matrix_path.parent / "wheelhouse")
    matrix = load_matrix(matrix_path)
    simulator_release = resolve_simulator(matrix, tmp_path / "work")
    assert simulator_release is not None and simulator_release.version == "1.1.0"  # the newest "<2"
    stack = _stack(tmp_path, matrix_path, venue="xch")
    env = EnvCache(tmp_path / "envs").ensure(simulator_release)
    stack.envs["exchange"] = env
    stack.start()
    try:
        simulator = stack.exchange
        assert simulator is not None
        assert any(part.startswith(str(env.path)) for part in psutil.Process(simulator.pid).cmdline())
        seen = json.loads((stack.log_dir / "gateway-1" / "seen.json").read_text())
        assert seen["exchange_answer"] == "acmesim-1.1.0 ping"  # release 1.1.0 answered, through the proxy
    finally:
        stack.stop()


def test_a_simulator_without_a_package_has_no_venv_placeholders(tmp_path: Path) -> None:
    from compat.errors import MatrixError

    body = SIMULATOR.replace(f'''  argv: ["{PY}", "{{matrix_dir}}/simulator.py", "{{listen_host}}"]''',
                             '''  argv: ["{bin}/acmesim", "{listen_host}"]''')
    with pytest.raises(MatrixError, match=r"set exchange\.package to run it from its wheel"):
        load_matrix(_matrix(tmp_path, body))
    (tmp_path / "project").rename(tmp_path / "first")
    body = SIMULATOR.replace("  venues: [xch]\n", '  venues: [xch]\n  version: "<2"\n')
    with pytest.raises(MatrixError, match=r"exchange\.version needs exchange\.package"):
        load_matrix(_matrix(tmp_path, body))
