"""LocalHost and LocalProcess against tiny misbehaving helper programs."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from compat import timing
from compat.errors import ChannelClosed, ChannelTimeout, HarnessError, ProcessStartError
from compat.harness import Command, Host, LocalHost, PortOpen, Process, ReadyLine, parse_addresses

HELPERS = Path(__file__).parent / "helpers"


def helper(name: str, *args: str, role: str | None = None, control: bool = False) -> Command:
    return Command((sys.executable, str(HELPERS / f"{name}.py"), *args), name=role or name, control=control)


def test_local_host_and_process_satisfy_the_protocols(tmp_path: Path) -> None:
    host = LocalHost()
    assert isinstance(host, Host)
    with host.start(helper("serves"), ReadyLine.named("SERVER"), tmp_path) as proc:
        assert isinstance(proc, Process)


def test_ready_line_info_and_addresses(tmp_path: Path) -> None:
    proc = LocalHost().start(helper("serves", "GATEWAY", role="gateway-2.0.0"), ReadyLine(), tmp_path)
    try:
        assert proc.ready_info["name"] == "GATEWAY"
        addresses = parse_addresses(proc.ready_info["addrs"])
        assert addresses["admin"] == ("::1", 9)
        host, port = addresses["main"]
        assert port != 0
        with socket.create_connection((host, port), timeout=5):
            pass
        assert proc.log_path == tmp_path / "gateway-2.0.0.log"
        assert proc.poll() is None
    finally:
        code = proc.stop(grace_s=5)
    assert code == 0, proc.log_tail()
    log = proc.log_path.read_text()
    assert "stop: SIGINT" in log
    assert "exited with code 0 after SIGINT" in log
    assert "SIGTERM" not in log
    assert "interrupted, shutting down cleanly" in log
    assert proc.stop() == 0  # idempotent


def test_parse_addresses_standard_lines() -> None:
    line = "EXCHANGE READY obx=127.0.0.1:40001 tlx=127.0.0.1:40002"
    assert parse_addresses(line) == {"obx": ("127.0.0.1", 40001), "tlx": ("127.0.0.1", 40002)}
    assert parse_addresses("GATEWAY READY client=127.0.0.1:40003") == {"client": ("127.0.0.1", 40003)}
    assert parse_addresses("nothing here") == {}


def test_parse_addresses_ipv4_and_ipv6_forms() -> None:
    line = "GATEWAY READY client=0.0.0.0:40003 v6=[::1]:40004 any6=[::]:40005 host.name=gw-1.example:40006"
    assert parse_addresses(line) == {
        "client": ("0.0.0.0", 40003),
        "v6": ("::1", 40004),  # brackets dropped: ready for socket.create_connection
        "any6": ("::", 40005),
        "host.name": ("gw-1.example", 40006),
    }
    assert parse_addresses("obx=127.0.0.1:4001 tlx=[fe80::1%eth0]:4002") == {
        "obx": ("127.0.0.1", 4001),
        "tlx": ("fe80::1%eth0", 4002),
    }  # just the addrs group works too


def test_port_open_probe(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        probe = PortOpen("127.0.0.1", port, timeout_s=5)
        proc = LocalHost().start(helper("never_ready"), probe, tmp_path)
        assert proc.ready_info == {"host": "127.0.0.1", "port": str(port)}
        assert proc.poll() is None
        assert proc.stop(grace_s=5) is not None
    finally:
        listener.close()


def test_port_open_probe_times_out(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there now
    with pytest.raises(
        ProcessStartError, match=rf"did not accept connections on 127\.0\.0\.1:{port} within 0\.5s"
    ):
        LocalHost().start(helper("never_ready"), PortOpen("127.0.0.1", port, timeout_s=0.5), tmp_path)


def test_stop_escalates_to_kill_and_logs_each_step(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="compat.harness")
    proc = LocalHost().start(helper("ignores_term"), ReadyLine.named("STUBBORN"), tmp_path)
    code = proc.stop(grace_s=0.3)
    assert code == -signal.SIGKILL
    log = proc.log_path.read_text()
    steps = [line for line in log.splitlines() if "] stop: " in line]
    assert "SIGINT to process group" in steps[0]
    assert "still running 0.3s after SIGINT" in steps[1]
    assert "SIGTERM to process group" in steps[2]
    assert "still running 0.3s after SIGTERM" in steps[3]
    assert "SIGKILL to process group" in steps[4]
    assert "exited with code -9 after SIGKILL" in steps[5]
    logged = [r.getMessage() for r in caplog.records if r.name == "compat.harness"]
    assert any("SIGTERM" in m for m in logged)
    assert any("SIGKILL" in m for m in logged)


def test_never_ready_raises_start_error_with_log_tail(tmp_path: Path) -> None:
    started = timing.monotonic()
    with pytest.raises(ProcessStartError) as info:
        LocalHost().start(helper("never_ready", role="gateway-2.0.0"), ReadyLine(timeout_s=1.0), tmp_path)
    elapsed = timing.monotonic() - started
    message = str(info.value)
    assert elapsed >= 1.0
    assert message.startswith("gateway-2.0.0 did not report ready")
    assert "within 1.0s on host local" in message
    assert f"log: {tmp_path / 'gateway-2.0.0.log'} (last 20 lines below)" in message
    assert "still warming up, forever" in message
    assert info.value.exit_code is not None  # it was stopped, not left running
    assert os.path.exists(info.value.log_path)


def test_dies_at_start_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError) as info:
        LocalHost().start(helper("dies_at_start", role="gateway-1.0.0"), ReadyLine(timeout_s=10), tmp_path)
    message = str(info.value)
    assert message.startswith("gateway-1.0.0 died at start with exit code 3 on host local")
    assert info.value.exit_code == 3
    assert "fatal: no such venue 'XYZ'" in message
    assert "config error detail 24" in message
    tail = message.split("(last 20 lines below)\n", 1)[1].splitlines()
    assert len(tail) == 20


def test_flooding_process_is_never_blocked(tmp_path: Path) -> None:
    proc = LocalHost().start(helper("floods", "8"), ReadyLine.named("FLOOD"), tmp_path)
    assert proc.ready_info["addrs"] == "main=127.0.0.1:2"
    assert proc.wait(30.0) == 0, "the flooding process blocked: the harness stopped draining stdout"
    assert proc.stop() == 0
    assert proc.log_path.stat().st_size > 16 * 1024 * 1024
    assert "flood done" in proc.log_tail(3).splitlines()


def test_control_channel_round_trip_survives_library_prints(tmp_path: Path) -> None:
    proc = LocalHost().start(helper("echo_control", control=True), None, tmp_path)
    try:
        assert proc.read_line(10) == "HELLO from echo_control"
        for text in ("one", '{"id": 7, "op": "insert"}', "three"):
            proc.send_line(text)
            assert proc.read_line(10) == f"echo: {text}"
        with pytest.raises(ChannelTimeout, match=r"no line from echo_control on host local within 0\.1s"):
            proc.read_line(0.1)
        proc.send_line("quit")
        with pytest.raises(ChannelClosed, match="exit code 0"):
            proc.read_line(10)
    finally:
        proc.stop(grace_s=2)
    log = proc.log_path.read_text()
    assert "library banner on fd 1 at import time" in log
    assert "library noise while handling 'three'" in log
    assert "raw write to fd 1" in log
    assert "echo_control exiting" in log


def test_channel_methods_need_control(tmp_path: Path) -> None:
    with (
        LocalHost().start(helper("serves"), ReadyLine.named("SERVER"), tmp_path) as proc,
        pytest.raises(HarnessError, match="without a control channel"),
    ):
        proc.send_line("x")


def test_sigstop_then_stop_still_works(tmp_path: Path) -> None:
    proc = LocalHost().start(helper("serves"), ReadyLine.named("SERVER"), tmp_path)
    proc.send_signal(signal.SIGSTOP)
    assert proc.stop(grace_s=5) == 0  # SIGCONT goes with SIGINT, so the paused process can act on it
    assert "fault: sending SIGSTOP" in proc.log_path.read_text()


def test_restart_with_same_name_appends_and_tails_only_its_own_output(tmp_path: Path) -> None:
    with LocalHost().start(helper("serves"), ReadyLine.named("SERVER"), tmp_path) as first:
        pass
    with LocalHost().start(
        helper("ignores_term", role="serves"), ReadyLine.named("STUBBORN"), tmp_path
    ) as second:
        assert second.log_path == first.log_path
        assert "interrupted, shutting down cleanly" not in second.log_tail(50)
        assert "STUBBORN READY" in second.log_tail(50)
        second.stop(grace_s=0.1)
    assert "interrupted, shutting down cleanly" in first.log_path.read_text()


# A compat whose own SIGINT is ignored (a background job of a non-interactive shell, nohup)
# starts serves.py with LocalHost and stops it; prints what the harness saw.
IGNORING_PARENT = """
import json, signal, sys
from pathlib import Path
signal.signal(signal.SIGINT, signal.SIG_IGN)
import compat.harness.command as door
if sys.argv[3] == "shim":
    door._env_resets_signals = lambda env_path: False  # as where env has no --default-signal
