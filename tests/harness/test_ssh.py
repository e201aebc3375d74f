"""SshHost against a real sshd on 127.0.0.1 (throwaway host and user keys in tmp).

The sshd is this machine's, so the "remote" is this box too, but every path is the real
one: shipping into a separate remote root, venvs rebuilt there with uv, the remote pid,
signals and log tails over ssh. Skipped with the reason when sshd is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from compat import timing
from compat.artifacts.envs import EnvCache
from compat.config.cell import Release
from compat.driver import DRIVER_DIR, DRIVER_FILES, DRIVER_SCRIPT
from compat.driver.handle import DriverHandle
from compat.errors import ConfigError, HostError, StartError
from compat.harness import Command, Host, LocalHost, ReadyLine, host_from_spec
from compat.harness.shipping import ENV_MARKER, PathMapper
from compat.harness.ssh import SshHost, SshTarget
from compat.harness.sshd import SshdServer, sshd_missing
from compat.harness.uv import file_sha256

REPO = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).parent / "helpers"
MISSING = sshd_missing()
needs_sshd = pytest.mark.skipif(MISSING is not None, reason=f"ssh host test needs a real sshd: {MISSING}")

# Records its pid, ignores SIGINT, exits 7 on SIGTERM (writing a marker), reports ready.
SIGNALLED = textwrap.dedent(
    """
    import os, signal, sys
    marker = sys.argv[1]
    def on_term(signum, frame):
        with open(marker, "a") as f:
            f.write(f"TERM {os.getpid()}\\n")
        sys.exit(7)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_term)
    with open(marker, "w") as f:
        f.write(f"PID {os.getpid()}\\n")
    print("SIGNALLED READY main=127.0.0.1:1", flush=True)
    while True:
        signal.pause()
    """
)


# -- pure parts ------------------------------------------------------------------------------


def test_spec_parsing_and_host_facts() -> None:
    assert SshTarget.parse("ssh:ci@10.0.0.7:2200") == SshTarget("ci", "10.0.0.7", 2200)
    assert SshTarget.parse("ssh:box") == SshTarget(None, "box", 22)
    assert SshTarget.parse("ssh:me@[::1]:22") == SshTarget("me", "::1", 22)
    for bad in ("ssh:", "ssh:a@b:c", "ssh:a b"):
        with pytest.raises(ConfigError, match="ssh:user@host"):
            SshTarget.parse(bad)
    here = host_from_spec("ssh:root@127.0.0.1:2222")
    assert isinstance(here, SshHost) and isinstance(here, Host)
    assert here.listen_host == "127.0.0.1" and here.shares_clock_with(LocalHost())
    assert here.connect_address(("127.0.0.1", 5)) == ("127.0.0.1", 5)
    far = SshHost("ssh:ci@10.0.0.7")
    assert far.listen_host == "0.0.0.0" and not far.shares_clock_with(LocalHost())
    assert not LocalHost().shares_clock_with(far) and far.shares_clock_with(SshHost("ssh:other@10.0.0.7:22"))
    assert far.reachable_address(("0.0.0.0", 9)) == ("10.0.0.7", 9)
    with pytest.raises(HostError, match="loopback"):
        far.connect_address(("127.0.0.1", 5))
    with pytest.raises(HostError, match="listen_host"):
        far.reachable_address(("127.0.0.1", 9))


class FakeTransport:
    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.copies: list[tuple[tuple[str, ...], str]] = []

    def remote_shell(self, script: str, *, name: str, timeout_s: float) -> str:
        self.scripts.append(script)
        return "built\n"

    def copy_files(self, files: Sequence[Path], remote_dir: str, *, timeout_s: float) -> None:
        self.copies.append((tuple(f.name for f in files), remote_dir))


def test_path_mapper_rewrites_and_ships(tmp_path: Path) -> None:
    env = tmp_path / "envs" / "refgw-1.1.0-py311-abcdef"
    (env / "bin").mkdir(parents=True)
    wheel = tmp_path / "refgw-1.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    (env / ENV_MARKER).write_text(json.dumps({"package": "refgw", "version": "1.1.0", "wheel": str(wheel),
                                              "sha256": "ab" * 32}))
    auth = tmp_path / "auth.json"
    auth.write_text("{}")
    log_dir = tmp_path / "logs"
    (log_dir / "gateway-1").mkdir(parents=True)
    transport = FakeTransport()
    mapper = PathMapper(transport, "/r", uv="/r/bin/uv",
                        freeze=lambda _: "protobuf==7.36.2\nrefgw @ file:///x/refgw.whl\n")
    remote = mapper.translate(
        [f"{env}/bin/refgw", "--auth", str(auth), f"--journal={log_dir}/gateway.journal", "--workdir",
         str(log_dir / "gateway-1"), "/usr/bin/env", str(DRIVER_SCRIPT), "--host", "0.0.0.0"],
        {"CONF": str(auth)}, None, log_dir,
    )
    run_dir = mapper.run_dir(log_dir)
    auth_remote = f"/r/files/{file_sha256(auth)[:16]}/auth.json"
    assert remote.argv[0] == "/r/envs/refgw-1.1.0-py311-abcdef/bin/refgw"
    assert remote.argv[1:5] == ("--auth", auth_remote, f"--journal={run_dir}/gateway.journal", "--workdir")
    assert remote.argv[5] == f"{run_dir}/gateway-1" and remote.argv[6] == "/usr/bin/env"
    assert remote.argv[7].startswith("/r/files/driver-") and remote.argv[7].endswith("/driver.py")
    assert remote.argv[8:] == ("--host", "0.0.0.0")
    assert remote.env == {"CONF": auth_remote} and remote.cwd == run_dir
    copied = {names: where for names, where in transport.copies}
    assert copied[("refgw-1.1.0-py3-none-any.whl",)] == "/r/wheels/" + "ab" * 8
    assert copied[tuple(DRIVER_FILES)].startswith("/r/files/driver-")
    build = next(s for s in transport.scripts if "venv --relocatable" in s)
    assert "protobuf==7.36.2" in build and "refgw @" not in build and "--python 3.11" in build
    # A file a scenario wrote into the run's dir is an input: shipped by content, not mapped.
    scenario_auth = log_dir / "slow-consumer-auth.json"
    scenario_auth.write_text('{"users": {}}')
    (log_dir / "gateway-1.log").write_text("the harness's local tee")
    inputs = mapper.translate(["refgw", "--auth", str(scenario_auth), str(log_dir / "gateway-1.log")], {}, None,
                              log_dir)
    assert inputs.argv[2] == f"/r/files/{file_sha256(scenario_auth)[:16]}/slow-consumer-auth.json"
    assert inputs.argv[3] == f"{run_dir}/gateway-1.log"
    # Cached: the second translation ships nothing new.
    before = (len(transport.scripts), len(transport.copies))
    mapper.translate([f"{env}/bin/python", str(auth)], {}, None, log_dir)
    assert (len(transport.scripts), len(transport.copies)) == before
    with pytest.raises(HostError, match="own interpreter"):
        mapper.translate([sys.executable, "-m", "compat.exchange"], {}, None, log_dir)


# -- against a real sshd ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ssh_host(sshd: SshdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshHost]:
    host = SshHost(sshd.spec, remote_root=str(tmp_path_factory.mktemp("remote-root")),
                   identity=str(sshd.identity), known_hosts=str(sshd.known_hosts))
    try:
        yield host.connect()
    finally:
        host.close()


def _wait_status(pid: int, wanted: str, timeout_s: float = 5.0) -> str:
    deadline = timing.Deadline(timeout_s)
    status = psutil.Process(pid).status()
    while status != wanted and not deadline.expired():
        threading.Event().wait(0.01)  # poll interval while the kernel applies the signal
        status = psutil.Process(pid).status()
    return status


@needs_sshd
def test_remote_pid_signals_and_stop(ssh_host: SshHost, tmp_path: Path) -> None:
    script = tmp_path / "signalled.py"
    script.write_text(SIGNALLED)
    marker = tmp_path / "marker.txt"  # not a file yet: passed through unchanged (same machine here)
    process = ssh_host.start(Command(("python3", str(script), str(marker)), name="signalled"),
                             ReadyLine.named("SIGNALLED"), tmp_path / "logs")
    try:
        assert int(marker.read_text().split()[1]) == process.pid  # the REMOTE pid is the program itself
        remote_script = psutil.Process(process.pid).cmdline()[1]
        assert remote_script.startswith(ssh_host.remote_root + "/files/") and remote_script != str(script)
        assert os.getpgid(process.pid) == process.pid  # its own group, which stop() signals
        process.send_signal(signal.SIGSTOP)
        assert _wait_status(process.pid, psutil.STATUS_STOPPED) == psutil.STATUS_STOPPED
    finally:
        code = process.stop(grace_s=2.0)  # INT (ignored, and CONT wakes it) -> TERM -> exit 7
    assert code == 7
    assert marker.read_text().splitlines()[-1] == f"TERM {process.pid}"
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    log = process.log_path.read_text()
    assert "stop: SIGINT to remote process group" in log and "exited with code 7 after SIGTERM" in log
    assert "SIGNALLED READY" in log


@needs_sshd
def test_start_failures_carry_the_remote_log(ssh_host: SshHost, tmp_path: Path) -> None:
    with pytest.raises(StartError) as died:
        ssh_host.start(Command(("python3", str(HELPERS / "dies_at_start.py")), name="dies"),
                       ReadyLine.named("NEVER"), tmp_path)
    assert "exit code 3" in str(died.value) and "fatal: no such venue 'XYZ'" in str(died.value)
    with pytest.raises(StartError) as slow:
        ssh_host.start(Command(("python3", str(HELPERS / "never_ready.py")), name="never"),
                       ReadyLine.named("NEVER", timeout_s=1.0), tmp_path)
    assert "within 1.0s on host ssh:" in str(slow.value) and "still warming up" in str(slow.value)


@needs_sshd
def test_control_channel_over_ssh(ssh_host: SshHost, tmp_path: Path) -> None:
    command = Command(("python3", str(HELPERS / "echo_control.py")), name="echo", control=True)
    with ssh_host.start(command, None, tmp_path) as process:
        assert process.read_line(10.0) == "HELLO from echo_control"
        process.send_line("ping")
        assert process.read_line(10.0) == "echo: ping"
        assert "library noise while handling 'ping'" in process.log_tail(20)  # stderr: the remote log
        process.send_line("quit")
    assert process.poll() == 0


@needs_sshd
def test_ships_a_venv_and_runs_the_driver(ssh_host: SshHost, tmp_path: Path) -> None:
    wheel = REPO / "wheelhouse" / "refclient-1.1.0-py3-none-any.whl"
    if not wheel.is_file():
        pytest.skip(f"{wheel} is not released yet")
    release = Release("client", "refclient", "1.1.0", wheel, file_sha256(wheel))
    env = EnvCache(REPO / ".compat" / "envs").ensure(release)
    adapter = REPO / "clients" / "refclient" / "compat_adapter.py"
    command = Command((str(env.python), str(DRIVER_SCRIPT), "--adapter", str(adapter), "--package", "refclient"),
                      name="client-1.1.0-c1", control=True)
    process = ssh_host.start(command, None, tmp_path)
    try:
        handle = DriverHandle(channel=process)
        handle.handshake(60.0)
        assert handle.client_version == "1.1.0"
        exe = psutil.Process(process.pid).cmdline()
        remote_env = f"{ssh_host.remote_root}/envs/{env.path.name}"
        assert exe[0] == f"{remote_env}/bin/python"  # the remote twin, not the local venv
        assert Path(exe[1]).parent.name.startswith("driver-") and Path(exe[1]).parent != DRIVER_DIR
        marker = json.loads(Path(remote_env, ENV_MARKER).read_text())
        assert marker["version"] == "1.1.0" and marker["wheel"].startswith(ssh_host.remote_root)
        assert any(line.startswith("env ") for line in ssh_host.mapper.shipped)
        handle.shutdown(timeout_s=10.0)
    finally:
        process.stop(grace_s=2.0)
    assert process.poll() == 0


def test_latency_basis_is_honest_about_clocks() -> None:
    from compat.harness.clocks import latency_basis
    from compat.harness.netns import NetnsHost

    local, netns = LocalHost(), NetnsHost("clk")
    loopback_ssh, far = SshHost("ssh:me@127.0.0.1:2222"), SshHost("ssh:ci@10.0.0.7")
    for a, b in ((local, netns), (netns, loopback_ssh), (local, local)):
        basis = latency_basis(a, b)
        assert basis.one_way and basis.label == "one-way", basis
    basis = latency_basis(local, far)
    assert not basis.one_way and basis.label == "round-trip"
    assert "ssh:ci@10.0.0.7:22" in basis.reason and "do not share a clock" in basis.reason
    assert not latency_basis(far, netns).one_way


@needs_sshd
def test_dropped_session_keeps_the_remote_process_and_stop_uses_its_pid(ssh_host: SshHost, tmp_path: Path) -> None:
    """Kill the local ssh client: the remote process lives on, and stop() still ends it by remote pid."""
    process = ssh_host.start(Command(("python3", str(HELPERS / "serves.py")), name="serves"),
                             ReadyLine.named("SERVER"), tmp_path)
    try:
        process._carrier.signal_group(signal.SIGKILL)  # the session drops, as on a network failure
        assert process._carrier.wait(5.0) is not None
        assert process.poll() is None  # asked the remote: still running
        assert psutil.Process(process.pid).is_running()
    finally:
        code = process.stop(grace_s=2.0)
    assert code == 0  # serves.py exits 0 on SIGINT; the code came from the remote log
    log = process.log_path.read_text()
    assert "stop: exited with code 0 after SIGINT" in log and "--- remote log" in log
    assert "interrupted, shutting down cleanly" in log


@needs_sshd
def test_close_returns_once_remote_processes_and_master_are_gone(sshd: SshdServer, tmp_path: Path) -> None:
    """close() stops what still runs remotely (INT ignored -> TERM), confirms it over ssh, ends the master."""
    host = SshHost(sshd.spec, remote_root=str(tmp_path / "remote-root"), identity=str(sshd.identity),
                   known_hosts=str(sshd.known_hosts)).connect()
    script = tmp_path / "signalled.py"
    script.write_text(SIGNALLED)
    marker = tmp_path / "marker.txt"
    process = host.start(Command(("python3", str(script), str(marker)), name="signalled"),
                         ReadyLine.named("SIGNALLED"), tmp_path / "logs")
    master = host._master
    assert master is not None and master.poll() is None
    host.close()
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    assert marker.read_text().splitlines()[-1] == f"TERM {process.pid}"
    assert master.poll() is not None
    host.close()  # idempotent


@needs_sshd
def test_close_names_a_remote_process_it_could_not_end(
    sshd: SshdServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = SshHost(sshd.spec, remote_root=str(tmp_path / "remote-root"), identity=str(sshd.identity),
                   known_hosts=str(sshd.known_hosts)).connect()
    process = host.start(Command(("python3", str(HELPERS / "serves.py")), name="serves"),
                         ReadyLine.named("SERVER"), tmp_path)
    monkeypatch.setattr(type(process), "stop", lambda self, grace_s=5.0, steps=None: None)  # a stop that does nothing
    with pytest.raises(HostError, match=rf"remote process serves \(pid {process.pid}\) still running"):
        host.close()
    monkeypatch.undo()
    os.killpg(process.pid, signal.SIGKILL)  # the same machine here: end it ourselves
    process.stop(grace_s=1.0)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="the ssh client is not installed")
def test_unreachable_host_is_a_clear_host_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = SshHost(f"ssh:nobody@127.0.0.1:{port}", connect_timeout_s=2.0, known_hosts=str(tmp_path / "kh"))
    with pytest.raises(HostError, match=rf"cannot reach host ssh:nobody@127.0.0.1:{port}.*ssh said:"):
        host.connect()
    host.close()
