"""The ssh host: ``ssh:user@host[:port]`` runs roles on another machine (or this one, over ssh).

On first use the host opens one ssh master connection (``ControlMaster``, a harness-started
process like any other), resolves a remote root (``~/.cache/compat-remote`` unless
``remote_root``/``COMPAT_SSH_REMOTE_ROOT`` says otherwise), ships ``remote_exec.py`` and, when
the remote has no ``uv`` of its own, this machine's uv binary (same architecture only).

``start(command, ready, log_dir)``:

1. :class:`~compat.harness.shipping.PathMapper` rewrites the command's local paths and ships
   what they name: venvs are rebuilt remotely with uv from their spec (wheel + exact pins),
   driver files and the adapter are copied by content, log-dir paths map to a remote run dir;
2. ``ssh HOST python3 remote_exec.py run ...`` starts the program; its first stdout line
   ``COMPAT-REMOTE-PID n`` is the REMOTE pid (also its process group);
3. plain commands stream stdout+stderr back (teed into the remote log), so the ready line is
   matched live; control commands use the ssh session's stdin/stdout as the driver channel
   and keep stderr in the remote log;
4. ``stop()`` escalates INT -> TERM -> KILL on the remote process group through ssh
   (``remote_exec.py kill``), each step logged; the remote log is fetched into the local log.

Addresses: on a loopback target (``127.0.0.1``, ``localhost``) the remote is this machine,
so addresses pass unchanged and the clock is shared. On a real remote, servers bind
``0.0.0.0`` and are reached at the host name; a remote role cannot reach a server on *this*
machine's loopback (``connect_address`` raises, naming the fix): place such pairs together.

Options (constructor keywords, or ``COMPAT_SSH_*`` variables for ``host_from_spec``):
``identity`` (``COMPAT_SSH_IDENTITY``), ``known_hosts`` (``COMPAT_SSH_KNOWN_HOSTS``, host keys
are then checked strictly), ``ssh_config`` (``COMPAT_SSH_CONFIG``), ``remote_root``
(``COMPAT_SSH_REMOTE_ROOT``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import platform
import queue
import re
import shlex
import signal
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from compat import timing
from compat.errors import (
    ChannelClosed,
    ChannelTimeout,
    ConfigError,
    HarnessError,
    HostError,
    ProcessStartError,
    StartError,
)
from compat.harness import command as _command
from compat.harness import stopping
from compat.harness.command import Command, Outcome, Spawned
from compat.harness.host import Host
from compat.harness.local import LocalHost, LocalProcess
from compat.harness.ready import PortOpen, Probe, ReadyLine
from compat.harness.shipping import PathMapper, RemoteCommand
from compat.harness.stopping import signal_name
from compat.harness.uv import uv_binary, uv_environment

logger = logging.getLogger("compat.harness")

REMOTE_EXEC = Path(__file__).resolve().parent / "remote_exec.py"
PID_PREFIX = "COMPAT-REMOTE-PID "
EXIT_PREFIX = "COMPAT-REMOTE-EXIT "
REMOTE_EXIT_NOTE = "[compat.remote] exit "  # the wrapper's last line in the remote log
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_SPEC = re.compile(r"^ssh:(?:(?P<user>[^@\s:]+)@)?(?P<host>\[[^\]]+\]|[^@\s:\[\]]+)(?::(?P<port>\d+))?$")
_CHANNEL_NOTE_CHARS = 300


@dataclass(frozen=True)
class SshTarget:
    user: str | None
    host: str
    port: int

    @classmethod
    def parse(cls, spec: str) -> SshTarget:
        found = _SPEC.match(spec.strip())
        if found is None:
            raise ConfigError(f"host spec {spec!r}: write ssh:user@host[:port] (e.g. ssh:ci@10.0.0.7:22)")
        host = found["host"].strip("[]")
        return cls(found["user"], host, int(found["port"] or 22))

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host


class SshHost:
    """Processes on a remote machine reached over ssh; see the module docstring."""

    def __init__(
        self,
        spec: str,
        *,
        identity: str | None = None,
        known_hosts: str | None = None,
        ssh_config: str | None = None,
        remote_root: str | None = None,
        connect_timeout_s: float = 10.0,
        build_timeout_s: float = 600.0,
    ) -> None:
        self.target = SshTarget.parse(spec)
        self.spec = f"ssh:{self.target.destination}:{self.target.port}"
        self.identity = identity
        self.known_hosts = known_hosts
        self.ssh_config = ssh_config
        self.connect_timeout_s = connect_timeout_s
        self.build_timeout_s = build_timeout_s
        self.loopback = self.target.host in LOOPBACK_NAMES
        self.listen_host = "127.0.0.1" if self.loopback else "0.0.0.0"
        self.clock_domain = "this-machine" if self.loopback else f"ssh:{self.target.host}"
        self.remote_root = remote_root or ""
        self._state_dir: Path | None = None
        self._master: LocalProcess | None = None
        self._mapper: PathMapper | None = None
        self._remote_exec = ""
        self._lock = threading.RLock()
        self._processes: list[SshProcess] = []
        self._closed = False

    @classmethod
    def from_spec(cls, spec: str) -> SshHost:
        return cls(
            spec,
            identity=os.environ.get("COMPAT_SSH_IDENTITY") or None,
            known_hosts=os.environ.get("COMPAT_SSH_KNOWN_HOSTS") or None,
            ssh_config=os.environ.get("COMPAT_SSH_CONFIG") or None,
            remote_root=os.environ.get("COMPAT_SSH_REMOTE_ROOT") or None,
        )

    # -- the connection --------------------------------------------------------------------

    def _options(self) -> list[str]:
        options = ["-p", str(self.target.port), "-o", "BatchMode=yes",
                   "-o", f"ConnectTimeout={max(1, int(self.connect_timeout_s))}",
                   "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR"]
        if self.ssh_config:
            options[:0] = ["-F", self.ssh_config]
        if self.identity:
            options += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            options += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        if self._state_dir is not None:
            options += ["-o", f"ControlPath={self._state_dir / 'master'}", "-o", "ControlMaster=no"]
        return options

    def ssh_argv(self, remote: str | None = None, *, stdin: bool = True) -> tuple[str, ...]:
        """``ssh <options> user@host [remote]``: the argv of one command over the master connection."""
        argv = ["ssh", *self._options()]
        if not stdin:
            argv.append("-n")
        argv.append(self.target.destination)
        if remote is not None:
            argv.append(remote)
        return tuple(argv)

    def connect(self) -> SshHost:
        """Open the master connection and prepare the remote root (idempotent)."""
        with self._lock:
            if self._mapper is not None:
                return self
            if self._closed:
                raise HostError(f"host {self.spec} was closed; create a new one")
            self._state_dir = Path(tempfile.mkdtemp(prefix="compat-ssh-"))
            try:
                self._start_master()
                self._prepare_remote()
            except BaseException:
                self._stop_master()
                raise
            atexit.register(self.close)  # a caller that never closes still leaves no master or remote process
            return self

    def _start_master(self) -> None:
        assert self._state_dir is not None
        argv = ["ssh", *self._options()]
        argv[argv.index("ControlMaster=no")] = "ControlMaster=yes"
        argv += ["-o", "ControlPersist=no", "-N", self.target.destination]
        self._master = LocalHost().start(Command(tuple(argv), name="ssh-master"), None, self._state_dir)
        check = Command(("ssh", *self._options(), "-O", "check", self.target.destination), name="ssh-check")
        deadline = timing.Deadline(self.connect_timeout_s + 5.0)
        while True:
            if _command.run(check, 10.0).ok:
                return
            code = self._master.poll()
            if code is not None or deadline.expired():
                tail = self._master.log_tail(20)
                raise HostError(
                    f"cannot reach host {self.spec}: the ssh master connection "
                    f"{'exited with code ' + str(code) if code is not None else 'was not up'} after "
                    f"{self.connect_timeout_s + 5.0:.0f}s; check sshd, the user key and known_hosts. ssh said:\n{tail}"
                )
            self._master.wait(0.05)  # retry interval; returns early if the master exits

    def _stop_master(self) -> None:
        if self._master is not None:
            self._master.stop(grace_s=2.0)
            self._master = None

    def remote_shell(self, script: str, *, name: str, timeout_s: float) -> str:
        """Run a POSIX sh script on the remote; its stdout, or HostError with its stderr."""
        outcome = _command.run(Command(self.ssh_argv(f"sh -c {shlex.quote(script)}", stdin=False),
                                       name=f"ssh-{name}"), timeout_s)
        if not outcome.ok:
            raise HostError(
                f"{name} on host {self.spec} exited {outcome.returncode}: "
                f"{(outcome.stderr or outcome.stdout).strip()[-2000:]}"
            )
        return outcome.stdout

    def copy_files(self, files: Sequence[Path], remote_dir: str, *, timeout_s: float) -> None:
        """scp over the master connection into an existing remote directory."""
        options = [("-P" if o == "-p" else o) for o in self._options()]
        destination = f"{self.target.destination}:{remote_dir}/"
        if ":" in self.target.host:
            destination = f"{self.target.user + '@' if self.target.user else ''}[{self.target.host}]:{remote_dir}/"
        argv = ("scp", "-q", *options, *(str(f) for f in files), destination)
        outcome = _command.run(Command(argv, name="scp"), timeout_s)
        if not outcome.ok:
            raise HostError(
                f"copying {', '.join(f.name for f in files)} to {self.spec}:{remote_dir} failed "
                f"(scp exit {outcome.returncode}): {outcome.stderr.strip()}"
            )

    def _prepare_remote(self) -> None:
        q = shlex.quote
        # The interpreter's own path, not a shim on PATH: every signal and pid check runs it.
        facts = self.remote_shell(
            'echo "$HOME"; uname -m; command -v uv || true; '
            'python3 -c "import sys; print(\'python3=\' + sys.executable)" 2>/dev/null || true',
            name="probe", timeout_s=30.0).splitlines()
        home, machine = facts[0], facts[1]
        remote_uv = next((line for line in facts[2:] if line.endswith("/uv")), "")
        python3 = next((line[len("python3="):] for line in facts[2:] if line.startswith("python3=")), "")
        if not python3:
            raise HostError(f"host {self.spec} has no python3 on its PATH; remote_exec.py needs one")
        self.remote_root = self.remote_root or f"{home}/.cache/compat-remote"
        root = self.remote_root
        self.remote_shell(f"mkdir -p {q(root)}/bin {q(root)}/runs", name="mkdir-root", timeout_s=30.0)
        self.copy_files([REMOTE_EXEC], f"{root}/bin", timeout_s=60.0)
        self._remote_exec = f"{q(python3)} -I {q(root + '/bin/remote_exec.py')}"
        if not remote_uv:
            if machine != platform.machine():
                raise HostError(
                    f"host {self.spec} has no uv on its PATH and is {machine}, not {platform.machine()}, so "
                    "this machine's uv cannot be shipped; install uv there"
                )
            local_uv = Path(uv_binary()).resolve()
            with contextlib.suppress(ImportError, FileNotFoundError):
                from uv import find_uv_bin  # a pyenv shim is a script: prefer the real binary

                local_uv = Path(find_uv_bin()).resolve()
            self.copy_files([local_uv], f"{root}/bin", timeout_s=300.0)
            remote_uv = f"{root}/bin/{local_uv.name}"
            logger.info("ssh host %s: shipped uv %s -> %s", self.spec, local_uv, remote_uv)
        # uv's own settings always; TLS trust and proxies only when the "remote" is this machine
        # (they name local files and local network setup; a real remote brings its own).
        uv_env = {k: v for k, v in uv_environment().items() if k.startswith("UV_") or self.loopback}
        self._mapper = PathMapper(self, root, uv=remote_uv, freeze=_freeze, build_timeout_s=self.build_timeout_s,
                                  uv_environment=uv_env)
        logger.info("ssh host %s: remote root %s, uv %s, python3 %s", self.spec, root, remote_uv, python3)

    @property
    def mapper(self) -> PathMapper:
        self.connect()
        assert self._mapper is not None
        return self._mapper

    # -- processes -------------------------------------------------------------------------

    def translate(self, command: Command, log_dir: Path) -> RemoteCommand:
        return self.mapper.translate(command.argv, command.env, command.cwd, Path(log_dir))

    def remote_exec_argv(self, remote: RemoteCommand, log: str, control: bool) -> str:
        parts = ["run", "--log", log, "--cwd", remote.cwd]
        if control:
            parts.append("--control")
        for key, value in remote.env.items():
            parts += ["--env", f"{key}={value}"]
        return f"{self._remote_exec} {shlex.join([*parts, '--', *remote.argv])}"

    def start(self, command: Command, ready: Probe | None, log_dir: Path) -> SshProcess:
        """Ship, start remotely, wait for the remote pid and then ``ready``; StartError otherwise."""
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        remote = self.translate(command, log_dir)
        remote_log = f"{remote.run_dir}/{command.name}.log"
        wrapped = Command(self.ssh_argv(self.remote_exec_argv(remote, remote_log, command.control)),
                          name=command.name, control=True)
        log_path = log_dir / f"{command.name}.log"
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        log_offset = os.fstat(log_fd).st_size
        header = (f"[compat.harness {timing.utc_timestamp()}] start {command.name} on host {self.spec}: "
                  f"{shlex.join(remote.argv)} (remote cwd {remote.cwd}, remote log {remote_log})\n")
        os.write(log_fd, header.encode())
        try:
            carrier = _command.spawn(wrapped, stderr_fd=log_fd, stdin_pipe=command.control)
        except BaseException:
            os.close(log_fd)
            raise
        process = SshProcess(self, command, remote, remote_log, carrier, log_path, log_offset, log_fd,
                             ready if isinstance(ready, ReadyLine) else None)
        with self._lock:
            self._processes.append(process)
        try:
            process._wait_started(ready, self.connect_timeout_s + 10.0)
        except BaseException:
            process.stop(grace_s=1.0)
            raise
        return process

    def run(self, command: Command, timeout_s: float) -> Outcome:
        """Run to completion on the remote (in a scratch run dir); paths are mapped as for start()."""
        remote = self.translate(command, Path(tempfile.gettempdir()) / "compat-ssh-run")
        env = " ".join(shlex.quote(f"{k}={v}") for k, v in remote.env.items())
        script = f"cd {shlex.quote(remote.cwd)} && exec env {env} {shlex.join(remote.argv)}"
        outcome = _command.run(Command(self.ssh_argv(script, stdin=False), name=command.name), timeout_s)
        return Outcome(command, outcome.returncode, outcome.stdout, outcome.stderr, outcome.duration_s)

    def remote_signal(self, pgid: int, sig: int, *then: int) -> bool:
        """Signal a remote process group (then the ``then`` signals, same round trip); False when it is gone."""
        signals = " ".join(str(int(s)) for s in (sig, *then))
        outcome = _command.run(
            Command(self.ssh_argv(f"{self._remote_exec} kill {pgid} {signals}", stdin=False), name="ssh-kill"),
            self.connect_timeout_s + 5.0,
        )
        if outcome.returncode == 3:
            return False
        if not outcome.ok:
            raise HostError(f"cannot send {signal_name(sig)} to pid {pgid} on {self.spec}: {outcome.stderr.strip()}")
        return True

    def remote_alive(self, pid: int) -> bool:
        outcome = _command.run(
            Command(self.ssh_argv(f"{self._remote_exec} alive {pid}", stdin=False), name="ssh-alive"),
            self.connect_timeout_s + 5.0,
        )
        if outcome.returncode not in (0, 3):
            raise HostError(f"cannot check pid {pid} on {self.spec}: {outcome.stderr.strip()}")
        return outcome.returncode == 0

    def remote_tail(self, path: str, lines: int) -> str:
        return self.remote_shell(f"tail -n {int(lines)} {shlex.quote(path)} 2>/dev/null || true",
                                 name="tail", timeout_s=self.connect_timeout_s + 5.0)

    # -- addresses and clocks --------------------------------------------------------------

    def reachable_address(self, bound: tuple[str, int]) -> tuple[str, int]:
        host, port = bound
        if self.loopback:
            return LocalHost().reachable_address(bound)
        if host in ("", "0.0.0.0", "::"):
            return (self.target.host, port)
        if host.startswith("127.") or host in ("localhost", "::1"):
            raise HostError(
                f"a process on {self.spec} bound {host}:{port}, the remote machine's loopback, which this machine "
                "cannot reach; bind {listen_host} (0.0.0.0 for a remote ssh host)"
            )
        return (host, port)

    def connect_address(self, address: tuple[str, int]) -> tuple[str, int]:
        if self.loopback or not (address[0].startswith("127.") or address[0] in ("localhost", "::1")):
            return address
        raise HostError(
            f"a process on {self.spec} cannot reach {address[0]}:{address[1]}, which is this machine's loopback; "
            "place both roles on the same host, or the server on a host the remote can route to"
        )

    def shares_clock_with(self, other: object) -> bool:
        return getattr(other, "clock_domain", None) == self.clock_domain

    # -- cleanup ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop what is still running remotely, remove this host's run dirs, close the master.

        Returns only once the remote processes it started are gone (each stop escalates to
        SIGKILL and waits; then ``remote_exec.py alive`` confirms it over the master connection)
        and the master connection has exited. Whatever is left raises HostError naming it, after
        the rest of the teardown ran. Safe to call any number of times.
        """
        left: list[str] = []
        with self._lock:
            self._closed = True
            processes, self._processes = self._processes, []
            for process in processes:
                try:
                    process.stop(grace_s=2.0)
                except Exception as exc:  # keep tearing down; reported below
                    left.append(f"remote process {process.name} (pid {process.pid}): {exc}")
            master_up = self._mapper is not None and self._master is not None and self._master.poll() is None
            if master_up:
                for process in processes:
                    if not process.pid:
                        continue
                    try:
                        alive = self.remote_alive(process.pid)
                    except (HostError, HarnessError) as exc:
                        left.append(f"remote process {process.name} (pid {process.pid}): cannot check it: {exc}")
                        continue
                    if alive:
                        left.append(f"remote process {process.name} (pid {process.pid}) still running")
                runs = sorted({p.remote.run_dir for p in processes})
                if runs:
                    with contextlib.suppress(HostError):
                        self.remote_shell(f"rm -rf {' '.join(shlex.quote(r) for r in runs)}",
                                          name="rm-runs", timeout_s=30.0)
            master = self._master
            try:
                self._stop_master()
            except Exception as exc:  # keep tearing down; reported below
                left.append(f"ssh master connection: {exc}")
            if master is not None and master.poll() is None:
                left.append(f"ssh master connection (local pid {master.pid}) still running")
            self._mapper = None
            if self._state_dir is not None and self._state_dir.is_dir():
                for leftover in self._state_dir.iterdir():
                    with contextlib.suppress(OSError):
                        leftover.unlink()
                with contextlib.suppress(OSError):
                    self._state_dir.rmdir()
        if left:
            raise HostError(f"closing host {self.spec}: still present after teardown: {'; '.join(left)}")

    def __repr__(self) -> str:
        return f"SshHost({self.spec!r}, remote_root={self.remote_root or '?'})"


