"""The one rooted error tree of compat.

Every error compat raises on purpose derives from ``CompatError``. The phase an error
belongs to decides how pytest reports it (DESIGN.md, style rule 7)::

    CompatError
    ├── ConfigError                 configuration: pytest UsageError, never a traceback
    │   ├── MatrixError             matrix.yaml is malformed (carries file:line)
    │   └── LockError               a lock file is unreadable or stale
    ├── ArtifactError               resolving or building artifacts (infrastructure → ERROR)
    │   ├── WheelNotFound           no wheel for a version (names the index and versions found)
    │   ├── CandidateBuildError     `uv build` of the working tree failed
    │   ├── EnvBuildError           `uv venv`/`uv pip install` failed (carries uv's message)
    │   └── ReleaseError            `compat release` refused (e.g. the version exists)
    ├── HarnessError                processes and hosts (infrastructure → ERROR)
    │   ├── StartError              a process died or never became ready (exit code + log tail)
    │   ├── StopError               a process could not be stopped
    │   ├── LeakError               a child process survived the session
    │   └── HostError               a host could not be reached or set up
    ├── DriverError                 the client driver broke its control protocol (→ ERROR)
    └── CompatibilityBreak          a scenario proved a break (→ FAILED); raised by scenarios
"""

from __future__ import annotations


class CompatError(Exception):
    """Root of every error compat raises on purpose."""


class ConfigError(CompatError):
    """The user's configuration is wrong; reported as a usage error, never a traceback."""


class MatrixError(ConfigError):
    """matrix.yaml is malformed. ``str()`` reads ``matrix.yaml:LINE: what was expected``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class LockError(ConfigError):
    """A resolved-versions lock file is unreadable or does not match matrix.yaml."""


class InfrastructureError(CompatError):
    """Base of errors that mean 'the harness could not run the test' (verdict: error)."""


class ArtifactError(InfrastructureError):
    """Resolving a wheel or building an environment failed."""


class WheelNotFound(ArtifactError):
    """No wheel satisfies a requested version; names the index searched and versions found."""


class CandidateBuildError(ArtifactError):
    """Building the candidate wheel from the working tree failed."""


class EnvBuildError(ArtifactError):
    """Creating a venv or installing a wheel into it failed; carries uv's own message."""


class ReleaseError(ArtifactError):
    """`compat release` refused to act (the version exists, the tree is dirty, ...)."""


class HarnessError(InfrastructureError):
    """Starting, stopping or supervising a process failed."""


class StartError(HarnessError):
    """A process died at start or never reported ready. Message has exit code and log tail."""


class StopError(HarnessError):
    """A process survived every stop escalation step."""


class LeakError(HarnessError):
    """A child process of the run is still alive after the session."""


class HostError(HarnessError):
    """A host (local, netns, ssh) could not be set up or reached."""


class DriverError(InfrastructureError):
    """The client driver process broke the control protocol or died."""


class CompatibilityBreak(CompatError, AssertionError):
    """A scenario proved a compatibility break. An AssertionError so pytest reports FAILED."""
