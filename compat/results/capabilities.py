"""Capability regressions: a product version that answers *unsupported* for what its predecessor did.

An adapter detects what the installed client can do by feature (``hasattr(GatewayClient,
"amend_order")``), so a release that renames a public method reads as "this version lacks the
capability": the scenario is n/a, not red. Nothing in one cell can tell a capability that never
existed from one that was lost. Across versions it can: when a version's scenario is n/a for a
named capability (``ScenarioResult.capability``, from the adapter's ``Unsupported``, a
scenario's ``compat.require``, or ``op.NAME`` for an operation the adapter does not define)
while the version before it in the run, with the **same counterpart** on the same venue, ran the
same scenario to a pass, the capability was lost between the two. That is a finding (*capability
lost*), and the release gate blocks on it unless matrix.yaml declares the removal
(``removed_capabilities``, ``compat.config.removals``).

Both products are compared: a client row against the client before it (same gateway), a
gateway column against the gateway before it (same client). "Supported" means the predecessor's
scenario passed (pass, flaky, or stale: the scenario ran to its end); a predecessor that failed
or was itself n/a shows nothing either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from compat.config.removals import Removal
from compat.results.grid import sorted_versions
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict

REMOVALS_META = "removed_capabilities"  # meta key: the run's declared removals (Removal.to_record)
_RAN_THROUGH = (Verdict.PASS, Verdict.FLAKY, Verdict.STALE)


@dataclass(frozen=True)
class CapabilityLoss:
    """One capability one product version lost against the version before it."""

    role: str  # "client" | "gateway": the product whose version lost it
    version: str  # the label of the version that answers unsupported
    predecessor: str  # the label of the version before it in the run, which supported it
    capability: str
    # Where it shows: (venue, counterpart label, scenario), each a pair the predecessor passed.
    where: tuple[tuple[str, str, str], ...]
    declared: Removal | None = None

    @property
    def counterpart_role(self) -> str:
        return "gateway" if self.role == "client" else "client"

    def describe(self) -> str:
        counterparts = ", ".join(sorted_versions(c for _, c, _ in self.where))
        venues = ", ".join(sorted({v for v, _, _ in self.where if v}))
        scenarios = sorted({s for _, _, s in self.where})
        shown = ", ".join(scenarios[:4]) + (f", … {len(scenarios) - 4} more" if len(scenarios) > 4 else "")
        on = f" on {venues}" if venues else ""
        return (f"{self.role} {self.version} answers unsupported for {self.capability}, which {self.predecessor} "
                f"supported with {self.counterpart_role} {counterparts}{on} ({shown})")

    def line(self) -> str:
        if self.declared is not None:
            return f"capability removed (declared): {self.describe()}; {self.declared.describe()}"
        return (f"capability lost: {self.describe()}; declare the removal in matrix.yaml "
                f"(removed_capabilities: {self.role}: \"{_bare(self.version)}\", capability: {self.capability}, "
                "reason: ...) or restore it")


def _bare(label: str) -> str:
    """``3.1.0.dev0+candidate`` → ``3.1.0.dev0``: what a declaration's specifier matches."""
    return label.split("+", 1)[0]


def declared_removals(results: RunResults) -> tuple[Removal, ...]:
    """The removals the run's matrix declared, as the plugin stamped them into ``meta``."""
    return tuple(Removal.from_record(r) for r in results.meta.get(REMOVALS_META) or ())


def capability_losses(results: RunResults, removals: Sequence[Removal] | None = None) -> list[CapabilityLoss]:
    """Every capability a version lost against its predecessor with the same counterpart, one
    finding per (role, version, capability), each marked declared when a removal covers it.
    ``removals``: the declarations to apply (default: the run's own, ``meta``)."""
    declarations = declared_removals(results) if removals is None else tuple(removals)
    slots: dict[tuple[str, str, str], dict[str, ScenarioResult]] = {}
    for cell in results.cells:
        slots.setdefault((cell.venue, cell.client_version, cell.gateway_version), {}).update(
            (s.scenario, s) for s in cell.scenarios)
    found: dict[tuple[str, str, str], tuple[str, list[tuple[str, str, str]]]] = {}
    for role in ("client", "gateway"):
        previous = _predecessors(results.cells, role)
        for (venue, client, gateway), scenarios in slots.items():
            version, counterpart = (client, gateway) if role == "client" else (gateway, client)
            before = previous.get(version)
            if before is None:
                continue
            key = (venue, before, gateway) if role == "client" else (venue, client, before)
            earlier = slots.get(key, {})
            for name, scenario in scenarios.items():
                if scenario.verdict is not Verdict.NA or not scenario.capability:
                    continue
                then = earlier.get(name)
                if then is None or then.verdict not in _RAN_THROUGH:
                    continue
                entry = found.setdefault((role, version, scenario.capability), (before, []))
                entry[1].append((venue, counterpart, name))
    losses = []
    for (role, version, capability), (before, where) in sorted(found.items()):
        declared = next((r for r in declarations if r.covers(role, _bare(version), capability)), None)
        losses.append(CapabilityLoss(role, version, before, capability, tuple(sorted(set(where))), declared))
    return losses


def _predecessors(cells: Iterable[CellResult], role: str) -> dict[str, str]:
    """Each version of ``role`` in the run → the one before it (PEP 440 order, labels)."""
    versions = sorted_versions(c.client_version if role == "client" else c.gateway_version for c in cells)
    return dict(zip(versions[1:], versions[:-1], strict=True))


def undeclared(losses: Iterable[CapabilityLoss]) -> list[CapabilityLoss]:
    return [loss for loss in losses if loss.declared is None]
