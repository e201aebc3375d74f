"""Process helpers for the reference products' tests: a real exchange, real gateway processes, the client in-process.

The client library runs from its source tree (``clients/refclient/src`` on sys.path); the
gateway runs as its own process from ``gateways/refgw/src``. Processes are awaited on their
ready lines, never on sleeps, and are stopped (TERM, then KILL) at teardown.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

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

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5.0)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5.0)
        return self.popen.returncode


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

    def pump() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            lines.append(line.rstrip("\n"))
            if READY.match(line.strip()):
                found.put(line.strip())
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
    return Proc(popen, addrs, lines)