def _freeze(python: Path) -> str:
    from compat.harness.uv import run_uv

    outcome = run_uv(["pip", "freeze", "--python", str(python)], name="uv-freeze", timeout_s=60.0)
    if outcome.returncode != 0:
        raise HostError(f"`uv pip freeze --python {python}` failed: {outcome.stderr.strip()}")
    return outcome.stdout


class SshProcess:
    """A process on an ssh host: ``pid`` is the REMOTE pid (and process group)."""

    def __init__(
        self,
        host: SshHost,
        command: Command,
        remote: RemoteCommand,
        remote_log: str,
        carrier: Spawned,
        log_path: Path,
        log_offset: int,
        log_fd: int,
        ready: ReadyLine | None,
    ) -> None:
        self.host: Host = host
        self._ssh = host  # the same object, with the ssh-only operations
        self.command = command
        self.remote = remote
        self.remote_log = remote_log
        self.name = command.name
        self.pid = 0
        self.log_path = log_path
        self.ready_info: dict[str, str] = {}
        self.ready_line = ""
        self._carrier = carrier
        self._log_offset = log_offset
        self._log_fd = log_fd
        self._ready_probe = ready
        self._pid_event = threading.Event()
        self._ready_event = threading.Event()
        self._eof_event = threading.Event()
        self._session_lost = threading.Event()  # never set: a timer between remote polls
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._remote_exit: int | None = None
        self._exit_streamed = False  # False at the end: the session dropped before the process ended
        self._stopped_code: int | None = None
        self._finalized = False
        self._stop_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"compat-ssh-reader-{self.name}", daemon=True)
        self._reader.start()

    # -- output ----------------------------------------------------------------------------

    def _note(self, message: str, level: int = logging.INFO) -> None:
        logger.log(level, "%s (remote pid %d on %s): %s", self.name, self.pid, self._ssh.spec, message)
        with contextlib.suppress(OSError), open(self.log_path, "ab") as log:
            log.write(f"[compat.harness {timing.utc_timestamp()}] {message}\n".encode())

    def _read(self) -> None:
        assert self._carrier.stdout is not None
        fd = self._carrier.stdout.fileno()
        partial = b""
        try:
            while chunk := os.read(fd, 65536):
                partial += chunk
                *lines, partial = partial.split(b"\n")
                for raw in lines:
                    self._line(raw.decode("utf-8", errors="replace").rstrip("\r"))
            if partial:
                self._line(partial.decode("utf-8", errors="replace"))
        except OSError as exc:
            logger.debug("%s: ssh reader stopped: %s", self.name, exc)
        finally:
            self._lines.put(None)
            self._eof_event.set()
            self._pid_event.set()  # wake a start waiting for a pid that will never come

    def _line(self, line: str) -> None:
        if not self._pid_event.is_set() and line.startswith(PID_PREFIX):
            self.pid = int(line[len(PID_PREFIX):])
            self._pid_event.set()
            return
        if line.startswith(EXIT_PREFIX) and line[len(EXIT_PREFIX):].lstrip("-").isdigit():
            self._remote_exit = int(line[len(EXIT_PREFIX):])
            self._exit_streamed = True
            return
        matched = False
        if self._ready_probe is not None and not self._ready_event.is_set():
            info = self._ready_probe.match(line)
            if info is not None:
                self.ready_info, self.ready_line, matched = info, line, True
                self._ready_event.set()
        if self.command.control:
            if not matched:
                self._note(f"channel << {line[:_CHANNEL_NOTE_CHARS]}", logging.DEBUG)
                self._lines.put(line)
        else:
            os.write(self._log_fd, (line + "\n").encode())

    def log_tail(self, lines: int = 20) -> str:
        """The remote log's last lines (it has everything, also stderr of a control process)."""
        if not self._finalized and self._ssh._master is not None and self._ssh._master.poll() is None:
            with contextlib.suppress(HostError, HarnessError):
                return self._ssh.remote_tail(self.remote_log, lines).rstrip("\n")
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"(log {self.log_path} unreadable: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    # -- state -----------------------------------------------------------------------------

    def poll(self) -> int | None:
        if self._remote_exit is not None:
            return self._remote_exit
        if self._carrier.poll() is None:
            return None
        self._eof_event.wait(2.0)  # the EXIT line may still be in the pipe
        if self._remote_exit is not None:
            return self._remote_exit
        if not self.pid:
            return self._carrier.poll()
        if self._ssh.remote_alive(self.pid):
            return None  # the ssh session dropped, the remote process did not
        # The session is gone, so the exit code comes from the remote log, where the wrapper
        # writes it right after reaping the process (give it a moment to get there).
        deadline = timing.Deadline(2.0)
        while (code := self._remote_exit_from_log()) is None and not deadline.expired():
            self._session_lost.wait(0.1)
        if code is not None:
            self._remote_exit = code
            return code
        return self._carrier.poll()

    def _remote_exit_from_log(self) -> int | None:
        with contextlib.suppress(HostError, HarnessError):
            for line in reversed(self._ssh.remote_tail(self.remote_log, 5).splitlines()):
                if line.startswith(REMOTE_EXIT_NOTE) and line[len(REMOTE_EXIT_NOTE):].lstrip("-").isdigit():
                    return int(line[len(REMOTE_EXIT_NOTE):])
        return None

    def wait(self, timeout_s: float) -> int | None:
        """The exit code once the remote process ended, or None after ``timeout_s``."""
        deadline = timing.Deadline(timeout_s)
        if not self._eof_event.wait(timeout_s):
            return None  # the session is open, so the remote wrapper still waits on its child
        while True:
            code = self.poll()
            if code is not None or deadline.expired():
                return code
            # The ssh session dropped but the remote process lives on: ask the remote again shortly.
            self._session_lost.wait(min(0.5, deadline.remaining()))

    def send_signal(self, sig: int) -> None:
        self._note(f"fault: sending {signal_name(sig)} to remote process group {self.pid} on {self._ssh.spec}")
        if not self._ssh.remote_signal(self.pid, sig):
            raise HarnessError(
                f"cannot send {signal_name(sig)} to {self.name}: remote process group {self.pid} on "
                f"{self._ssh.spec} is gone (exit code {self.poll()}); log: {self.log_path}"
            )

    def stop(self, grace_s: float = 5.0, steps: tuple[stopping.StopStep, ...] | None = None) -> int | None:
        """``steps`` (default INT -> TERM -> KILL) to the remote process group, ``grace_s`` apart, each logged."""
        with self._stop_lock:
            if self._finalized:
                return self._stopped_code
            code = self.poll() if self.pid else self._carrier.poll()
            if code is not None:
                self._note(f"stop: already exited with code {code}")
            elif not self.pid:
                self._note("stop: no remote pid was reported; stopping the local ssh session")
                self._carrier.signal_group(signal.SIGKILL)
                code = self._carrier.wait(2.0)
            else:
                code = self._escalate(grace_s, steps or stopping.STOP_STEPS)
            self._stopped_code = code
            self._finalize()
            return code

    def _escalate(self, grace_s: float, steps: tuple[stopping.StopStep, ...]) -> int | None:
        return stopping.escalate(
            deliver=self._deliver,
            wait=self.wait,
            note=self._note,
            target=f"remote process group {self.pid} on {self._ssh.spec}",
            grace_s=grace_s,
            who=f"{self.name} (remote pid {self.pid}) on host {self._ssh.spec}",
            hint=f"log: {self.log_path}, remote log: {self.remote_log}",
            steps=steps,
        )

    def _deliver(self, step: stopping.StopStep) -> bool:
        """The step's signals to the remote process group in one round trip; False when it is gone."""
        return self._ssh.remote_signal(self.pid, *step.signals)

    def _finalize(self) -> None:
        self._finalized = True
        if self._carrier.wait(2.0) is None:
            self._carrier.signal_group(signal.SIGKILL)
            self._carrier.wait(2.0)
        self._reader.join(timeout=2.0)
        if self.command.control or not self._exit_streamed:
            # stderr of a control process (and whatever a dropped session missed) is only remote.
            with contextlib.suppress(HostError, HarnessError):
                text = self._ssh.remote_tail(self.remote_log, 2000)
                where = f"{self._ssh.spec}:{self.remote_log}"
                os.write(self._log_fd, f"--- remote log {where}\n{text}--- end of remote log\n".encode())
        self._carrier.close_pipes()
        with contextlib.suppress(OSError):
            os.close(self._log_fd)

    def __enter__(self) -> SshProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- control channel -------------------------------------------------------------------

    def send_line(self, line: str) -> None:
        if not self.command.control:
            raise HarnessError(f"send_line on {self.name}: it was started without a control channel")
        if "\n" in line:
            raise HarnessError(f"send_line to {self.name}: the line contains a newline: {line[:80]!r}")
        stdin = self._carrier.stdin
        assert stdin is not None
        self._note(f"channel >> {line[:_CHANNEL_NOTE_CHARS]}", logging.DEBUG)
        try:
            with self._send_lock:
                stdin.write(line.encode("utf-8") + b"\n")
                stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise ChannelClosed(
                f"send_line: the ssh control channel of {self.name} on {self._ssh.spec} is closed; "
                f"exit code {self.poll()}; log: {self.log_path}\n{self.log_tail(20)}"
            ) from exc

    def read_line(self, timeout_s: float) -> str:
        if not self.command.control:
            raise HarnessError(f"read_line on {self.name}: it was started without a control channel")
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise ChannelTimeout(
                f"read_line: no line from {self.name} on host {self._ssh.spec} within {timeout_s:.1f}s; "
                f"log: {self.log_path} (remote {self.remote_log}), last 20 lines:\n{self.log_tail(20)}"
            ) from None
        if line is None:
            self._lines.put(None)
            raise ChannelClosed(
                f"read_line: the ssh control channel of {self.name} on {self._ssh.spec} is closed; "
                f"exit code {self.poll()}; log: {self.log_path} (last 20 lines below)\n{self.log_tail(20)}"
            )
        return line

    # -- start -----------------------------------------------------------------------------

    def _wait_started(self, ready: Probe | None, pid_timeout_s: float) -> None:
        started = timing.monotonic()
        if not self._pid_event.wait(pid_timeout_s) or not self.pid:
            code = self._carrier.wait(1.0)
            raise self._start_error(
                f"{self.name} did not start on host {self.spec_text()}: no remote pid within {pid_timeout_s:.1f}s "
                f"(ssh exit code {code})", code)
        self._note(f"started remote pid {self.pid} on {self._ssh.spec}")
        if ready is None:
            return
        deadline = timing.Deadline(ready.timeout_s)
        if isinstance(ready, PortOpen):
            host, port = self._ssh.reachable_address((ready.host, ready.port))
            probe = PortOpen(host, port, ready.timeout_s)
            while not probe.attempt():
                if self._eof_event.is_set() or deadline.expired():
                    break
                self._eof_event.wait(0.05)
            else:
                self.ready_info = probe.info()
                self._note(f"ready: {self.ready_info}")
                return
        else:
            while not self._ready_event.wait(min(0.05, max(deadline.remaining(), 0.0))):
                if self._eof_event.is_set() or deadline.expired():
                    break
            if self._ready_event.is_set():
                self._note(f"ready: {self.ready_line}")
                return
        code = self.poll()
        if code is not None:
            raise self._start_error(
                f"{self.name} died at start with exit code {code} on host {self.spec_text()}, "
                f"{timing.monotonic() - started:.1f}s after start, before it could {ready.describe()} "
                f"({ready.expectation()})", code)
        code = self.stop(grace_s=1.0)
        raise self._start_error(
            f"{self.name} did not {ready.describe()} within {ready.timeout_s:.1f}s on host {self.spec_text()}; "
            f"exit code {code} (it was still running, so it was stopped); {ready.expectation()}", code)

    def spec_text(self) -> str:
        return self._ssh.spec

    def _start_error(self, head: str, code: int | None) -> StartError:
        tail = self.log_tail(20)
        if not self._finalized:
            self.stop(grace_s=1.0)
        return ProcessStartError(f"{head}; log: {self.log_path} (remote {self.remote_log}; last 20 lines below)\n"
                                 f"{tail}", self.name, code, self.log_path)


__all__ = ["SshHost", "SshProcess", "SshTarget"]
