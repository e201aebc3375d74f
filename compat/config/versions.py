"""Version policy: which released versions of a product the matrix tests.

Pure functions over what an index offers (:class:`Available`); no I/O. The policy kinds:

- ``all``            every release;
- ``list``           exactly the versions named (a named yanked or pre-release is taken);
- ``specifier``      every release inside a PEP 440 specifier such as ``>=1.1,<3``;
- ``latest_minors``  the latest patch of each of the last N ``major.minor`` lines.

Yanked releases are skipped unless named explicitly or ``include_yanked`` is set; pre-releases
are skipped unless named explicitly (or the specifier itself names one, as PEP 440 says).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

POLICY_KINDS: tuple[str, ...] = ("all", "list", "specifier", "latest_minors")


@dataclass(frozen=True)
class VersionPolicy:
    """How one product's released versions are chosen (the ``versions:`` section of a role)."""

    kind: str  # "all" | "list" | "specifier" | "latest_minors"
    versions: tuple[str, ...] = ()  # kind == "list": canonical version strings
    specifier: SpecifierSet | None = None  # kind == "specifier"
    last_n_minors: int | None = None  # kind == "latest_minors"
    candidate: bool = True  # also test the candidate (working tree or --compat-candidate)
    include_yanked: bool = False
    line: int = 0  # matrix.yaml line of this policy, for error messages

    def describe(self) -> str:
        if self.kind == "list":
            return "list [" + ", ".join(self.versions) + "]"
        if self.kind == "specifier":
            return f"specifier {self.specifier}"
        if self.kind == "latest_minors":
            return f"latest patch of the last {self.last_n_minors} minor lines"
        return "all released versions"


@functools.lru_cache(maxsize=4096)  # every (rule, cell, scenario) of a run asks: parse each pair once
def in_range(spec: SpecifierSet, version: str) -> bool:
    """Whether ``version`` lies in ``spec`` (an empty spec holds every version). Pre-releases
    count: candidates are often ``3.1.0.dev0`` and a range still applies to them. A string that
    is not a PEP 440 version is in no range."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return spec.contains(parsed, prereleases=True)


def same_version(a: str, b: str) -> bool:
    """``2.0`` and ``2.0.0`` are the same version; invalid versions compare as text."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


@dataclass(frozen=True)
class Available:
    """One version an index offers for a package."""

    version: Version
    yanked: bool
    filename: str


def select(available: Sequence[Available], policy: VersionPolicy) -> list[Version]:
    """The versions ``policy`` picks from ``available``, ascending and without duplicates.

    For ``list`` the named versions are returned even when the index lacks them, so that the
    caller (which knows the index) can raise ``WheelNotFound`` naming it.
    """
    if policy.kind == "list":
        return sorted({Version(v) for v in policy.versions})
    eligible = {
        a.version
        for a in available
        if (policy.include_yanked or not a.yanked) and not a.version.is_prerelease
    }
    if policy.kind == "all":
        return sorted(eligible)
    if policy.kind == "specifier":
        assert policy.specifier is not None
        spec = policy.specifier
        # Pre-releases only when the specifier names one (spec.prereleases), never as a fallback.
        candidates = {a.version for a in available if policy.include_yanked or not a.yanked}
        return sorted(v for v in candidates if spec.contains(v) and (not v.is_prerelease or spec.prereleases))
    if policy.kind == "latest_minors":
        assert policy.last_n_minors is not None
        latest: dict[tuple[int, int], Version] = {}
        for version in eligible:
            line = (version.major, version.minor)
            if line not in latest or version > latest[line]:
                latest[line] = version
        lines = sorted(latest)[-policy.last_n_minors :] if policy.last_n_minors > 0 else []
        return [latest[line] for line in lines]
    raise ValueError(
        f"unknown version policy kind {policy.kind!r}; expected one of {', '.join(POLICY_KINDS)}"
    )
