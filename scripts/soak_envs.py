"""The env cache as the soak sees it: which envs are complete, whether they are intact, and
whether a run rebuilt one that was already complete.

The cache's contract (compat/envs.py): an env directory is complete exactly when it holds the
marker ``compat-env.json``; builds happen in ``.tmp-<key>-*`` scratch directories and are
renamed into place with the marker already inside. So after any interruption:

* every directory with a marker must be a working env: its python starts, the package imports
  and its installed version is the marker's;
* its installed files must not change afterwards (a content fingerprint over everything but
  bytecode, which Python writes next to the sources on first import);
* a complete env must never be built again: its marker's ``built_at`` and its directory's inode
  stay the same across runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

MARKER = "compat-env.json"  # compat.artifacts.envs.MARKER; not imported so the soak judges from outside
_IMPORT_TIMEOUT_S = 60.0
_CHECK = (
    "import importlib, importlib.metadata, sys\n"
    "package, module = sys.argv[1], sys.argv[2]\n"
    "importlib.import_module(module)\n"
    "print(importlib.metadata.version(package))\n"
)


@dataclass(frozen=True)
class EnvState:
    name: str
    complete: bool
    built_at: str | None
    inode: int
    marker_error: str | None = None


def scan(envs_dir: Path) -> dict[str, EnvState]:
    """Every env directory (scratch directories and lock files excluded), by name."""
    states: dict[str, EnvState] = {}
    if not envs_dir.is_dir():
        return states
    for path in sorted(envs_dir.iterdir()):
        if path.name.startswith(".tmp-") or not path.is_dir():
            continue
        marker = path / MARKER
        built_at: str | None = None
        error: str | None = None
        complete = marker.is_file()
        if complete:
            try:
                built_at = str(json.loads(marker.read_text(encoding="utf-8"))["built_at"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                error = f"unreadable marker: {exc}"
        try:
            inode = path.stat().st_ino
        except OSError:
            continue  # removed while we looked (a concurrent rebuild of a partial env)
        states[path.name] = EnvState(path.name, complete, built_at, inode, error)
    return states


def scratch_dirs(envs_dir: Path) -> list[str]:
    return sorted(p.name for p in envs_dir.glob(".tmp-*")) if envs_dir.is_dir() else []


def fingerprint(env: Path) -> str:
    """sha256 over every file's path and content (symlinks by target), bytecode excluded."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(env):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            path = Path(root) / name
            rel = str(path.relative_to(env))
            if path.is_symlink():
                digest.update(f"L {rel} -> {os.readlink(path)}\n".encode())
                continue
            digest.update(f"F {rel}\n".encode())
            try:
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
            except OSError as exc:
                digest.update(f"unreadable {exc.errno}\n".encode())
    return digest.hexdigest()


def import_check(env: Path) -> str | None:
    """None when the env works: python starts, the package imports, versions agree."""
    try:
        marker = json.loads((env / MARKER).read_text(encoding="utf-8"))
        package, version = str(marker["package"]), str(marker["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{env.name}: marker unreadable ({exc})"
    python = env / "bin" / "python"
    if not python.exists():
        return f"{env.name}: marked complete but has no bin/python"
    module = package.replace("-", "_")
    try:
        done = subprocess.run([str(python), "-c", _CHECK, package, module], capture_output=True, text=True,
                              timeout=_IMPORT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{env.name}: cannot run its python ({exc})"
    if done.returncode != 0:
        return f"{env.name}: `import {module}` failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    if done.stdout.strip() != version:
        return f"{env.name}: installed {package} {done.stdout.strip()!r}, marker says {version!r}"
    return None


class CacheAuditor:
    """Checks one env cache after every run; remembers what it verified, so an unchanged env
    costs a fingerprint, not a python start."""

    def __init__(self, envs_dir: Path) -> None:
        self.envs_dir = envs_dir
        self._verified: dict[tuple[str, str | None, int], str] = {}  # (name, built_at, inode) -> fingerprint

    def corrupt(self, states: dict[str, EnvState]) -> list[str]:
        """Problems of envs marked complete: broken marker, broken env, changed files."""
        problems = []
        for state in states.values():
            if not state.complete:
                continue
            if state.marker_error is not None:
                problems.append(f"{state.name}: {state.marker_error}")
                continue
            path = self.envs_dir / state.name
            key = (state.name, state.built_at, state.inode)
            try:
                current = fingerprint(path)
            except OSError as exc:
                problems.append(f"{state.name}: unreadable ({exc})")
                continue
            known = self._verified.get(key)
            if known is not None:
                if known != current:
                    problems.append(f"{state.name}: installed files changed after the env was complete")
                continue
            problem = import_check(path)
            if problem is not None:
                problems.append(problem)
                continue
            self._verified[key] = current
        return problems


def rebuilt(before: dict[str, EnvState], after: dict[str, EnvState], *, allowed: set[str]) -> list[str]:
    """Envs complete before a run that the run replaced (other than the ones we deleted)."""
    found = []
    for name, old in before.items():
        if not old.complete or name in allowed:
            continue
        new = after.get(name)
        if new is None:
            found.append(f"{name}: complete before the run, gone after it")
        elif (new.built_at, new.inode) != (old.built_at, old.inode):
            found.append(f"{name}: complete before the run (built {old.built_at}), rebuilt at {new.built_at}")
    return found
