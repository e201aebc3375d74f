"""The local host: processes on this machine, started through the one door (command.py).

Output handling, per process, into ``log_dir/<name>.log`` (appended, with a header per start):

* plain command: stdout and stderr share one pipe; a reader thread copies every chunk into
  the log straight away and looks for the ready line until it is found. The pipe is always
  drained, so a process that floods stdout never blocks on a full pipe.
* ``control=True``: stdout is a line channel (``read_line``), stdin is ``send_line``, and
  stderr goes straight into the log file. Channel traffic is noted in the log (truncated).

Harness events (start, ready, every stop step, fault signals) are written into the same log
and to the ``compat.harness`` logger, so a log read alone tells the whole story.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
from pathlib import Path
from types import TracebackType

import psutil

from compat import timing
from compat.errors import (
    ChannelClosed,
    ChannelTimeout,
    ConfigError,
    HarnessError,
    ProcessStartError,
)
from compat.harness import command as _command
from compat.harness import leaks, stopping
from compat.harness.command import Command, Outcome, Spawned
from compat.harness.host import Host
from compat.harness.ready import PortOpen, Probe, ReadyLine
from compat.harness.stopping import signal_name

logger = logging.getLogger("compat.harness")

_CHUNK = 65536
_MAX_PARTIAL_LINE = 1 << 20  # a "line" longer than this is not a ready line; keep memory bounded
_CHANNEL_NOTE_CHARS = 300
_TAIL_BYTES = 256 * 1024


class LocalProcess:
    """A process on this machine. Created by LocalHost.start; ready when you get it."""

    def __init__(
        self,
        host: LocalHost,
        command: Command,
        spawned: Spawned,
        log_path: Path,
        log_offset: int,
        log_fd: int,
        ready: ReadyLine | None,
    ) -> None:
        self.host: Host = host  # a NetnsHost for processes it started (it builds on LocalHost)
        self.command = command
        self.name = command.name
        self.pid = spawned.pid
        self.log_path = log_path
        self.ready_info: dict[str, str] = {}
        self.ready_line = ""
        self._spawned = spawned
        self._log_offset = log_offset
        self._log_fd = log_fd
        self._ready_probe = ready
        self._ready_event = threading.Event()
        self._eof_event = threading.Event()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stopped_code: int | None = None
        self._finalized = False
        self._stop_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(
            target=self._read_channel if command.control else self._read_output,
            name=f"compat-harness-reader-{self.name}",
            daemon=True,
        )
        self._reader.start()

    # -- output -----------------------------------------------------------------------------

    def _note(self, message: str, level: int = logging.INFO) -> None:
        """A harness event, into the process log and the compat.harness logger."""
        logger.log(level, "%s (pid %d): %s", self.name, self.pid, message)
        stamp = timing.utc_timestamp()
        with contextlib.suppress(OSError), open(self.log_path, "ab") as log:
            log.write(f"[compat.harness {stamp}] {message}\n".encode())

    def _check_ready(self, raw: bytes) -> bool:
        if self._ready_probe is None or self._ready_event.is_set():
            return False
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        info = self._ready_probe.match(line)
        if info is None:
            return False
        self.ready_info = info
        self.ready_line = line
        self._ready_event.set()
        return True

    def _read_output(self) -> None:
        assert self._spawned.stdout is not None
        fd = self._spawned.stdout.fileno()
        partial = b""
        try:
            while True:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                os.write(self._log_fd, chunk)
                if self._ready_probe is not None and not self._ready_event.is_set():
                    partial += chunk
                    *lines, partial = partial.split(b"\n")
                    for raw in lines:
                        if self._check_ready(raw):
                            break
                    if len(partial) > _MAX_PARTIAL_LINE:
                        partial = b""
            if partial:
                self._check_ready(partial)
        except OSError as exc:
            logger.debug("%s: output reader stopped: %s", self.name, exc)
        finally:
            self._eof_event.set()

    def _read_channel(self) -> None:
        assert self._spawned.stdout is not None
        fd = self._spawned.stdout.fileno()
        partial = b""
        try:
            while True:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                partial += chunk
                *lines, partial = partial.split(b"\n")
                for raw in lines:
                    if self._check_ready(raw):
                        continue  # the ready line is the harness's, not the caller's
                    line = raw.decode("utf-8", errors="replace").rstrip("\r")
                    self._note(f"channel << {line[:_CHANNEL_NOTE_CHARS]}", logging.DEBUG)
                    self._lines.put(line)
            if partial:
                self._lines.put(partial.decode("utf-8", errors="replace"))
        except OSError as exc:
            logger.debug("%s: channel reader stopped: %s", self.name, exc)
        finally:
            self._lines.put(None)
            self._eof_event.set()

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines this start wrote to its log."""
        try:
            with open(self.log_path, "rb") as log:
                size = log.seek(0, os.SEEK_END)
                start = max(self._log_offset, size - _TAIL_BYTES)
                log.seek(start)
                data = log.read()
        except OSError as exc:
            return f"(log {self.log_path} unreadable: {exc})"
        text = data.decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- state and signals ------------------------------------------------------------------

    def poll(self) -> int | None:
        return self._spawned.poll()

    def wait(self, timeout_s: float) -> int | None:
        """Wait for the process to exit by itself; its exit code, or None if still running."""
        return self._spawned.wait(timeout_s)

    def send_signal(self, sig: int) -> None:
        """Signal the process group (SIGSTOP/SIGCONT/SIGKILL for fault scenarios)."""
        self._note(f"fault: sending {signal_name(sig)} to process group {self.pid}")
        if not self._spawned.signal_group(sig):
            raise HarnessError(
                f"cannot send {signal_name(sig)} to {self.name}: its process group {self.pid} is gone "
                f"(exit code {self.poll()}); log: {self.log_path}"
            )

    def stop(self, grace_s: float = 5.0, steps: tuple[stopping.StopStep, ...] | None = None) -> int | None:
        """Stop it: ``steps`` (default SIGINT, then SIGTERM, then SIGKILL), ``grace_s`` apart, each logged.

        Signals go to the whole process group, so children the process forked stop too.
        Returns the exit code (negative: killed by that signal). Safe to call twice.
        """
        with self._stop_lock:
            if self._finalized:
                return self._stopped_code
            detached = self._detached_descendants()
            code = self.poll()
            if code is not None:
                self._note(f"stop: already exited with code {code}")
            else:
                code = self._escalate(grace_s, steps or stopping.STOP_STEPS)
            if self._group_members():
                self._note("stop: the process group still has members after the leader exited; SIGKILL")
                self._spawned.signal_group(signal.SIGKILL)
                self._wait_group_gone(2.0)
            self._kill_survivors(detached)
            self._stopped_code = code
            self._finalize()
            return code

    def _detached_descendants(self) -> list[psutil.Process]:
        """Descendants that left our process group (setsid): group signals miss them."""
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []
        detached = []
        for child in children:
            with contextlib.suppress(psutil.Error, OSError):
                if os.getpgid(child.pid) != self.pid:
                    leaks.register(child.pid, f"detached descendant of {self.name}")
                    detached.append(child)
        return detached

    def _group_members(self) -> list[psutil.Process]:
        """Live (non-zombie) processes still in our process group."""
        if not self._spawned.group_alive():
            return []
        members = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getpgid(proc.pid) == self.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    members.append(proc)
        return members

    def _wait_group_gone(self, timeout_s: float) -> None:
        deadline = timing.Deadline(timeout_s)
        while (members := self._group_members()) and not deadline.expired():
            psutil.wait_procs(members, timeout=min(0.1, deadline.remaining()))
        if members:
            pids = ", ".join(str(p.pid) for p in members)
            self._note(f"stop: process group members still alive after SIGKILL: {pids}", logging.WARNING)

    def _kill_survivors(self, detached: list[psutil.Process]) -> None:
        survivors = [p for p in detached if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not survivors:
            return
        pids = ", ".join(str(p.pid) for p in survivors)
        self._note(f"stop: detached descendants outside the process group survived (pids {pids}); SIGKILL")
        for survivor in survivors:
            with contextlib.suppress(psutil.Error):
                survivor.kill()
        psutil.wait_procs(survivors, timeout=2.0)

    def _escalate(self, grace_s: float, steps: tuple[stopping.StopStep, ...]) -> int | None:
        return stopping.escalate(
            deliver=self._deliver,
            wait=self._spawned.wait,
            note=self._note,
            target=f"process group {self.pid}",
            grace_s=grace_s,
            who=f"{self.name} (pid {self.pid}) on host {self.host.spec}",
            hint=f"it is probably stuck in the kernel (state D). log: {self.log_path}",
            steps=steps,
        )

    def _deliver(self, step: stopping.StopStep) -> bool:
        """The step's signals to the whole process group; False when nobody is left in it."""
        return all(self._spawned.signal_group(sig) for sig in step.signals)

    def _finalize(self) -> None:
        self._finalized = True
        self._reader.join(timeout=2.0)
        if self._reader.is_alive():
            # A grandchild outside the group still holds the pipe. Closing our end under a
            # blocked reader could hand its fd number to another file, so leave it open.
            self._note("stop: output pipe still held open by another process; reader left running")
        else:
            self._spawned.close_pipes()
            with contextlib.suppress(OSError):
                os.close(self._log_fd)

    def __enter__(self) -> LocalProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- control channel --------------------------------------------------------------------

    def _require_control(self, what: str) -> None:
        if not self.command.control:
            raise HarnessError(
                f"{what} on {self.name}: it was started without a control channel; "
                "use Command(..., control=True)"
            )

    def _closed(self, what: str) -> ChannelClosed:
        code = self._spawned.wait(1.0)
        return ChannelClosed(
            f"{what}: the control channel of {self.name} on host {self.host.spec} is closed; "
            f"exit code {code}; log: {self.log_path} (last 20 lines below)\n{self.log_tail(20)}"
        )

    def send_line(self, line: str) -> None:
        """Write one line to the process's stdin (a newline is added)."""
        self._require_control("send_line")
        if "\n" in line:
            raise HarnessError(f"send_line to {self.name}: the line contains a newline: {line[:80]!r}")
        stdin = self._spawned.stdin
        assert stdin is not None
        self._note(f"channel >> {line[:_CHANNEL_NOTE_CHARS]}", logging.DEBUG)
        try:
            with self._send_lock:
                stdin.write(line.encode("utf-8") + b"\n")
                stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise self._closed("send_line") from exc

    def read_line(self, timeout_s: float) -> str:
        """The next line from the process's stdout (without the newline)."""
        self._require_control("read_line")
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise ChannelTimeout(
                f"read_line: no line from {self.name} on host {self.host.spec} within {timeout_s:.1f}s "
                f"(process {'running' if self.poll() is None else f'exited with {self.poll()}'}); "
                f"log: {self.log_path} (last 20 lines below)\n{self.log_tail(20)}"
            ) from None
        if line is None:
            self._lines.put(None)  # every later read sees EOF too
            raise self._closed("read_line")
        return line

    # -- start ------------------------------------------------------------------------------

    def _wait_ready(self, probe: Probe) -> None:
        deadline = timing.Deadline(probe.timeout_s)
        started = timing.monotonic()
        while True:
            if isinstance(probe, ReadyLine):
                if self._ready_event.wait(min(0.05, deadline.remaining())):
                    return
            elif probe.attempt():
                self.ready_info = probe.info()
                return
            code = self.poll()
            if code is not None:
                # Let the reader copy the last output into the log before we quote it.
                self._eof_event.wait(2.0)
                if self._ready_event.is_set():
                    return  # it reported ready and then exited: the caller sees poll()
                raise self._start_error(
                    f"{self.name} died at start with exit code {code} on host {self.host.spec}, "
                    f"{timing.monotonic() - started:.1f}s after start, before it could {probe.describe()} "
                    f"({probe.expectation()})",
                    code,
                )
            if deadline.expired():
                code = self.stop(grace_s=1.0)
                raise self._start_error(
                    f"{self.name} did not {probe.describe()} within {probe.timeout_s:.1f}s on host "
                    f"{self.host.spec}; exit code {code} (it was still running, so it was stopped); "
                    f"{probe.expectation()}",
                    code,
                )
            if not isinstance(probe, ReadyLine):
                self._eof_event.wait(0.05)  # retry interval between connection attempts

    def _start_error(self, head: str, code: int | None) -> ProcessStartError:
        if not self._finalized:
            self.stop(grace_s=1.0)  # no-op for a dead process beyond reaping its group
        message = f"{head}; log: {self.log_path} (last 20 lines below)\n{self.log_tail(20)}"
        return ProcessStartError(message, self.name, code, self.log_path)


class LocalHost:
    """Processes on this machine. Addresses it reports are reachable as they are."""

    spec = "local"
    listen_host = "127.0.0.1"  # what launch templates bind ({listen_host}): loopback is enough here
    clock_domain = "this-machine"  # hosts with the same clock_domain read the same clocks

    @classmethod
    def from_spec(cls, spec: str) -> LocalHost:
        if spec.strip() != "local":
            raise ConfigError(f"host spec {spec!r}: the local host takes no arguments; write 'local'")
        return cls()

    def start(self, command: Command, ready: Probe | None, log_dir: Path) -> LocalProcess:
        """Start ``command``; return only once ``ready`` passed (StartError otherwise)."""
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{command.name}.log"
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        log_offset = os.fstat(log_fd).st_size
        header = (
            f"[compat.harness {timing.utc_timestamp()}] start {command.name} on host {self.spec}: "
            f"{command.describe()} (cwd {command.cwd or os.getcwd()})\n"
        )
        os.write(log_fd, header.encode())
        try:
            spawned = _command.spawn(
                command, stderr_fd=log_fd if command.control else None, stdin_pipe=command.control
            )
        except BaseException:
            os.close(log_fd)
            raise
        process = LocalProcess(
            self,
            command,
            spawned,
            log_path,
            log_offset,
            log_fd,
            ready if isinstance(ready, ReadyLine) else None,
        )
        process._note(f"started pid {process.pid}")
        if ready is None:
            return process
        try:
            process._wait_ready(ready)
        except BaseException:
            process.stop(grace_s=1.0)  # KeyboardInterrupt mid-start must not leak the child
            raise
        process._note(f"ready: {process.ready_line or process.ready_info}")
        return process

    def run(self, command: Command, timeout_s: float) -> Outcome:
        return _command.run(command, timeout_s)

    def reachable_address(self, bound: tuple[str, int]) -> tuple[str, int]:
        """A wildcard bind is reached over loopback; anything else as it is."""
        host, port = bound
        if host in ("", "0.0.0.0"):
            return ("127.0.0.1", port)
        if host == "::":
            return ("::1", port)
        return (host, port)

    def connect_address(self, address: tuple[str, int]) -> tuple[str, int]:
        """How a process on this host reaches a server the test process reaches at ``address``."""
        return address

    def shares_clock_with(self, other: object) -> bool:
        """True when timestamps taken here and on ``other`` are comparable (one-way latency)."""
        return getattr(other, "clock_domain", None) == self.clock_domain

    def close(self) -> None:
        """Nothing to undo on this machine (netns and ssh hosts remove what they set up)."""


__all__ = [
    "ChannelClosed",
    "ChannelTimeout",
    "LocalHost",
    "LocalProcess",
    "PortOpen",
    "ProcessStartError",
    "ReadyLine",
]
