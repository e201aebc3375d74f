"""Release labels and the one canonical cell id."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path
from types import SimpleNamespace

import pytest

from compat.config.cell import Cell, Release


def release(role: str, version: str, candidate: bool = False) -> Release:
    return Release(role, "ref", version, Path("/w/x.whl"), "a" * 64, candidate=candidate)


def test_cell_id() -> None:
    cell = Cell(release("client", "1.2.0"), release("gateway", "2.0.0"), "obx")
    assert cell.id == "client-1.2.0--gateway-2.0.0--venue-obx"
    assert str(cell) == cell.id


def test_candidate_label_differs_from_the_release_of_the_same_version() -> None:
    released, candidate = release("gateway", "3.1.0"), release("gateway", "3.1.0", candidate=True)
    assert released.label == "3.1.0"
    assert candidate.label == "3.1.0+candidate"
    assert release("gateway", "3.1.0.dev0+g12ab", candidate=True).label == "3.1.0.dev0+g12ab.candidate"
    cell = Cell(release("client", "1.0.0"), candidate, "tlx")
    assert cell.id == "client-1.0.0--gateway-3.1.0+candidate--venue-tlx"


def test_values_are_frozen_and_hashable() -> None:
    r = release("client", "1.0.0")
    with pytest.raises(FrozenInstanceError):
        r.version = "2.0.0"  # type: ignore[misc]
    assert len({r, release("client", "1.0.0")}) == 1
    assert r.name == "client-1.0.0"


def test_the_plan_counts_one_env_per_package_version_and_wheel() -> None:
    """One package that is both the client and the gateway (a server and a client in one
    distribution) shares its envs between the roles; the header must not double them."""
    from compat.run.plan import Plan

    def release(role: str, package: str, version: str) -> Release:
        return Release(role, package, version, Path(f"/w/{package}-{version}.whl"), version * 16)

    same = {role: tuple(release(role, "websockets", v) for v in ("12.0", "13.0")) for role in ("client", "gateway")}
    apart = {role: tuple(release(role, f"pkg{role}", v) for v in ("12.0", "13.0")) for role in ("client", "gateway")}
    matrix = SimpleNamespace(path=Path("matrix.yaml"), venues=("obx",))
    assert Plan(matrix, same, cells=()).env_count == 2  # type: ignore[arg-type]
    assert Plan(matrix, apart, cells=()).env_count == 4  # type: ignore[arg-type]
    assert "2 envs (one per version, not per pair)" in Plan(matrix, same, cells=()).header()  # type: ignore[arg-type]
