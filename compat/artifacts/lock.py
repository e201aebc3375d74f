"""The resolved-versions lock: which released wheels a matrix run uses, pinned by sha256.

``compat lock`` resolves the version policies once and writes the result; later runs (CI by
default) reuse it, so a wheel published in the meantime does not silently change what is
tested. The candidate is never locked: it is the thing under test.

A lock stays valid while the parts of matrix.yaml that decide resolution are unchanged
(products' package names, the index, the version policies); editing expectations, venues or
settings does not make it stale. ``read_lock`` raises ``LockError`` when it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat.artifacts.atomic import write_text_atomically
from compat.config.cell import ROLES, Release
from compat.config.matrix import Matrix
from compat.errors import LockError

LOCK_FORMAT = 1


@dataclass(frozen=True)
class LockedWheel:
    package: str
    version: str
    filename: str
    sha256: str
    yanked: bool = False


@dataclass(frozen=True)
class Lock:
    path: Path
    releases: Mapping[str, tuple[LockedWheel, ...]]  # role → wheels, oldest first
    resolution_sha256: str  # fingerprint of the resolution-relevant parts of matrix.yaml
    matrix_sha256: str  # of the whole file when the lock was written (informational)


def resolution_fingerprint(matrix: Matrix) -> str:
    """sha256 over what decides resolution: package names, the index, the version policies."""
    index: dict[str, str | None] = {"url": matrix.index.url, "find_links": None}
    if matrix.index.find_links is not None:
        try:
            index["find_links"] = str(matrix.index.find_links.relative_to(matrix.root))
        except ValueError:
            index["find_links"] = str(matrix.index.find_links)
    policies = {
        role: {
            "kind": p.kind,
            "versions": list(p.versions),
            "specifier": None if p.specifier is None else str(p.specifier),
            "last_n_minors": p.last_n_minors,
            "include_yanked": p.include_yanked,
        }
        for role, p in sorted(matrix.policies.items())
    }
    packages = {role: product.package for role, product in sorted(matrix.products.items())}
    payload = json.dumps({"packages": packages, "index": index, "policies": policies}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def write_lock(path: Path, resolved: Mapping[str, Sequence[Release]], matrix: Matrix) -> None:
    """Write the released (non-candidate) wheels of ``resolved`` atomically to ``path``."""
    data: dict[str, Any] = {
        "compat_lock": LOCK_FORMAT,
        "matrix": matrix.path.name,
        "matrix_sha256": matrix.sha256,
        "resolution_sha256": resolution_fingerprint(matrix),
        "index": matrix.index.describe(),
        "releases": {
            role: [
                {
                    "package": r.package,
                    "version": r.version,
                    "filename": r.source_archive or r.wheel.name,
                    "sha256": r.source_sha256 or r.sha256,
                    "yanked": r.yanked,
                }
                for r in releases
                if not r.candidate
            ]
            for role, releases in sorted(resolved.items())
        },
    }
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_lock(path: Path, matrix: Matrix) -> Lock:
    """The lock at ``path``; ``LockError`` if it is malformed or matrix.yaml changed since."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LockError(f"{path}: cannot read the lock: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise LockError(f"{path}: not valid JSON ({exc}); delete it or run `compat lock` again") from None
    if not isinstance(data, dict) or data.get("compat_lock") != LOCK_FORMAT:
        raise LockError(f"{path}: not a compat lock of format {LOCK_FORMAT}; run `compat lock` again")
    if data.get("resolution_sha256") != resolution_fingerprint(matrix):
        raise LockError(
            f"{path} is stale: the products, index or version policies in {matrix.path.name} changed "
            "since it was written; run `compat lock` to refresh it (or delete it to resolve afresh)"
        )
    raw = data.get("releases")
    if not isinstance(raw, dict) or set(raw) - set(ROLES):
        raise LockError(f"{path}: 'releases' must map roles ({', '.join(ROLES)}) to lists of wheels")
    releases: dict[str, tuple[LockedWheel, ...]] = {}
    for role, entries in raw.items():
        if not isinstance(entries, list):
            raise LockError(f"{path}: releases.{role} must be a list")
        releases[role] = tuple(_entry(path, role, i, e) for i, e in enumerate(entries))
    return Lock(
        path=path,
        releases=releases,
        resolution_sha256=str(data["resolution_sha256"]),
        matrix_sha256=str(data.get("matrix_sha256", "")),
    )


def _entry(path: Path, role: str, i: int, entry: object) -> LockedWheel:
    if not isinstance(entry, dict):
        raise LockError(f"{path}: releases.{role}[{i}] must be an object")
    try:
        return LockedWheel(
            package=_text(entry, "package"),
            version=_text(entry, "version"),
            filename=_text(entry, "filename"),
            sha256=_text(entry, "sha256"),
            yanked=bool(entry.get("yanked", False)),
        )
    except KeyError as exc:
        raise LockError(f"{path}: releases.{role}[{i}] lacks the text field {exc.args[0]!r}") from None


def _text(entry: Mapping[str, object], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise KeyError(key)
    return value
