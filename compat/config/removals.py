"""Declared capability removals: matrix.yaml ``removed_capabilities:``.

When a product version answers *unsupported* for a capability its predecessor supported with
the same counterpart, the run reports a *capability lost* finding
(``compat.results.capabilities``) and the release gate blocks, unless matrix.yaml declares the
removal: which product, from which version, which capability, and why.

```yaml
removed_capabilities:
  - client: "4.0.0"            # or gateway:; the version that dropped it (a specifier covers several)
    capability: order.amend    # glob over capability names; op.NAME for an operation the adapter lost
    reason: "amend_order was replaced by replace_order in 4.0"
    ticket: CL-301             # optional
```
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from compat.config.versions import in_range
from compat.errors import ConfigError

ROLES: tuple[str, ...] = ("client", "gateway")


@dataclass(frozen=True)
class Removal:
    role: str  # "client" | "gateway"
    versions: SpecifierSet  # the version(s) that no longer have the capability
    capability: str  # glob over capability names
    reason: str
    ticket: str | None = None
    line: int = 0  # matrix.yaml line

    def covers(self, role: str, version: str, capability: str) -> bool:
        """Whether this declaration explains ``role`` ``version`` lacking ``capability``. A label
        such as ``3.1.0.dev0+candidate`` is read as its version."""
        if role != self.role or not fnmatch.fnmatchcase(capability, self.capability):
            return False
        return in_range(self.versions, version)

    def describe(self) -> str:
        ticket = f" ({self.ticket})" if self.ticket else ""
        where = f" [matrix.yaml line {self.line}]" if self.line else ""
        return f"{self.role} {self.versions or '*'} removed {self.capability}: {self.reason}{ticket}{where}"

    def to_record(self) -> dict[str, Any]:
        """As results carry it (``meta.removed_capabilities``), so a report or gate without the
        matrix file still knows what was declared."""
        return {"role": self.role, "versions": str(self.versions), "capability": self.capability,
                "reason": self.reason, "ticket": self.ticket, "line": self.line}

    @staticmethod
    def from_record(record: dict[str, Any]) -> Removal:
        try:
            versions = SpecifierSet(str(record.get("versions") or ""))
        except InvalidSpecifier:
            raise ConfigError(f"meta.removed_capabilities: {record.get('versions')!r} (a declaration of "
                              f"line {record.get('line')}) is not a version specifier") from None
        return Removal(role=str(record.get("role", "")), versions=versions,
                       capability=str(record.get("capability", "")), reason=str(record.get("reason", "")),
                       ticket=record.get("ticket"), line=int(record.get("line") or 0))
