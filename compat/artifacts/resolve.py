"""Which releases a run tests: released wheels chosen by each role's version policy (or pinned by
the lock), plus the candidate, as ``Release`` values with local wheel paths and sha256."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from compat.artifacts.candidate import build_candidate, build_from_sdist, candidate_release, given_candidate
from compat.artifacts.index import WheelRef, fetch, list_wheels, local_path
from compat.artifacts.lock import Lock, LockedWheel
from compat.config.cell import ROLES, Release
from compat.config.matrix import Matrix
from compat.config.versions import Available, select
from compat.errors import ArtifactError, ConfigError, LockError, WheelNotFound
from compat.harness.uv import file_sha256

logger = logging.getLogger("compat.artifacts")


def resolve(
    matrix: Matrix,
    candidates: Mapping[str, Path | str] | None = None,
    build_dir: Path | None = None,
    *,
    lock: Lock | None = None,
    include_candidates: bool = True,
) -> dict[str, list[Release]]:
    """The releases of each role: released wheels by policy (or by the lock), then the candidate.

    ``candidates`` maps a role to a wheel file (``--compat-candidate gateway=x.whl``); otherwise a
    role whose policy has ``candidate: true`` gets its source built into ``build_dir``.
    """
    given = {role: Path(path) for role, path in (candidates or {}).items()}
    unknown = sorted(set(given) - set(ROLES))
    if unknown:
        raise ConfigError(
            f"--compat-candidate: unknown role {', '.join(unknown)}; expected gateway or client"
        )
    work = build_dir if build_dir is not None else matrix.root / ".compat" / "build"
    result: dict[str, list[Release]] = {}
    for role in ROLES:
        product = matrix.products[role]
        policy = matrix.policies[role]
        refs = list_wheels(matrix.index, product.package)
        if lock is not None:
            releases = [_locked(matrix, role, entry, refs, work) for entry in lock.releases.get(role, ())]
        else:
            available = [Available(r.version, r.yanked, r.filename) for r in refs]
            by_version = {r.version: r for r in refs}
            releases = []
            for version in select(available, policy):
                ref = by_version.get(version)
                if ref is None:
                    raise WheelNotFound(
                        f"{role} {product.package} {version} (versions.{role}, "
                        f"{matrix.path.name}:{policy.line}): no wheel in {matrix.index.describe()}; "
                        f"versions found: {_found(refs)}"
                    )
                releases.append(_release(role, ref, work))
        releases.sort(key=lambda r: r.parsed_version)
        if role in given:
            releases.append(given_candidate(role, product.package, given[role]))
        elif include_candidates and policy.candidate:
            assert product.source is not None, "the matrix loader turns the candidate off without a source"
            wheel = build_candidate(product.source, work / "candidates" / role, role)
            releases.append(candidate_release(role, product.package, wheel))
        if not releases:
            raise WheelNotFound(
                f"versions.{role} ({policy.describe()}, {matrix.path.name}:{policy.line}) selects no "
                f"version of {product.package} from {matrix.index.describe()} and no candidate is built; "
                f"versions found: {_found(refs)}"
            )
        result[role] = releases
    return result


def _found(refs: Sequence[WheelRef]) -> str:
    if not refs:
        return "none"
    return ", ".join(f"{r.version}{' (yanked)' if r.yanked else ''}" for r in refs)


def _local_wheel(ref: WheelRef, work: Path) -> Path:
    if ref.is_remote:
        return fetch(ref, work / "wheels")
    path = local_path(ref)
    if ref.sha256 is not None and file_sha256(path) != ref.sha256:
        raise ArtifactError(f"{path} does not match the sha256 the index gives ({ref.sha256})")
    return path


def _release(role: str, ref: WheelRef, work: Path) -> Release:
    artifact = _local_wheel(ref, work)
    if not ref.is_sdist:
        return Release(role, ref.package, str(ref.version), artifact, file_sha256(artifact), yanked=ref.yanked)
    sdist_sha256 = file_sha256(artifact)
    wheel, built = build_from_sdist(artifact, sdist_sha256, work / "from-sdist")
    if built:
        logger.info("built %s from its source archive %s (released without a wheel)", wheel.name, ref.filename)
    return Release(role, ref.package, str(ref.version), wheel, file_sha256(wheel), yanked=ref.yanked,
                   source_archive=ref.filename, source_sha256=sdist_sha256)


def _locked(matrix: Matrix, role: str, entry: LockedWheel, refs: Sequence[WheelRef], work: Path) -> Release:
    ref = next((r for r in refs if r.filename == entry.filename), None)
    if ref is None:
        raise WheelNotFound(
            f"{role} {entry.package} {entry.version} is locked to {entry.filename}, which is not in "
            f"{matrix.index.describe()}; versions found: {_found(refs)}. Run `compat lock` again"
        )
    release = _release(role, ref, work)
    pinned = release.source_sha256 or release.sha256  # a source-only release is pinned by its sdist
    if pinned != entry.sha256:
        raise LockError(
            f"{entry.filename} has sha256 {pinned} but the lock says {entry.sha256}: the released "
            "wheel changed since `compat lock`; released wheels must be immutable"
        )
    return release


def resolve_simulator(matrix: Matrix, work: Path) -> Release | None:
    """The release of the firm's own exchange simulator when matrix.yaml runs it from its own
    wheel (``exchange.package``): the newest non-yanked release that ``exchange.version``
    admits. One version for the whole run; None when the simulator is not a package."""
    spec = matrix.exchange
    if spec.package is None:
        return None
    refs = list_wheels(matrix.index, spec.package)
    admitted = [r for r in refs if not r.yanked and spec.version.contains(r.version)]
    if not admitted:
        wanted = f" {spec.version}" if str(spec.version) else ""
        raise WheelNotFound(
            f"exchange {spec.package}{wanted} ({matrix.path.name}:{spec.line}): no release in "
            f"{matrix.index.describe()}; versions found: {_found(refs)}"
        )
    return _release("exchange", max(admitted, key=lambda r: r.version), work)
