"""The one rooted error tree of compat: every error class compat raises on purpose is here.

The branch an error sits on decides the verdict and how pytest reports it (docs/architecture.md,
section 5): configuration is a usage error, infrastructure is the verdict ``error`` (never a
break), a missing capability is ``n/a``, a proved break is ``fail``::

    CompatError
    ├── ConfigError                  configuration: pytest UsageError / CLI message, never a traceback
    │   ├── MatrixError              matrix.yaml is malformed (carries file:line)
    │   ├── LockError                a lock file is unreadable or stale
    │   └── InstrumentsFileError     the exchange's instruments file is unreadable or invalid
    ├── InfrastructureError          the harness could not run the test: verdict error
    │   ├── ArtifactError            resolving, building or reading artifacts
    │   │   ├── WheelNotFound        no wheel for a version (names the index and versions found)
    │   │   ├── CandidateBuildError  `uv build` of the working tree failed
    │   │   ├── EnvBuildError        `uv venv`/`uv pip install` failed (carries uv's message)
    │   │   ├── ReleaseError         `compat release` refused (e.g. the version exists)
    │   │   └── SchemaDiffError      a wheel carries no readable protobuf schema
    │   │       └── NoSchemaDescriptors  ... because it ships none (the static check is off)
    │   ├── HarnessError             processes and hosts
    │   │   ├── StartError           a process died or never became ready (exit code + log tail)
    │   │   │   ├── ProcessStartError    the same, with the facts as attributes
    │   │   │   └── SwapTargetError      a live swap's `to` gateway does not start at all: charged to it
    │   │   ├── StopError            a process survived every stop escalation step
    │   │   ├── LeakError            a child process survived the session
    │   │   ├── HostError            a host could not be reached, set up or torn down
    │   │   ├── CommandTimeout       `run` gave up waiting (carries the partial Outcome)
    │   │   ├── ChannelClosed        a control channel reached EOF (the process died)
    │   │   └── ChannelTimeout       no line arrived on a control channel in time
    │   ├── DriverError              the client driver broke its control protocol
    │   ├── CoverageError            `compat coverage` cannot judge (a run wrote no report, the baseline ran nothing)
    │   └── ExchangeError            the simulated exchange
    │       ├── ExchangeStartError   it could not start (a port could not be bound, ...)
    │       ├── ExchangeClientError  a venue client timed out or the exchange hung up
    │       └── AuditLogError        the audit log is unreadable or malformed (file and line)
    ├── ResultsError                 a results file, store or shard set cannot be used as asked
    │   ├── SchemaVersionError       a results JSON has a schema_version this compat cannot read
    │   └── MergeConflict            two shards disagree about the same (cell, scenario)
    ├── WireError                    a peer sent bytes a venue codec cannot decode (the venue
    │   │                            answers with a reject or a logout; never a verdict)
    │   ├── FramingError             the stream cannot be framed any more: logout and close
    │   │   ├── FrameError           OBX: a frame header is bad (length over the cap or < 4)
    │   │   └── TlxFramingError      TLX: a message cannot be framed
    │   ├── PayloadError             OBX: one frame's payload is bad, the stream is in sync
    │   └── TlxReject                TLX: one message gets a session Reject (35=3), in sync
    ├── OperationUnsupported         the installed client version cannot do an operation: n/a
    │   └── UnsupportedLoadPlan      ... a load plan (also a ConfigError, for the CLI)
    └── CompatibilityBreak           a scenario proved a break: FAILED (an AssertionError)
        ├── DriverCallError          the client library raised for an operation
        └── InvariantViolation       the invariant oracle found what a session was told at odds
                                     with the exchange or the protocol (after the scenario passed)

Warnings (the run goes on, the summary shows them)::

    CompatWarning (UserWarning)
    └── UnmatchedExpectationWarning  a matrix.yaml expectation matches nothing in the run

The driver (``compat/driver/driver.py``) runs inside client venvs with the stdlib only, so its
adapter-facing ``Unsupported`` is its own; the host side turns it into ``OperationUnsupported``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the bottom layer imports nothing of compat at run time
    from compat.harness.command import Outcome


class CompatError(Exception):
    """Root of every error compat raises on purpose."""


# ---- configuration -------------------------------------------------------------------------


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


class InstrumentsFileError(ConfigError):
    """The instruments file is unreadable or an instrument in it is invalid."""


# ---- infrastructure: verdict error ----------------------------------------------------------


class InfrastructureError(CompatError):
    """Base of errors that mean 'the harness could not run the test' (verdict: error)."""


class ArtifactError(InfrastructureError):
    """Resolving a wheel, building an environment or reading a wheel failed."""


class WheelNotFound(ArtifactError):
    """No wheel satisfies a requested version; names the index searched and versions found."""


class CandidateBuildError(ArtifactError):
    """Building the candidate wheel from the working tree failed."""


class EnvBuildError(ArtifactError):
    """Creating a venv or installing a wheel into it failed; carries uv's own message."""


class ReleaseError(ArtifactError):
    """`compat release` refused to act (the version exists, the tree is dirty, ...)."""


class SchemaDiffError(ArtifactError):
    """No protobuf descriptors could be read from a wheel or descriptor file."""


class NoSchemaDescriptors(SchemaDiffError):
    """The wheel ships no protobuf descriptors at all: a product without protobuf, for which
    the static schema check is off (said once in a report, not per pair). ``wheels``: the file
    names of the wheels without any."""

    def __init__(self, message: str, wheels: tuple[str, ...]) -> None:
        super().__init__(message)
        self.wheels = wheels


class HarnessError(InfrastructureError):
    """Starting, stopping or supervising a process failed."""


class StartError(HarnessError):
    """A process died at start or never reported ready. Message has exit code and log tail."""


