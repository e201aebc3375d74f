"""Runs on the far side of an ssh host: start one program, report its pid, keep its log.

Shipped by :mod:`compat.harness.ssh` to ``<remote root>/bin/remote_exec.py`` and run with
any python3 there, so it is stdlib-only and never imported by compat itself.

``remote_exec.py run --log LOG [--control] [--cwd DIR] [--env K=V ...] -- ARGV...``

1. forks; the child starts a new session (its pid is the process group the host signals),
   waits until the parent has announced it, then execs ARGV with a minimal environment;
2. prints ``COMPAT-REMOTE-PID <pid>`` as the first stdout line, before the child can write;
3. plain mode: the child's stdout+stderr go through a pipe that this wrapper copies into LOG
   *and* to its own stdout (the ssh channel), so the harness sees the ready line live and the
   remote log keeps everything even if the ssh connection drops;
   control mode: the child's stdin/stdout are the ssh channel itself, its stderr goes to LOG;
4. when the child exits, appends ``[compat.remote] exit CODE`` to LOG, prints
   ``COMPAT-REMOTE-EXIT <code>`` (negative: killed by that signal) and exits.

``remote_exec.py kill PGID SIGNAL...`` signals a process group: exit 0 sent, 3 no such group.
``remote_exec.py alive PID`` exits 0 while PID runs (a zombie counts as gone), 3 otherwise.
"""

from __future__ import annotations

import os
import signal
import sys

PID_PREFIX = "COMPAT-REMOTE-PID "
EXIT_PREFIX = "COMPAT-REMOTE-EXIT "
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def _parse_run(args: list[str]) -> tuple[str, bool, str | None, dict[str, str], list[str]]:
    log, control, cwd, env = "", False, None, {}
    while args and args[0] != "--":
        flag = args.pop(0)
        if flag == "--log":
            log = args.pop(0)
        elif flag == "--control":
            control = True
        elif flag == "--cwd":
            cwd = args.pop(0)
        elif flag == "--env":
            key, _, value = args.pop(0).partition("=")
            env[key] = value
        else:
            raise SystemExit(f"remote_exec: unknown option {flag!r}")
    if not args or not log:
        raise SystemExit("remote_exec: usage: run --log LOG [--control] [--cwd DIR] [--env K=V] -- ARGV...")
    return log, control, cwd, env, args[1:]


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", BASE_PATH), "PYTHONUNBUFFERED": "1"}
    for name in ("HOME", "LANG", "USER", "LOGNAME"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def _write_all(fd: int, data: bytes) -> bool:
    try:
        while data:
            written = os.write(fd, data)
            data = data[written:]
    except OSError:
        return False  # the ssh channel is gone; keep logging, the harness reads LOG instead
    return True


def run(args: list[str]) -> int:
    log_path, control, cwd, extra, argv = _parse_run(args)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    go_read, go_write = os.pipe()
    out_read, out_write = (-1, -1) if control else os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.setsid()
        os.close(go_write)
        os.read(go_read, 1)  # wait until the parent announced our pid
        os.close(go_read)
        if control:
            os.dup2(log_fd, 2)
        else:
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_write, 1)
            os.dup2(out_write, 2)
            os.close(out_read)
            os.close(out_write)
        os.close(log_fd)
        # Python ignores SIGPIPE (and the shell may ignore others); an exec'd program expects defaults.
        for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        try:
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, _environment(extra))
        except OSError as exc:
            os.write(2, f"remote_exec: cannot start {argv[0]!r}: {exc}\n".encode())
        os._exit(127)
    # parent: the announcement goes out before the child can print anything
    os.close(go_read)
    stdout_ok = _write_all(1, f"{PID_PREFIX}{pid}\n".encode())
    os.write(log_fd, f"[compat.remote] pid {pid}: {' '.join(argv)}\n".encode())
    os.write(go_write, b"g")
    os.close(go_write)
    # The wrapper outlives a dropped ssh channel: it must not die of SIGHUP/SIGPIPE/SIGINT.
    for sig in (signal.SIGHUP, signal.SIGPIPE, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    if not control:
        os.close(out_write)
        while chunk := os.read(out_read, 65536):
            os.write(log_fd, chunk)
            if stdout_ok:
                stdout_ok = _write_all(1, chunk)
        os.close(out_read)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os.write(log_fd, f"[compat.remote] exit {code}\n".encode())
    os.close(log_fd)
    if stdout_ok:
        _write_all(1, f"{EXIT_PREFIX}{code}\n".encode())
    return code if code >= 0 else 128 - code


def kill(pgid: int, signals: list[int]) -> int:
    """Send each signal in turn (INT then CONT in one round trip); 3 when the group is gone."""
    try:
        for sig in signals:
            os.killpg(pgid, sig)
    except ProcessLookupError:
        return 3
    return 0


def alive(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 3
        except PermissionError:
            return 0
        return 0
    return 3 if state in ("Z", "X") else 0


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit("remote_exec: usage: run|kill|alive ...")
    if argv[0] == "run":
        return run(argv[1:])
    if argv[0] == "kill":
        return kill(int(argv[1]), [int(sig) for sig in argv[2:]])
    if argv[0] == "alive":
        return alive(int(argv[1]))
    raise SystemExit(f"remote_exec: unknown command {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
