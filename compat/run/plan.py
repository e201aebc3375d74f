"""From matrix.yaml and the command line to the list of cells a run executes.

``build_plan`` is deterministic for the same files and options, which is what lets every
xdist worker compute the same collection on its own.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from compat.artifacts.lock import Lock, read_lock
from compat.artifacts.resolve import resolve, resolve_simulator
from compat.config.cell import Cell, Release
from compat.config.matrix import Matrix, load_matrix
from compat.config.swaps import Swap, plan_swaps
from compat.errors import ConfigError


@dataclass(frozen=True)
class Plan:
    matrix: Matrix
    releases: Mapping[str, tuple[Release, ...]]  # role → releases, oldest first
    cells: tuple[Cell, ...]
    shard: Mapping[str, Any] | None = None  # meta.shard of a --compat-shard slice (compat.run.shard)
    simulator: Release | None = None  # the own exchange simulator's release (exchange.package), if any

    @property
    def swaps(self) -> tuple[Swap, ...]:
        """The live gateway swaps matrix.yaml's ``swaps:`` declares over this run's gateways (all
        of them, not only the cells this shard or ``--compat-cells`` keeps)."""
        return plan_swaps(self.matrix.swaps, self.releases.get("gateway", ()))

    @property
    def env_count(self) -> int:
        """Envs are keyed by (package, version, wheel sha256): a product that is both the
        client and the gateway (one package) shares its envs between the roles."""
        every = [r for rs in self.releases.values() for r in rs] + ([self.simulator] if self.simulator else [])
        return len({(r.package, r.version, r.sha256) for r in every})

    def header(self) -> str:
        clients = len(self.releases.get("client", ()))
        gateways = len(self.releases.get("gateway", ()))
        venues = len(self.matrix.venues)
        shape = f"{clients} clients × {gateways} gateways" + (f" × {venues} venues" if venues else "")
        return (f"compat: {self.matrix.path.name}: {len(self.cells)} cells ({shape}), "
                f"{self.env_count} envs (one per version, not per pair){self._simulator_text()}"
                f"{self._built_from_sdist()}")

    def _simulator_text(self) -> str:
        return f"; exchange simulator {self.simulator.package} {self.simulator.version}" if self.simulator else ""

    def _built_from_sdist(self) -> str:
        built = [f"{r.role} {r.version}" for rs in self.releases.values() for r in rs if r.source_archive]
        return f"; wheels built from source archives: {', '.join(built)}" if built else ""


def parse_assignments(values: Sequence[str], option: str) -> dict[str, str]:
    """``["gateway=x.whl", "client=y.whl"]`` → {"gateway": "x.whl", ...}; a clear error otherwise."""
    parsed: dict[str, str] = {}
    for value in values:
        role, sep, rest = value.partition("=")
        if not sep or not role or not rest:
            raise ConfigError(
                f"{option} expects ROLE=VALUE (e.g. gateway=dist/refgw-3.1.0-py3-none-any.whl), got {value!r}"
            )
        if role not in ("gateway", "client", "exchange"):
            raise ConfigError(f"{option}: unknown role {role!r}; expected gateway, client or exchange")
        parsed[role] = rest
    return parsed


def build_plan(
    matrix_path: Path,
    *,
    cache_dir: Path,
    candidates: Mapping[str, Path] | None = None,
    no_candidate: bool = False,
    cell_globs: Sequence[str] = (),
    lock_path: Path | None = None,
    shard: tuple[int, int] | None = None,
    durations: Mapping[str, float] | None = None,
) -> Plan:
    matrix = load_matrix(matrix_path)
    if no_candidate:
        matrix = matrix.without_candidates()
    lock: Lock | None = None
    if lock_path is not None and lock_path.exists():
        lock = read_lock(lock_path, matrix)
    build_dir = cache_dir / "candidates"
    build_dir.mkdir(parents=True, exist_ok=True)
    # Several xdist workers resolve at once; one builds the candidate wheels, the rest reuse them.
    with FileLock(str(build_dir / ".resolve.lock")):
        resolved = resolve(matrix, dict(candidates or {}), build_dir, lock=lock)
        simulator = resolve_simulator(matrix, build_dir)
    releases = {role: tuple(rs) for role, rs in resolved.items()}
    cells = tuple(
        Cell(client=client, gateway=gateway, venue=venue)
        for venue in (matrix.venues or ("",))  # no venues (exchange: none): one cell per pair
        for client in releases.get("client", ())
        for gateway in releases.get("gateway", ())
    )
    if cell_globs:
        cells = tuple(c for c in cells if any(fnmatch.fnmatchcase(c.id, g) for g in cell_globs))
    meta = None
    if shard is not None:  # balanced by past durations; imported here to keep pytest's start-up light
        from compat.run.shard import select_shard

        chosen, meta = select_shard([c.id for c in cells], durations or {}, *shard)
        keep = set(chosen)
        cells = tuple(c for c in cells if c.id in keep)
    return Plan(matrix=matrix, releases=releases, cells=cells, shard=meta, simulator=simulator)


def parse_shard(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    k, sep, n = value.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or int(n) < 1:
        raise ConfigError(f"--compat-shard expects K/N such as 1/3, got {value!r}")
    return int(k), int(n)