class ProcessStartError(StartError):
    """StartError with the facts as attributes, for callers that classify the failure."""

    def __init__(self, message: str, name: str, exit_code: int | None, log_path: Path) -> None:
        super().__init__(message)
        self.name = name
        self.exit_code = exit_code
        self.log_path = log_path


class SwapTargetError(StartError):
    """A live swap's target gateway (its ``to``) did not start, and does not start on a fresh
    journal either: the swap could not be tried, and the fault is the target's own, not a refusal
    of what the source wrote. Verdict error, charged to ``target`` (a version label)."""

    def __init__(self, message: str, target: str) -> None:
        super().__init__(message)
        self.target = target


class StopError(HarnessError):
    """A process survived every stop escalation step."""


class LeakError(HarnessError):
    """A child process of the run is still alive after the session."""


class HostError(HarnessError):
    """A host (local, netns, ssh) could not be set up, reached or torn down."""


class CommandTimeout(HarnessError):
    """``run`` gave up waiting; ``outcome`` holds what the command printed before it was killed."""

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


class ChannelClosed(HarnessError):
    """The control channel reached EOF or the pipe broke: the process died or closed stdout."""


class ChannelTimeout(HarnessError):
    """No line arrived on the control channel in time."""


class DriverError(InfrastructureError):
    """The client driver process broke the control protocol or died."""


class CoverageError(InfrastructureError):
    """``compat coverage`` cannot judge the mutants: a column run wrote no report, or the unmutated
    baseline ran no scenario at all."""


class ExchangeError(InfrastructureError):
    """The simulated exchange could not do its part."""


class ExchangeStartError(ExchangeError):
    """The exchange could not start (a port could not be bound, ...)."""


class ExchangeClientError(ExchangeError):
    """A venue client timed out or the exchange closed the connection."""


class AuditLogError(ExchangeError):
    """The audit log is unreadable or malformed (names the file and line)."""


# ---- results ---------------------------------------------------------------------------------


class ResultsError(CompatError):
    """A results file, history store or shard set cannot be used as asked."""


class SchemaVersionError(ResultsError):
    """The results JSON was written with a schema version this compat does not read."""


class MergeConflict(ResultsError):
    """Two shards hold different results for the same (venue, cell, scenario)."""


# ---- wire decoding (the simulated exchange's codecs) --------------------------------------------


class WireError(CompatError):
    """A peer's bytes cannot be decoded; ``code`` is the venue's reject/logout code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class FramingError(WireError):
    """A venue's byte stream cannot be framed any more; the session logs out and closes.

    ``decoded``: the whole units (OBX ``Frame``, TLX ``TlxMessage``) that came before the bad
    bytes in the same feed (they are as valid as if they had arrived in an earlier read, and
    must be handled first)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.decoded: list[Any] = []


class FrameError(FramingError):
    """The OBX byte stream cannot be framed any more (a length over the cap or below 4)."""


class PayloadError(WireError):
    """One OBX frame's payload is bad; the stream is still in sync."""

    def __init__(self, code: int, reason: str, msg_type: int) -> None:
        super().__init__(code, reason)
        self.msg_type = msg_type


class TlxFramingError(FramingError):
    """A TLX message cannot be framed (BeginString, BodyLength or CheckSum is wrong)."""


class TlxReject(WireError):
    """One TLX message is refused with a session-level Reject (35=3); the session goes on.

    ``session_reason``: the SessionRejectReason (373); ``tag``: the RefTagID (371, 0 = none)."""

    def __init__(self, code: int, reason: str, session_reason: int, tag: int) -> None:
        super().__init__(code, reason)
        self.session_reason = session_reason
        self.tag = tag


# ---- verdicts n/a and fail -----------------------------------------------------------------------


class OperationUnsupported(CompatError):
    """The installed client version cannot do an operation: the scenario's verdict is n/a."""

    def __init__(self, op: str, capability: str, message: str) -> None:
        super().__init__(f"{op}: {message} (capability {capability})")
        self.op = op
        self.capability = capability


class UnsupportedLoadPlan(OperationUnsupported, ConfigError):
    """The client adapter (or this client version) cannot run a load plan.

    An ``OperationUnsupported`` so a matrix cell's verdict is n/a; a ``ConfigError`` so the
    CLI prints it as a clear error, not a traceback."""


class CompatibilityBreak(CompatError, AssertionError):
    """A scenario proved a compatibility break. An AssertionError so pytest reports FAILED."""


class DriverCallError(CompatibilityBreak):
    """The client library raised an error for an operation (rejected order, version error...).

    Uncaught in a scenario it is a compatibility break (FAILED); scenarios that expect an error
    catch it and assert on ``type`` and ``code``.
    """

    def __init__(self, op: str, error: dict[str, Any]) -> None:
        self.op = op
        self.type = str(error.get("type", "Error"))
        self.code = error.get("code")
        self.raw_code = error.get("raw_code")
        self.error = error
        super().__init__(f"{op} raised {self.type}: {error.get('message', '')}")


class InvariantViolation(CompatibilityBreak):
    """The invariant oracle that runs after every scenario (``compat.run.oracle``) found a
    violation: the message names each invariant, the order and both sides' values."""

    def __init__(self, message: str, invariants: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.invariants = invariants  # the names of the invariants violated, e.g. ("cum_qty",)



# ---- warnings ---------------------------------------------------------------------------------------


class CompatWarning(UserWarning):
    """Root of the warnings compat gives; the run goes on."""


class UnmatchedExpectationWarning(CompatWarning):
    """A matrix.yaml expectation matches nothing in the run (an error with
    ``--compat-strict-expectations``)."""


ReportError = ResultsError  # its name before the regroup (compat.report.errors); kept for one release
