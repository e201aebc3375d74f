"""The one door to the OS: the only module of compat that imports ``subprocess``.

Callers build a :class:`Command` and get back an :class:`Outcome` (``run``) or, through a
host, a running process (``spawn`` is the low-level start the local host builds on).

Every child gets

* a minimal, explicit environment: ``PATH``, ``HOME``, ``LANG`` from ours, then
  ``PYTHONUNBUFFERED=1`` (ready lines must not sit in a block buffer), then ``Command.env``;
* its own session and process group (``start_new_session``), so a stop or a fault signal
  reaches the child and everything it forked, and never our own process group;
* SIGINT and SIGTERM at their default disposition, whatever ours is. A compat started with
  SIGINT ignored (a background job of a non-interactive shell, ``nohup``) would otherwise pass
  SIG_IGN on through fork and exec, and every stop's first step (SIGINT) would be lost. Only
  then is the argv prefixed with ``env --default-signal=INT,TERM --`` (GNU coreutils >= 8.31),
  or, where ``env`` lacks that option, a two-line Python shim that resets them and execs: both
  change the disposition in the child *after* exec of a fresh program, so no Python code runs
  between fork and exec (``preexec_fn`` is unsafe with threads, and compat has reader, proxy
  and relay threads) and the pid is still the program's (both exec it);
* an entry in the leak registry (:mod:`compat.harness.leaks`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

from compat import timing
from compat.errors import (
    CommandTimeout,
    HarnessError,
)
from compat.harness import leaks

# Variables inherited from our environment; everything else must be asked for in Command.env.
INHERITED_VARIABLES: tuple[str, ...] = ("PATH", "HOME", "LANG")
_DEFAULTS: Mapping[str, str] = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Command:
    """What to run. ``name`` is the role label used for the log file: ``gateway-2.0.0``."""

    argv: tuple[str, ...]
    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    control: bool = False  # keep stdin/stdout as a line channel (the driver)

    def __post_init__(self) -> None:
        # Accept a list for convenience but store a tuple, so the value stays immutable.
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))
        if not self.argv:
            raise HarnessError(f"command {self.name!r} has an empty argv; give at least the program")
        if not self.name or "/" in self.name:
            raise HarnessError(f"command name {self.name!r} must be non-empty and contain no '/'")

    def describe(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Outcome:
    """A finished command: exit code, decoded output and how long it took."""

    command: Command
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def child_environment(command: Command) -> dict[str, str]:
    """The complete environment a child sees; nothing else leaks in from ours."""
    env = {name: os.environ.get(name, _DEFAULTS.get(name, "")) for name in INHERITED_VARIABLES}
    env = {name: value for name, value in env.items() if value}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(command.env)
    return env


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run(command: Command, timeout_s: float) -> Outcome:
    """Run to completion. A non-zero exit is an Outcome, not an error; a timeout raises.

    On timeout the whole process group is killed and :class:`CommandTimeout` carries the
    output captured so far.
    """
    started = timing.monotonic()
    popen = _popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = popen.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(popen.pid)
        try:
            # Collects what was read before the timeout plus the rest up to EOF.
            out, err = popen.communicate(timeout=5.0)
        except subprocess.TimeoutExpired:
            # Someone outside the group still holds the pipes; give up on the rest.
            popen.kill()
            out, err = b"", b""
        popen.wait()
        outcome = Outcome(command, popen.returncode, _decode(out), _decode(err), timing.monotonic() - started)
        raise CommandTimeout(
            f"{command.name} did not finish within {timeout_s:.1f}s on host local; killed its process "
            f"group. argv: {command.describe()}\n--- stdout (last 20 lines)\n{_tail(outcome.stdout)}\n"
            f"--- stderr (last 20 lines)\n{_tail(outcome.stderr)}",
            outcome,
        ) from None
    except BaseException:
        # Ctrl-C (KeyboardInterrupt) or any other escape: the child leads its own session, so the
        # terminal's SIGINT never reached it; without this it would outlive us (a uv build kept
        # writing into an env scratch directory that our cleanup had already removed).
        _kill_group(popen.pid)
        for pipe in (popen.stdout, popen.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        popen.wait()
        raise
    return Outcome(command, popen.returncode, _decode(out), _decode(err), timing.monotonic() - started)


# The stop steps' signals: a child must never inherit them ignored (see the module docstring).
RESET_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
_SHIM = (
    "import os, signal, sys\n"
    "for number in sys.argv[1].split(','): signal.signal(int(number), signal.SIG_DFL)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


def ignored_signals() -> tuple[signal.Signals, ...]:
    """Which of RESET_SIGNALS this process ignores (and so its children would inherit ignored)."""
    return tuple(sig for sig in RESET_SIGNALS if signal.getsignal(sig) is signal.SIG_IGN)


@functools.cache
def _env_resets_signals(env_path: str) -> bool:
    """True when this ``env`` knows ``--default-signal`` (GNU coreutils 8.31 or later)."""
    try:
        probe = subprocess.run(  # a fixed, instant probe, run once per env binary
            (env_path, "--default-signal=INT", "true"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=10.0, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _with_default_signals(argv: tuple[str, ...], ignored: tuple[signal.Signals, ...],
                          env: Mapping[str, str], cwd: str | None) -> tuple[str, ...]:
    """``argv`` behind an exec wrapper that resets ``ignored`` to SIG_DFL, then execs it (same pid)."""
    program = argv[0]
    search = env.get("PATH", os.defpath)
    found = (os.access(os.path.join(cwd or os.getcwd(), program), os.X_OK) if "/" in program
             else shutil.which(program, path=search) is not None)
    if not found:  # the error Popen would raise for the program itself, not a wrapper's exit 127
        raise FileNotFoundError(2, "No such file or directory", program)
    env_path = shutil.which("env", path=search)
    if env_path is not None and _env_resets_signals(env_path):
        names = ",".join(sig.name.removeprefix("SIG") for sig in ignored)
        return (env_path, f"--default-signal={names}", "--", *argv)
    return (sys.executable, "-I", "-S", "-c", _SHIM, ",".join(str(int(sig)) for sig in ignored), *argv)


def _popen(command: Command, *, stdin: int, stdout: int, stderr: int) -> subprocess.Popen[bytes]:
    env = child_environment(command)
    try:
        argv = command.argv
        if ignored := ignored_signals():
            argv = _with_default_signals(argv, ignored, env, command.cwd)
        popen = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=command.cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise HarnessError(
            f"cannot start {command.name}: {exc.strerror or exc} (argv[0]={command.argv[0]!r}, "
            f"cwd={command.cwd or os.getcwd()!r}); check the path and that it is executable"
        ) from exc
    leaks.register(popen.pid, command.name)
    return popen


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _exited_within(popen: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether our child exited within ``timeout_s``, waiting on its pidfd (it becomes readable
    at the exit); True also when no pidfd can be had (the caller then waits the polling way)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return True
    try:
        fd = pidfd_open(popen.pid)
    except OSError:  # ESRCH: reaped meanwhile (by another thread's poll); ENOSYS: no pidfds here
        return True
    try:
        if popen.returncode is not None:  # reaped before the pidfd was had: it may name another pid
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        milliseconds = min(math.ceil(timeout_s * 1000.0), 2**31 - 1)
        return bool(poller.poll(milliseconds))  # EINTR: retried by poll itself
    finally:
        os.close(fd)


class Spawned:
    """A started child. Wraps Popen so no other module touches subprocess types."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid: int = popen.pid
        self.stdin: IO[bytes] | None = popen.stdin
        self.stdout: IO[bytes] | None = popen.stdout

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout_s: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout_s``.

        Woken by the exit itself: on Linux the child's pidfd becomes readable when it exits
        (``os.pidfd_open``), so a stop's wait returns as soon as the process is gone. ``Popen.wait``
        with a timeout polls instead, sleeping up to 50 ms between looks; it remains the fallback
        where pidfds do not exist (and reaps the child either way).
        """
        if self._popen.returncode is None and timeout_s > 0 and not _exited_within(self._popen, timeout_s):
            return self._popen.poll()
        try:
            return self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, sig: int) -> bool:
        """Signal the child's whole process group; False when nobody is left in it."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def group_alive(self) -> bool:
        """True while any process remains in the child's group (the child or what it forked)."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def close_pipes(self) -> None:
        for pipe in (self._popen.stdin, self._popen.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def spawn(command: Command, *, stderr_fd: int | None, stdin_pipe: bool) -> Spawned:
    """Start ``command`` with stdout on a pipe.

    ``stderr_fd`` is a file descriptor to send stderr to (the log file), or None to merge
    stderr into the stdout pipe. ``stdin_pipe`` keeps stdin as a pipe for a control channel;
    otherwise stdin is /dev/null.
    """
    popen = _popen(
        command,
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if stderr_fd is None else stderr_fd,
    )
    return Spawned(popen)
