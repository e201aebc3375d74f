"""The values a matrix run is made of: a :class:`Release` of one product and a :class:`Cell`.

``Cell.id`` is the one place test ids are formatted; everything else (pytest ids, xdist
groups, report rows, log directories) takes it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

ROLES: tuple[str, ...] = ("gateway", "client")


@dataclass(frozen=True)
class Release:
    """One installable version of a product: a wheel on disk, identified by its sha256."""

    role: str  # "gateway" | "client"
    package: str  # distribution name, e.g. "refgw"
    version: str  # canonical PEP 440 string, e.g. "2.1.0"
    wheel: Path  # local path of the wheel file (downloaded if it came from a URL index)
    sha256: str
    yanked: bool = False
    candidate: bool = False  # built from the working tree or given with --compat-candidate
    # A release the index offers only as a source archive: the sdist's file name and sha256
    # (what the lock pins); ``wheel`` is the wheel compat built from it once, cached by that sha.
    source_archive: str | None = None
    source_sha256: str | None = None

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    @property
    def label(self) -> str:
        """The version as it appears in ids: released ``2.1.0``, candidate ``3.1.0+candidate``.

        The candidate gets a marker because the working tree often still carries the version
        of the last release; without it the two would share an id.
        """
        if not self.candidate:
            return self.version
        separator = "." if "+" in self.version else "+"
        return f"{self.version}{separator}candidate"

    @property
    def name(self) -> str:
        """``gateway-2.1.0``: the label of this release's processes and log files."""
        return f"{self.role}-{self.label}"

    def __str__(self) -> str:
        return f"{self.role} {self.package} {self.label}"


def is_candidate_label(label: str) -> bool:
    """Whether a version label (``Release.label``) is a candidate's: ``3.1.0.dev0+candidate``,
    ``3.1.0+mutant.x.candidate``; released versions never carry a local ``+`` part ending so."""
    return "+" in label and label.endswith("candidate")


@dataclass(frozen=True)
class Cell:
    """One pairing of the matrix: a client release against a gateway release on a venue (if any)."""

    client: Release
    gateway: Release
    venue: str  # "" when the matrix has no venues (exchange: none)

    @property
    def id(self) -> str:
        """``client-1.2.0--gateway-2.0.0--venue-obx``; the only place ids are formatted.

        A cell without a venue (``exchange: none`` and no ``venues:``) drops the venue part:
        ``client-1.2.0--gateway-2.0.0``.
        """
        pair = f"client-{self.client.label}--gateway-{self.gateway.label}"
        return f"{pair}--venue-{self.venue}" if self.venue else pair

    def __str__(self) -> str:
        return self.id
