"""Process helpers for the reference products' tests: a real exchange, real gateway processes, the client in-process.

The client library runs from its source tree (``clients/refclient/src`` on sys.path); the
gateway runs as its own process from ``gateways/refgw/src``. Processes are awaited on their
ready lines, never on sleeps, and are stopped (TERM, then KILL) at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GW_SRC = ROOT / "gateways" / "refgw" / "src"
CLIENT_SRC = ROOT / "clients" / "refclient" / "src"
if str(CLIENT_SRC) not in sys.path:
    sys.path.insert(0, str(CLIENT_SRC))

READY = re.compile(r"^(?P<name>[A-Z]+) READY (?P<addrs>.*)$")


@dataclass
class Proc:
    popen: subprocess.Popen[str]
    addrs: dict[str, tuple[str, int]]
    lines: list[str]
    new_line: threading.Condition = field(default_factory=threading.Condition)  # notified per line

    def wait_line(self, pattern: str, after: int = 0, timeout: float = 10.0) -> re.Match[str]:
        """The first output line from index ``after`` on matching ``pattern`` (re.search),
        waiting up to ``timeout`` seconds for the process to print it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.new_line:
            while True:
                for line in self.lines[after:]:
                    if match := regex.search(line):
                        return match
                after = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.new_line.wait(remaining)
        tail = "\n".join(self.lines[-20:])
        raise AssertionError(f"no output line matching {pattern!r} within {timeout}s; last lines:\n{tail}")

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5.0)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5.0)
        return self.popen.returncode


GatewayFactory = Callable[..., "Proc"]


def start_exchange(venue: str = "both", name: str = "exchange") -> Proc:
    """A real ``compat exchange`` (both venues by default), ready; the caller stops it."""
    return start([sys.executable, "-m", "compat.exchange", "--venue", venue], name)


def start(argv: list[str], name: str, env: dict[str, str] | None = None, timeout: float = 20.0) -> Proc:
    """Start a process and wait for its ``NAME READY k=h:p ...`` line on stdout."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    popen = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=str(ROOT)
    )
    lines: list[str] = []
    found: queue.Queue[str | None] = queue.Queue()
    new_line = threading.Condition()

    def pump() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            with new_line:
                lines.append(line.rstrip("\n"))
                new_line.notify_all()
            if READY.match(line.strip()):
                found.put(line.strip())
        with new_line:
            new_line.notify_all()
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        line = found.get(timeout=timeout)
    except queue.Empty:
        line = None
    if line is None:
        popen.kill()
        popen.wait(5.0)
        tail = "\n".join(lines[-20:])
        raise RuntimeError(
            f"{name} ({' '.join(argv)}) never printed its ready line within {timeout}s; "
            f"exit code {popen.returncode}; output:\n{tail}"
        )
    match = READY.match(line)
    assert match is not None
    addrs = {}
    for part in match.group("addrs").split():
        key, _, hostport = part.partition("=")
        host, _, port = hostport.rpartition(":")
        addrs[key] = (host, int(port))
    return Proc(popen, addrs, lines, new_line)


WHEELHOUSE = ROOT / "wheelhouse"
ADAPTER = ROOT / "clients" / "refclient" / "compat_adapter.py"
DRIVER = ROOT / "compat" / "driver" / "driver.py"

# The client release line that goes with each gateway release.
PARTNER = {
    "1.0.0": "1.0.0",
    "1.1.0": "1.1.0",
    "2.0.0": "2.0.0",
    "2.1.0": "2.1.0",
    "2.2.0": "2.1.0",
    "3.0.0": "3.0.0",
}


def versions(dist: str) -> list[str]:
    return sorted(p.name.split("-")[1] for p in WHEELHOUSE.glob(f"{dist}-*.whl"))


def venv_for(tmp_root: Path, dist: str, version: str) -> Path:
    venv = tmp_root / f"{dist}-{version}"
    if not (venv / "bin" / "python").exists():
        for cmd in (
            ["uv", "venv", "-q", "--python", sys.executable, str(venv)],
            [
                "uv",
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                "--find-links",
                str(WHEELHOUSE),
                f"{dist}=={version}",
            ],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    return venv


def gateway_argv(venv: Path, version: str, venue: str, exch: tuple[str, int], member: str, journal: Path) -> list[str]:
    """The per-version launch command line (docs/reference-system.md, 'Launch')."""
    exe = str(venv / "bin" / "refgw")
    host, port = exch
    if version.startswith("1."):
        return [
            exe,
            "--port",
            "0",
            "--exchange-host",
            host,
            "--exchange-port",
            str(port),
            "--venue",
            venue,
            "--member",
            member,
        ]
    return [
        exe,
        "--listen",
        "127.0.0.1:0",
        "--exchange",
        f"{host}:{port}",
        "--venue",
        venue,
        "--journal",
        str(journal),
        "--member",
        member,
    ]


class Driver:
    """compat's driver program in a client venv, spoken to over its JSON-lines channel."""

    def __init__(self, venv: Path) -> None:
        self.proc = subprocess.Popen(
            [str(venv / "bin" / "python"), str(DRIVER), "--adapter", str(ADAPTER), "--package", "refclient"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.hello = self._read(20.0)
        self.ids = 0

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            return dict(json.loads(self.lines.get(timeout=timeout)))
        except queue.Empty:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            raise AssertionError(f"driver silent for {timeout}s; stderr:\n{err[-3000:]}") from None

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.ids += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": self.ids, "op": op, "args": args}) + "\n")
        self.proc.stdin.flush()
        return self._read(30.0)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(AssertionError, BrokenPipeError, OSError):
                self.call("shutdown")
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)


def run(coro: Any) -> Any:
    """Run one in-process client scenario, bounded: a hung await fails the test, never the suite."""
    return asyncio.run(asyncio.wait_for(coro, 30.0))
