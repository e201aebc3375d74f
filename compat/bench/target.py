"""What the gateway bench runs against, resolved from matrix.yaml like the matrix run does.

``resolve_target`` builds the same ``Plan`` (``compat.run.plan.build_plan``), picks one cell
(the candidate gateway and the candidate client unless versions are named), ensures both
envs, and returns everything a ``Stack`` needs. Nothing here is bench-specific except the
auth file: the bench raises the gateway's throttle, which would otherwise reject the load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compat.artifacts.envs import Env, EnvCache
from compat.bench.gateway import write_bench_auth
from compat.config.cell import Cell, Release
from compat.config.matrix import Matrix
from compat.errors import ConfigError
from compat.harness.host import Host, host_from_spec
from compat.run.plan import build_plan
from compat.run.stack import StackSettings

ROLES = ("exchange", "gateway", "client")


@dataclass
class Target:
    matrix: Matrix
    cell: Cell
    envs: dict[str, Env]
    hosts: dict[str, Host]
    settings: StackSettings
    env_cache: EnvCache
    gateway_releases: tuple[Release, ...]

    def env_for(self, release: Release) -> Env:
        return self.env_cache.ensure(release)


def pick(releases: Sequence[Release], wanted: str | None, role: str) -> Release:
    """``wanted`` = a version, "candidate", or None (the candidate if any, else the newest)."""
    if not releases:
        raise ConfigError(f"matrix.yaml resolves no {role} releases; nothing to benchmark")
    if wanted in (None, "candidate", "HEAD"):
        candidates = [r for r in releases if r.candidate]
        if candidates:
            return candidates[-1]
        if wanted is not None:
            raise ConfigError(f"no {role} candidate (working tree build) in this run; name a version "
                              f"instead; available: {', '.join(r.version for r in releases)}")
        return releases[-1]
    for release in releases:
        if release.version == wanted:
            return release
    raise ConfigError(f"{role} version {wanted!r} is not in the resolved releases: "
                      f"{', '.join(r.version for r in releases)}")


def resolve_target(matrix_path: Path, cache_dir: Path, log_dir: Path, *, gateway: str | None = None,
                   client: str | None = None, venue: str | None = None,
                   progress: Callable[[str], None] | None = None,
                   host_specs: Mapping[str, str] | None = None,
                   candidates: Mapping[str, Path] | None = None) -> Target:
    """The cell to benchmark; ``host_specs`` (role -> spec) overrides matrix.yaml's hosts;
    ``candidates`` (role -> wheel) are taken as the candidates instead of building the source trees."""
    if not matrix_path.exists():
        raise ConfigError(f"{matrix_path}: no such matrix file; pass --matrix PATH or use --floor-only")
    plan = build_plan(matrix_path, cache_dir=cache_dir, candidates=candidates)
    matrix = plan.matrix
    chosen_venue = venue or (matrix.venues[0] if matrix.venues else "")
    if chosen_venue not in (matrix.venues or ("",)):
        raise ConfigError(f"venue {chosen_venue!r} is not in matrix.yaml venues {list(matrix.venues)}")
    gateways = plan.releases.get("gateway", ())
    cell = Cell(client=pick(plan.releases.get("client", ()), client, "client"),
                gateway=pick(gateways, gateway, "gateway"), venue=chosen_venue)
    cache = EnvCache(cache_dir / "envs", progress)
    envs = {"gateway": cache.ensure(cell.gateway), "client": cache.ensure(cell.client)}
    specs = {role: matrix.hosts.get(role, "local") for role in ROLES} | dict(host_specs or {})
    unknown = sorted(set(specs) - set(ROLES))
    if unknown:
        raise ConfigError(f"bench hosts: unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
    by_spec = {spec: host_from_spec(spec) for spec in dict.fromkeys(specs.values())}  # roles on one spec share it
    hosts = {role: by_spec[spec] for role, spec in specs.items()}
    values = matrix.settings

    def path(key: str) -> Path | None:
        value = values.get(key)
        return (matrix.root / str(value)) if value else None

    settings = StackSettings(
        start_timeout_s=float(values.get("start_timeout_s", 20.0)),
        stop_grace_s=float(values.get("stop_grace_s", 3.0)),
        instruments=path("instruments"),
        auth=write_bench_auth(log_dir),
        # The floor talks to the exchange directly: no fault-proxy hop on the gateway's link either.
        exchange_link_proxy=False,
    )
    return Target(matrix, cell, envs, hosts, settings, cache, tuple(gateways))
