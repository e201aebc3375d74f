"""NetnsHost against the real kernel: namespaces, veth links, signals to the real pid, partitions.

Needs root and iproute2; skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from compat import timing
from compat.errors import ConfigError, HostError
from compat.harness import Command, Host, LocalHost, Process, ReadyLine, host_from_spec
from compat.harness.netns import SUBNET, NetnsHost, netns_unavailable_reason

REASON = netns_unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"netns host unavailable: {REASON}")

# Records its own pid, binds 0.0.0.0:0, ignores SIGINT, exits 7 on SIGTERM (writing a marker).
SIGNALLED = textwrap.dedent(
    """
    import os, signal, socket, sys
    marker = sys.argv[1]
    def on_term(signum, frame):
        with open(marker, "a") as f:
            f.write(f"TERM {os.getpid()}\\n")
        sys.exit(7)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_term)
    with open(marker, "w") as f:
        f.write(f"PID {os.getpid()}\\n")
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    print(f"SIGNALLED READY main=0.0.0.0:{listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.sendall(b"hello from the namespace\\n")
        conn.close()
    """
)


@pytest.fixture
def netns() -> Iterator[NetnsHost]:
    host = NetnsHost(f"t{os.getpid() % 100000}")
    try:
        yield host.setup()
    finally:
        host.close()


def _start_signalled(host: Host, tmp_path: Path) -> tuple[Process, Path]:
    script = tmp_path / "signalled.py"
    script.write_text(SIGNALLED)
    marker = tmp_path / "marker.txt"
    command = Command((sys.executable, str(script), str(marker)), name="signalled")
    return host.start(command, ReadyLine.named("SIGNALLED"), tmp_path), marker


def _wait_status(pid: int, wanted: str, timeout_s: float = 5.0) -> str:
    deadline = timing.Deadline(timeout_s)
    status = psutil.Process(pid).status()
    while status != wanted and not deadline.expired():
        threading.Event().wait(0.01)  # poll interval while waiting for the kernel to apply the signal
        status = psutil.Process(pid).status()
    return status


def test_spec_and_protocol() -> None:
    host = host_from_spec("netns:gw1")
    assert isinstance(host, NetnsHost) and isinstance(host, Host)
    assert host.spec == "netns:gw1" and host.listen_host == "0.0.0.0"
    assert host.shares_clock_with(LocalHost()) and LocalHost().shares_clock_with(host)
    host.close()  # never set up: nothing to remove, no error
    for bad in ("netns:", "netns:has space", "netns:" + "x" * 40):
        with pytest.raises(ConfigError, match="netns"):
            host_from_spec(bad)


def test_namespace_link_and_cleanup(netns: NetnsHost) -> None:
    assert netns.exists()
    assert ipaddress_in_subnet(netns.address) and ipaddress_in_subnet(netns.root_address)
    inside = netns.run(Command(("ip", "-o", "-4", "addr", "show"), name="ip-addr"), 10.0)
    assert inside.ok, inside.stderr
    addresses = sorted(line.split()[3] for line in inside.stdout.splitlines())
    # Only loopback and the link's /30: never any other address.
    assert addresses == sorted(["127.0.0.1/8", f"{netns.address}/30"])
    root_link = netns.root_link
    netns.close()
    netns.close()  # idempotent
    assert not netns.exists()
    links = LocalHost().run(Command(("ip", "-o", "link", "show"), name="ip-link"), 10.0).stdout
    assert f" {root_link}@" not in links and f" {root_link}:" not in links


def test_close_returns_only_when_the_link_is_gone(netns: NetnsHost) -> None:
    """close() returns once the kernel no longer lists the link or the namespace, and the same
    /30 and link name are free for the next host at once (no collision with a dying pair)."""
    root_link = netns.root_link
    netns.close()
    assert not Path(f"/sys/class/net/{root_link}").exists()
    assert netns.namespace not in LocalHost().run(Command(("ip", "netns", "list"), name="ip-netns"), 10.0).stdout
    again = NetnsHost(f"a{os.getpid() % 100000}")
    try:
        again.setup()  # right after: a new namespace and link, no collision with the closed one
        assert again.exists() and Path(f"/sys/class/net/{again.root_link}").exists()
    finally:
        again.close()
    assert not again.exists() and not Path(f"/sys/class/net/{again.root_link}").exists()


def test_close_stops_processes_still_running(netns: NetnsHost, tmp_path: Path) -> None:
    process, _ = _start_signalled(netns, tmp_path)
    netns.close()
    assert process.poll() == 7  # INT ignored, TERM handled: stopped by close(), not orphaned
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE


def test_close_names_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the kernel keeps the link past the deadline, close() raises HostError naming it."""
    import compat.harness.netns as netns_module

    host = NetnsHost(f"l{os.getpid() % 100000}").setup()
    real_ip = netns_module._ip

    def ip_without_deletes(*args: str, check: bool = True) -> object:
        if args[:2] in (("link", "del"), ("netns", "del")):
            return real_ip("netns", "list", check=False)  # a no-op that succeeds
        return real_ip(*args, check=check)

    monkeypatch.setattr(netns_module, "_ip", ip_without_deletes)
    monkeypatch.setattr(netns_module, "TEARDOWN_TIMEOUT_S", 0.3)
    started = timing.monotonic()
    with pytest.raises(HostError) as caught:
        host.close()
    assert timing.monotonic() - started < 5.0  # bounded by the deadline
    message = str(caught.value)
    assert f"link {host.root_link}" in message and f"namespace {host.namespace}" in message
    assert "ip link del" in message
    monkeypatch.undo()
    host.close()  # the real deletes now: nothing left, no error
    assert not host.exists()
    assert not Path(f"/sys/class/net/{host.root_link}").exists()


def ipaddress_in_subnet(address: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(address) in SUBNET


def test_failed_setup_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    host = NetnsHost(f"f{os.getpid() % 100000}")
    import compat.harness.netns as netns_module

    real_ip = netns_module._ip

    def failing_ip(*args: str, check: bool = True) -> object:
        if args[:2] == ("-n", host.namespace) and "lo" in args:
            raise HostError("injected failure bringing lo up")
        return real_ip(*args, check=check)

    monkeypatch.setattr(netns_module, "_ip", failing_ip)
    with pytest.raises(HostError, match="injected failure"):
        host.setup()
    monkeypatch.undo()
    assert not host.exists()
    links = LocalHost().run(Command(("ip", "-o", "link", "show"), name="ip-link"), 10.0).stdout
    assert host.root_link and f" {host.root_link}@" not in links
    host.close()


def test_signals_reach_the_real_process(netns: NetnsHost, tmp_path: Path) -> None:
    process, marker = _start_signalled(netns, tmp_path)
    try:
        # The pid the harness holds is the program itself, not `ip netns exec`.
        recorded = int(marker.read_text().split()[1])
        assert recorded == process.pid
        assert psutil.Process(process.pid).cmdline()[0] == sys.executable
        # ...and it lives in the namespace.
        assert os.stat(f"/proc/{process.pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns.namespace}").st_ino
        assert os.stat(f"/proc/{process.pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino

        process.send_signal(signal.SIGSTOP)
        assert _wait_status(process.pid, psutil.STATUS_STOPPED) == psutil.STATUS_STOPPED
        process.send_signal(signal.SIGCONT)
        assert _wait_status(process.pid, psutil.STATUS_SLEEPING) in (psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING)
    finally:
        code = process.stop(grace_s=2.0)
    # INT is ignored, TERM reaches the handler of the real process: exit code 7.
    assert code == 7
    assert marker.read_text().splitlines()[-1] == f"TERM {process.pid}"
    log = process.log_path.read_text()
    assert "stop: SIGINT" in log and "stop: SIGTERM" in log and "exited with code 7 after SIGTERM" in log


def test_reachable_from_root_and_partition(netns: NetnsHost, tmp_path: Path) -> None:
    process, _ = _start_signalled(netns, tmp_path)
    try:
        port = int(process.ready_info["addrs"].rsplit(":", 1)[1])
        address = netns.reachable_address(("0.0.0.0", port))
        assert address == (netns.address, port)
        with socket.create_connection(address, timeout=5.0) as conn:
            assert conn.makefile().readline() == "hello from the namespace\n"
        with pytest.raises(HostError, match="loopback"):
            netns.reachable_address(("127.0.0.1", port))

        netns.cut()
        with pytest.raises(OSError):
            socket.create_connection(address, timeout=0.5)
        netns.heal()
        with socket.create_connection(address, timeout=5.0) as conn:
            assert conn.makefile().readline() == "hello from the namespace\n"
    finally:
        process.stop(grace_s=2.0)


def test_namespace_reaches_root_through_relay(netns: NetnsHost, tmp_path: Path) -> None:
    """A server on root loopback is reached from inside the namespace via connect_address."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        target = listener.getsockname()
        host, port = netns.connect_address(target)
        assert host == netns.root_address
        assert netns.connect_address(target) == (host, port)  # one relay per target, reused
        assert netns.connect_address((netns.address, 5)) == (netns.address, 5)  # same namespace: direct
        client = netns.start(
            Command((sys.executable, "-c", "import socket,sys; s=socket.create_connection((sys.argv[1], "
                     "int(sys.argv[2])), 5); s.sendall(b'ping'); print('CLIENT READY x=0.0.0.0:1', flush=True); "
                     "s.recv(1)", host, str(port)), name="relay-client"),
            ReadyLine.named("CLIENT"), tmp_path,
        )
        try:
            listener.settimeout(5.0)
            conn, _ = listener.accept()
            with conn:
                assert conn.recv(4) == b"ping"
        finally:
            client.stop(grace_s=1.0)


def test_netem_detected(netns: NetnsHost) -> None:
    """tc netem is used where the kernel has it; here we only check the detection is honest."""
    outcome = LocalHost().run(Command(("sh", "-c", "grep -qw sch_netem /proc/modules || "
                                       "modinfo sch_netem >/dev/null 2>&1"), name="netem-check"), 10.0)
    if netns.netem_available:
        netns.delay(1.0, 0.5)
    else:
        assert "netem" in netns.netem_reason
        assert not outcome.ok
        with pytest.raises(HostError, match="netem"):
            netns.delay(20.0, 5.0)
        pytest.skip(f"tc netem unavailable: {netns.netem_reason}")
