"""Known issues of released versions: findings matrix.yaml declares, so the reports show them
once, with their declaration, instead of warning about them in every run.

A known issue names one product role (``client`` or ``gateway``), a PEP 440 range of its
versions, the kind of finding (``FINDINGS``) and why::

    known_issues:
      - client: ">=2.0,<3.1.dev0"
        finding: memory-growth
        reason: "refclient 2.0-3.0 keeps every order for the session's lifetime"
        ticket: CLI-88            # optional

Only released versions are covered: a candidate (built from the working tree or given with
``--compat-candidate``, its version label ends in ``candidate``) never matches, whatever the
range says. A finding of the candidate is new until it is released, so it stays a warning.

Known issues are not expectations: they do not change a verdict. They only decide whether a
finding the harness made on the side (today: a role's RSS that grew steadily, see
``compat.harness.resources``) is a warning or a declared, known issue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from compat.config.cell import ROLES, is_candidate_label
from compat.config.versions import in_range

MEMORY_GROWTH = "memory-growth"
# finding kind → what it is, as the docs and the reports name it
FINDINGS: Mapping[str, str] = {
    MEMORY_GROWTH: "the role's RSS grew steadily while it ran (the leak rule of compat.harness.resources)",
}
# The JSON report's meta key holding the declarations of the run's matrix (stamped by the plugin).
META_KEY = "known_issues"


@dataclass(frozen=True)
class KnownIssue:
    role: str  # "client" | "gateway"
    versions: SpecifierSet  # empty: every released version of the role
    finding: str  # a key of FINDINGS
    reason: str
    ticket: str | None = None
    line: int = 0  # matrix.yaml line of the declaration
    source: str = "matrix.yaml"  # the file it was declared in, for "matrix.yaml line 12"

    def covers(self, role: str, version: str, finding: str) -> bool:
        """Whether this declaration explains ``finding`` of ``role`` at ``version`` (a released one)."""
        if role != self.role or finding != self.finding or is_candidate_label(version):
            return False
        return in_range(self.versions, version)

    @property
    def where(self) -> str:
        return f"{self.source} line {self.line}" if self.line else self.source

    def subject(self) -> str:
        """``client >=2.0,<3.1.dev0`` (``client, every released version`` without a range)."""
        return f"{self.role} {self.versions}" if str(self.versions) else f"{self.role}, every released version"

    def describe(self) -> str:
        """``client >=2.0,<3.1.dev0 memory-growth: reason (TICKET) [matrix.yaml line 12]``."""
        ticket = f" ({self.ticket})" if self.ticket else ""
        return f"{self.subject()} {self.finding}: {self.reason}{ticket} [{self.where}]"

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "versions": str(self.versions), "finding": self.finding, "reason": self.reason,
                "ticket": self.ticket, "line": self.line, "source": self.source}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> KnownIssue | None:
        """A declaration as the JSON report's ``meta.known_issues`` keeps it; None when unreadable
        (a report is rendered with what it holds, never refused for a note)."""
        try:
            role, finding = str(data["role"]), str(data["finding"])
            versions = SpecifierSet(str(data.get("versions") or ""))
        except (KeyError, TypeError, InvalidSpecifier):
            return None
        if role not in ROLES or finding not in FINDINGS:
            return None
        ticket = data.get("ticket")
        return KnownIssue(role, versions, finding, str(data.get("reason") or ""),
                          str(ticket) if ticket else None, int(data.get("line") or 0),
                          str(data.get("source") or "matrix.yaml"))


def find(issues: Iterable[KnownIssue], role: str, version: str, finding: str) -> KnownIssue | None:
    """The first declaration covering ``finding`` of ``role`` at ``version``, or None."""
    return next((issue for issue in issues if issue.covers(role, version, finding)), None)


def from_meta(meta: Mapping[str, Any]) -> tuple[KnownIssue, ...]:
    """The declarations a run's ``meta.known_issues`` holds (none for runs without)."""
    raw = meta.get(META_KEY)
    if not isinstance(raw, list):
        return ()
    found = (KnownIssue.from_dict(item) for item in raw if isinstance(item, Mapping))
    return tuple(issue for issue in found if issue is not None)
