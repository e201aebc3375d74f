"""Two gateway stacks side by side, loaded in interleaved rounds: ``--compare`` and ``--calibrate``.

Each side is a whole Stack (its own exchange, gateway and client drivers), started once; the
load alternates between them round by round (``compat.bench.rounds``), so whatever the
machine does to one round it does to the other side's round next to it. After the stacks
stop, each exchange's audit log must hold exactly the orders the harness saw acked on that
side (every round run, reruns included), else the comparison is void.

``--calibrate`` runs the same gateway on both sides, both through their stack's fault
proxy; B's proxy holds every client -> gateway chunk a known number of microseconds by a
busy wait (``FaultProxy.busy``). The proxy threads run in this process, which is measured
as the role ``proxy``: the busy wait adds exactly its CPU there, and its delay to B's
latency.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compat.bench.audit import reconcile_points
from compat.bench.gateway import GatewayLoad
from compat.bench.loadpoint import LoadPoint, combine_rounds
from compat.bench.rounds import InterleavedRounds, run_interleaved
from compat.config.cell import Cell, Release

if TYPE_CHECKING:
    from compat.bench.target import Target

PROXY_ROLE = "proxy"  # this process: the stacks' fault proxies run in its threads


@dataclass(frozen=True)
class Side:
    label: str  # "A:gateway-3.0.0"
    release: Release
    busy_us: float = 0.0  # > 0: clients through the proxy, which holds each upstream chunk this long
    via_proxy: bool = False


@dataclass
class SideBySide:
    sides: tuple[Side, ...]
    rounds: InterleavedRounds
    combined: dict[str, LoadPoint] = field(default_factory=dict)  # per side, its kept rounds merged
    audits: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def void_reasons(self) -> list[str]:
        reasons = list(self.rounds.void_reasons)
        for label, audit in self.audits.items():
            if audit.get("checked") and not audit.get("match"):
                reasons.append(f"{label}: audit mismatch: harness acked {audit['acked_by_harness']}, "
                               f"exchange accepted {audit['accepted_in_audit']}")
        return reasons


def run_side_by_side(target: Target, sides: Sequence[Side], plan: Mapping[str, Any], *, drivers: int,
                     connections: int, rounds: int, max_reruns: int, log_dir: Path,
                     progress: Callable[[str], None]) -> SideBySide:
    """Start a stack per side, run ``rounds`` interleaved rounds of ``plan``, stop, reconcile audits."""
    from compat.run.stack import Stack

    loads: dict[str, GatewayLoad] = {}
    stacks: dict[str, Stack] = {}
    with contextlib.ExitStack() as running:
        for side in sides:
            cell = Cell(client=target.cell.client, gateway=side.release, venue=target.cell.venue)
            envs = {"gateway": target.env_for(side.release), "client": target.envs["client"]}
            progress(f"starting stack {side.label}: {cell.id}"
                     + (f", clients through its fault proxy (+{side.busy_us:g} us busy per chunk)"
                        if side.via_proxy else ""))
            stack = running.enter_context(Stack(cell, target.matrix, envs, log_dir / _slug(side.label),
                                                target.hosts, target.settings))
            also = {PROXY_ROLE: os.getpid()} if side.via_proxy else {}
            loads[side.label] = GatewayLoad(stack, drivers=drivers, connections=connections,
                                            via_proxy=side.via_proxy, also_measure=also).connect()
            if side.busy_us and stack.gateway_proxy is not None:
                stack.gateway_proxy.busy(side.busy_us, "upstream")
            stacks[side.label] = stack

        def runner(label: str) -> Callable[[str], LoadPoint]:
            return lambda name: loads[label].run(plan, name)[0]

        interleaved = run_interleaved({side.label: runner(side.label) for side in sides}, rounds, max_reruns,
                                      progress)
    result = SideBySide(tuple(sides), interleaved)
    for side in sides:
        kept = interleaved.kept[side.label] or interleaved.ran[side.label]
        if kept:
            result.combined[side.label] = combine_rounds(side.label, kept)
        # After the stop, so each exchange has flushed its audit log.
        result.audits[side.label] = reconcile_points(stacks[side.label].audit_path, interleaved.ran[side.label])
    return result


def _slug(label: str) -> str:
    return label.replace(":", "-").replace("+", "-")