from compat.harness import Command, LocalHost, ReadyLine
proc = LocalHost().start(Command((sys.executable, sys.argv[1]), name="serves"), ReadyLine.named("SERVER"),
                         Path(sys.argv[2]))
cmdline = open(f"/proc/{proc.pid}/cmdline").read().split(chr(0))[:2]
code = proc.stop(grace_s=5.0)
print(json.dumps({"code": code, "cmdline": cmdline, "log": proc.log_path.read_text(),
                  "ours": signal.getsignal(signal.SIGINT) is signal.SIG_IGN}))
"""


@pytest.mark.parametrize("wrapper", ["env", "shim"])
def test_children_get_sigint_at_its_default_even_when_compat_ignores_it(tmp_path: Path, wrapper: str) -> None:
    import json

    script = tmp_path / "ignoring_parent.py"
    script.write_text(IGNORING_PARENT)
    outcome = LocalHost().run(
        Command((sys.executable, str(script), str(HELPERS / "serves.py"), str(tmp_path / "logs"), wrapper),
                name="ignoring-parent", env={"PYTHONPATH": os.pathsep.join(sys.path)}),
        60.0,
    )
    assert outcome.ok, outcome.stderr
    seen = json.loads(outcome.stdout.splitlines()[-1])
    assert seen["ours"]  # the parent still ignores SIGINT itself: only the child was reset
    assert seen["cmdline"] == [sys.executable, str(HELPERS / "serves.py")]  # the wrapper exec'd: same pid
    log = seen["log"]
    assert seen["code"] == 0 and "exited with code 0 after SIGINT" in log
    assert "interrupted, shutting down cleanly" in log  # serves.py's KeyboardInterrupt path
    assert "SIGTERM" not in log and "still running" not in log


def test_a_missing_program_is_the_same_error_behind_the_signal_wrapper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compat.harness.command as door

    monkeypatch.setattr(door, "ignored_signals", lambda: (signal.SIGINT,))
    with pytest.raises(HarnessError, match=r"cannot start nope: No such file or directory"):
        LocalHost().start(Command(("no-such-program-xyz",), name="nope"), None, tmp_path)
