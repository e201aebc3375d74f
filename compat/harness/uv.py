"""Running ``uv`` through the one door to the OS (``compat.harness.command``).

The harness gives children a minimal environment; uv additionally needs its own settings,
TLS trust and proxy variables to reach PyPI, so we pass exactly those through.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from compat.errors import CommandTimeout
from compat.harness.command import Command, Outcome, run

_PASSED_THROUGH = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "XDG_CACHE_HOME",
    "TMPDIR",
)


def uv_binary() -> str:
    """The uv executable: the one on PATH, else the one the ``uv`` wheel ships."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # the uv distribution is a dependency of compat

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return "uv"


def uv_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if name in _PASSED_THROUGH or name.startswith("UV_")
    }
    env["UV_NO_PROGRESS"] = "1"  # progress bars in a captured stderr are noise in error messages
    env.update(extra or {})
    return env


def run_uv(args: list[str], *, name: str, timeout_s: float, cwd: Path | None = None,
           env: Mapping[str, str] | None = None) -> Outcome:
    """Run ``uv ARGS`` (``env``: variables on top of ``uv_environment``); a timeout becomes an
    Outcome with returncode -9 and uv's output so far."""
    command = Command(
        argv=(uv_binary(), *args), name=name, env=uv_environment(env), cwd=None if cwd is None else str(cwd)
    )
    try:
        return run(command, timeout_s=timeout_s)
    except CommandTimeout as exc:
        outcome = exc.outcome
        note = f"\n(compat: uv did not finish within {timeout_s:.0f}s and was killed)"
        return Outcome(outcome.command, -9, outcome.stdout, outcome.stderr + note, outcome.duration_s)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's content, read in 1 MiB blocks (wheels, shipped files)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
