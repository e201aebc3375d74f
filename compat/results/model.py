"""The verdict taxonomy and the results a run produces (pure data, JSON-able).

A *verdict* is what compat says about one (cell, scenario):

- ``pass``           the scenario passed;
- ``fail``           a compatibility break, asserted in the test body;
- ``expected-fail``  declared incompatible in matrix.yaml, and it did fail;
- ``stale``          declared incompatible, but it passed: the expectation is stale (gate fails);
- ``n/a``            the pair lacks a capability the scenario needs;
- ``error``          infrastructure (env build, start timeout, driver death), never a break;
- ``flaky``          failed, then passed on a visible rerun.

The results model is the one contract between the plugin (which fills it on the
controller) and ``compat.report`` (which renders it). ``SCHEMA_VERSION`` is bumped on any
incompatible change of the JSON shape.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

# 2: log tails stored once in a top-level "logs" table, scenarios name them by key
# (compat.results.jsonfile, which still reads 1); evidence kept only where it explains something.
SCHEMA_VERSION = 2


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    EXPECTED_FAIL = "expected-fail"
    STALE = "stale"
    NA = "n/a"
    ERROR = "error"
    FLAKY = "flaky"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def blocks_release(self) -> bool:
        """Verdicts that make the release gate fail."""
        return self in (Verdict.FAIL, Verdict.STALE, Verdict.ERROR)


_SYMBOLS = {
    Verdict.PASS: "✓",
    Verdict.FAIL: "✗",
    Verdict.EXPECTED_FAIL: "x",
    Verdict.STALE: "!",
    Verdict.NA: "-",
    Verdict.ERROR: "E",
    Verdict.FLAKY: "~",
}

# Worst first: a cell's summary verdict is the worst of its scenarios' verdicts.
SEVERITY: tuple[Verdict, ...] = (
    Verdict.ERROR,
    Verdict.FAIL,
    Verdict.STALE,
    Verdict.FLAKY,
    Verdict.EXPECTED_FAIL,
    Verdict.PASS,
    Verdict.NA,
)


def worst(verdicts: list[Verdict]) -> Verdict | None:
    """The most severe verdict of a list, or None for an empty list."""
    present = set(verdicts)
    for verdict in SEVERITY:
        if verdict in present:
            return verdict
    return None


@dataclass(frozen=True)
class WireFrame:
    """One decoded protocol frame a client driver sent or received."""

    direction: str  # "out" (client → gateway) or "in"
    msg_type: str
    fields: dict[str, Any]
    t_ns: int = 0


@dataclass(frozen=True)
class ScenarioResult:
    cell_id: str
    scenario: str
    verdict: Verdict
    duration_s: float = 0.0
    reason: str | None = None  # why n/a, expected-fail, error; one line
    message: str | None = None  # assertion or error message, full text
    expectation: dict[str, Any] | None = None  # {"kind", "reason", "ticket", "expires"}
    log_tails: dict[str, str] = field(default_factory=dict)  # role → last lines of its log
    wire: tuple[WireFrame, ...] = ()
    attempts: int = 1
    nodeid: str = ""
    # Figures the scenario recorded (Scenario.record), e.g. {"reconnect_gap_s": 0.41} of a live upgrade.
    metrics: dict[str, Any] = field(default_factory=dict)
    # Reused from the verdict cache, not run now: {"run_id", "date", "duration_s"} of the run that
    # produced it (compat.plugin.cache); None for a result of this run.
    cached_from: dict[str, Any] | None = None
    # n/a: the capability the pair lacked, as the adapter or scenario named it ("order.amend",
    # "op.amend" for an operation the adapter does not define); None otherwise.
    capability: str | None = None
    # A live swap scenario's two ends: {"from", "to", "direction"} (labels), plus "charged_to"
    # (the `to` label) when the target did not start at all; None for other scenarios.
    swap: dict[str, str] | None = None


@dataclass(frozen=True)
class EnvRecord:
    product: str
    version: str
    wheel_sha256: str
    path: str
    built: bool  # False when reused from the cache
    seconds: float = 0.0


@dataclass(frozen=True)
class CellResult:
    cell_id: str
    client_version: str
    gateway_version: str
    venue: str
    scenarios: tuple[ScenarioResult, ...] = ()
    hosts: dict[str, str] = field(default_factory=dict)  # role → host spec
    bench: dict[str, Any] | None = None  # latency figures when a benchmark ran
    # CPU and RSS per role over the cell's stack (compat.harness.resources): {"interval_s", "duration_s",
    # "roles": {role: RoleResources.to_dict()}}; None when nothing was sampled. Shape: docs/report-json.md.
    resources: dict[str, Any] | None = None

    @property
    def verdict(self) -> Verdict | None:
        return worst([s.verdict for s in self.scenarios])


@dataclass(frozen=True)
class RunResults:
    cells: tuple[CellResult, ...]
    envs: tuple[EnvRecord, ...] = ()
    started_at: str = ""
    finished_at: str = ""
    matrix_path: str = ""
    schema_version: int = SCHEMA_VERSION
    meta: dict[str, Any] = field(default_factory=dict)
    # Benchmark results about the run's products as a whole, e.g. ``gate``: the last
    # ``compat bench --compare ... --gate`` verdict written into this report (bench's own shape).
    bench: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RunResults:
        cells = tuple(
            CellResult(
                **{k: v for k, v in cell.items() if k != "scenarios"},
                scenarios=tuple(
                    ScenarioResult(
                        **{k: v for k, v in s.items() if k not in ("verdict", "wire")},
                        verdict=Verdict(s["verdict"]),
                        wire=tuple(WireFrame(**w) for w in s.get("wire", ())),
                    )
                    for s in cell.get("scenarios", ())
                ),
            )
            for cell in data.get("cells", ())
        )
        envs = tuple(EnvRecord(**e) for e in data.get("envs", ()))
        rest = {k: v for k, v in data.items() if k not in ("cells", "envs")}
        return RunResults(cells=cells, envs=envs, **rest)
