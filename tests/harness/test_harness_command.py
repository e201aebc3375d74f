"""The one door to the OS: run(), the child environment, timeouts."""

from __future__ import annotations

import os
import sys

import pytest

from compat.errors import CommandTimeout, ConfigError, HarnessError
from compat.harness import Command, LocalHost, host_from_spec, run
from compat.harness.command import child_environment


def test_run_returns_outcome_for_nonzero_exit() -> None:
    cmd = Command(
        (sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(7)"),
        name="exits-7",
    )
    outcome = run(cmd, timeout_s=30)
    assert outcome.returncode == 7
    assert not outcome.ok
    assert outcome.stdout == "out\n"
    assert outcome.stderr == "err\n"
    assert outcome.duration_s > 0
    assert outcome.command is cmd


def test_child_environment_is_minimal_and_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPAT_SHOULD_NOT_LEAK", "secret")
    cmd = Command(
        (sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"),
        name="env",
        env={"COMPAT_ROLE": "gateway"},
    )
    import json

    seen = json.loads(run(cmd, timeout_s=30).stdout)
    assert "COMPAT_SHOULD_NOT_LEAK" not in seen
    assert seen["COMPAT_ROLE"] == "gateway"
    assert seen["PYTHONUNBUFFERED"] == "1"
    assert seen["PATH"] == os.environ["PATH"]
    assert set(child_environment(cmd)) <= {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "COMPAT_ROLE"}


def test_child_runs_in_its_own_session() -> None:
    cmd = Command((sys.executable, "-c", "import os; print(os.getsid(0), os.getpid())"), name="sid")
    sid, pid = run(cmd, timeout_s=30).stdout.split()
    assert sid == pid
    assert int(sid) != os.getsid(0)


def test_run_timeout_raises_with_partial_output() -> None:
    cmd = Command(
        (sys.executable, "-c", "import signal; print('partial line', flush=True); signal.pause()"),
        name="hangs",
    )
    with pytest.raises(CommandTimeout) as info:
        run(cmd, timeout_s=1.0)
    assert "hangs did not finish within 1.0s" in str(info.value)
    assert "partial line" in str(info.value)
    assert info.value.outcome.stdout == "partial line\n"
    assert info.value.outcome.returncode < 0


def test_missing_program_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(HarnessError, match=r"cannot start nope: .*no-such-program"):
        run(Command(("/no-such-program",), name="nope"), timeout_s=5)


def test_command_is_frozen_and_takes_lists() -> None:
    cmd = Command(["python", "-V"], name="py")  # type: ignore[arg-type]
    assert cmd.argv == ("python", "-V")
    with pytest.raises(HarnessError, match="empty argv"):
        Command((), name="x")


def test_host_from_spec() -> None:
    assert isinstance(host_from_spec("local"), LocalHost)
    with pytest.raises(ConfigError, match=r"unknown host kind 'vm'.*allowed kinds: local"):
        host_from_spec("vm:big-box")
    with pytest.raises(ConfigError, match="takes no arguments"):
        host_from_spec("local:extra")


def test_reachable_address() -> None:
    host = LocalHost()
    assert host.reachable_address(("0.0.0.0", 5)) == ("127.0.0.1", 5)
    assert host.reachable_address(("127.0.0.2", 6)) == ("127.0.0.2", 6)
