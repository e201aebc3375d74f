"""Start ``compat exchange`` as a real process for the exchange's own tests, and stop it."""

from __future__ import annotations

import os
import selectors
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compat import timing
from compat.exchange.client import parse_ready_line

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 20.0


@contextmanager
def exchange_process(
    argv: list[str], log_path: Path
) -> Iterator[tuple[subprocess.Popen[str], dict[str, tuple[str, int]]]]:
    """Start the exchange, wait (bounded) for its ready line, always stop it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO, env=env)
        try:
            assert proc.stdout is not None
            selector = selectors.DefaultSelector()
            selector.register(proc.stdout, selectors.EVENT_READ)
            deadline = timing.Deadline(READY_TIMEOUT_S)
            line = ""
            while not line:
                if deadline.expired() or not selector.select(deadline.remaining()):
                    raise AssertionError(
                        f"exchange not ready within {READY_TIMEOUT_S}s; log:\n{log_path.read_text()[-2000:]}"
                    )
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    raise AssertionError(
                        f"exchange exited with {proc.returncode}; log:\n{log_path.read_text()[-2000:]}"
                    )
            yield proc, parse_ready_line(line)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
