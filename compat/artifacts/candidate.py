"""Wheels compat builds: the candidate, the version under test built from a source tree
(``uv build --wheel``) or given on the command line (``--compat-candidate ROLE=path/to.whl``);
and the wheel of a release published only as a source archive, built once per sdist sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from compat.config.cell import Release
from compat.errors import ArtifactError, CandidateBuildError, ConfigError
from compat.harness.uv import file_sha256, run_uv, tail

BUILD_TIMEOUT_S = 600.0
# Wheels record each file's mtime unless SOURCE_DATE_EPOCH pins it: without it the same source,
# checked out afresh (a CI runner), builds a wheel with another sha256, so its envs and cached
# verdicts would never be reused across runners. 1980-01-01, the earliest a zip can store.
REPRODUCIBLE_EPOCH = "315532800"

_NOT_SOURCE = frozenset({"build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"})


def source_tree_hash(source: Path) -> str:
    """A short content hash of the files a build reads (build outputs and caches excluded)."""
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in _NOT_SOURCE or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file():
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _other_ways(role: str) -> str:
    return (f"or test released versions only: candidate: false in versions.{role} of matrix.yaml, or "
            f"--compat-no-candidate; or give the candidate as a wheel: --compat-candidate {role}=path/to.whl")


def build_candidate(source: Path, out_dir: Path, role: str = "ROLE") -> Path:
    """Build the working tree at ``source`` into a wheel in ``out_dir`` with ``uv build``."""
    if not (source / "pyproject.toml").is_file() and not (source / "setup.py").is_file():
        raise CandidateBuildError(
            f"cannot build the {role} candidate: {source} (products.{role}.source) has no pyproject.toml; "
            f"fix the source, {_other_ways(role)}"
        )
    # Keyed by the tree's content: an unchanged tree reuses its wheel, so its sha256 (and hence
    # its env) stays the same across runs and xdist workers instead of changing with every build.
    wheel, _built = _build_once(source, out_dir / source_tree_hash(source), lambda why: CandidateBuildError(
        f"building the {role} candidate failed: {why} ({_other_ways(role)})"))
    return wheel


def _build_once(source: Path, out_dir: Path, failure: Callable[[str], ArtifactError]) -> tuple[Path, bool]:
    """The one wheel in ``out_dir``, or ``uv build --wheel source`` into it (built in a scratch
    directory and moved in, so a reader never sees half a wheel). Returns (wheel, built now);
    a failed build raises ``failure(what uv did)``."""
    existing = sorted(out_dir.glob("*.whl"))
    if len(existing) == 1:
        return existing[0], False
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp:
        outcome = run_uv(["build", "--wheel", "--out-dir", tmp, str(source)], name=f"uv-build-{source.name}",
                         timeout_s=BUILD_TIMEOUT_S,
                         env={"SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", REPRODUCIBLE_EPOCH)})
        wheels = sorted(Path(tmp).glob("*.whl"))
        if outcome.returncode != 0 or len(wheels) != 1:
            found = f"; it produced {len(wheels)} wheels" if outcome.returncode == 0 else ""
            raise failure(f"`uv build --wheel {source}` exited {outcome.returncode}{found}; uv said:\n"
                          f"{tail(outcome.stderr or outcome.stdout)}")
        target = out_dir / wheels[0].name
        os.replace(wheels[0], target)
    return target, True




def given_candidate(role: str, package: str, wheel: Path) -> Release:
    if not wheel.is_file():
        raise ConfigError(f"--compat-candidate {role}={wheel}: no such file")
    try:
        name, _version, _build, _tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise ConfigError(f"--compat-candidate {role}={wheel}: not a wheel file name ({exc})") from None
    if name != canonicalize_name(package):
        raise ConfigError(
            f"--compat-candidate {role}={wheel}: this is a wheel of {name}, but the {role} is {package}"
        )
    return candidate_release(role, package, wheel.resolve())


def candidate_release(role: str, package: str, wheel: Path) -> Release:
    _name, version, _build, _tags = parse_wheel_filename(wheel.name)
    return Release(role, package, str(version), wheel, file_sha256(wheel), candidate=True)


def build_from_sdist(sdist: Path, sdist_sha256: str, cache_dir: Path) -> tuple[Path, bool]:
    """The wheel of a released source archive, built with ``uv build --wheel`` into
    ``cache_dir/<sdist sha256>/`` the first time and reused after (the same sdist always gives
    the same wheel file, so its env is reused too). Returns (wheel, built now)."""
    return _build_once(sdist, cache_dir / sdist_sha256[:32], lambda why: ArtifactError(
        f"{sdist.name} is released only as a source archive, and building a wheel from it failed: {why}"))
