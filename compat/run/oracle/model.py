"""What an invariant oracle is: its interface, what it finds, and the waivers scenarios declare.

An oracle runs after a scenario's body has passed, in the same test (so what it finds is a
``fail`` of that scenario, never an ``error``), and reconciles what every session of the
scenario was told with the truth: the exchange's own record and the protocol's rules. The
built-in one (``compat.run.oracle.trading.TradingOracle``) knows compat's simulated exchange; a
user whose matrix runs their own exchange plugs in their own by overriding the ``compat_oracle``
fixture with an object of this interface (docs/writing-scenarios.md, "The invariant oracle").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from compat.run.stack import Stack


class SessionView(Protocol):
    """The part of a scenario's session an oracle uses (``compat.run.scenario.Session``)."""

    @property
    def name(self) -> str: ...

    def call(self, op: str, **args: Any) -> dict[str, Any]: ...


class ScenarioView(Protocol):
    """The part of a scenario an oracle reads (``compat.run.scenario.Scenario``)."""

    @property
    def stack(self) -> Stack: ...

    @property
    def sessions(self) -> Sequence[SessionView]: ...

    @property
    def symbols_taken(self) -> Sequence[str]: ...

    @property
    def waivers(self) -> Sequence[Waiver]: ...


@dataclass(frozen=True)
class Violation:
    """One invariant broken: which, about what, and what each side says.

    ``session`` and ``index`` place a violation seen in one delivered event (the ``index``-th
    event the session's application got); a violation of the end state (a fill that never
    arrived) has neither.
    """

    invariant: str
    subject: str  # the order, fill or session it is about: "order a7 of session t3-maker"
    client: Any  # what the application was told
    truth: Any  # what the exchange (its audit log) or the protocol says it should have been
    session: str | None = None
    index: int | None = None

    def line(self) -> str:
        return f"{self.invariant}: {self.subject}: the client was told {self.client}; {self.truth}"


@dataclass
class OracleResult:
    """What one oracle found after one scenario, with what it could not check and why."""

    oracle: str
    violations: list[Violation] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # invariant names it checked
    skipped: dict[str, str] = field(default_factory=dict)  # invariant name (or "all") -> why not
    waived: list[Violation] = field(default_factory=list)  # violations a scenario declared
    seconds: float = 0.0
    rounds: int = 0  # observations made before the verdict (it waits for in-flight events)

    def record(self) -> dict[str, Any]:
        """As one line of the cell's ``oracle.jsonl``."""
        return {"oracle": self.oracle, "seconds": round(self.seconds, 6), "rounds": self.rounds,
                "checked": self.checked, "skipped": self.skipped,
                "violations": [v.line() for v in self.violations], "waived": [v.line() for v in self.waived]}


class Oracle(Protocol):
    """An invariant oracle: ``invariants`` names what it checks (name -> one-line description,
    the names scenarios waive and ``fails_with`` patterns match); ``check`` looks at a scenario
    that passed and says what it found (every violation: the scenario's waivers are applied to
    them afterwards). It may wait (bounded) for events still in flight."""

    @property
    def name(self) -> str: ...

    @property
    def invariants(self) -> Mapping[str, str]: ...

    def check(self, scenario: ScenarioView) -> OracleResult: ...


DeliveredCounts = Callable[[], dict[str, int]]


class Waiver:
    """A scenario's declaration that it breaks ``invariant`` on purpose (a fault before its
    recovery): from its creation until the end of its ``with`` block, or, used without
    ``with`` (or after :meth:`end`), until the end of the scenario. Events delivered inside the
    window are not judged on that invariant; an end-state violation (a fill that never arrived)
    is waived only by a waiver still open when the scenario ends."""

    def __init__(self, invariant: str, reason: str, counts: DeliveredCounts) -> None:
        if not reason.strip():
            raise ValueError(f"waiving invariant {invariant!r} needs a reason (why the scenario breaks it)")
        self.invariant = invariant
        self.reason = reason
        self._counts = counts
        self.start: dict[str, int] = counts()  # session -> events delivered before the window
        self.end: dict[str, int] | None = None  # None: open until the end of the scenario

    def close(self) -> None:
        """The scenario recovered: events from now on are judged again."""
        if self.end is None:
            self.end = self._counts()

    def __enter__(self) -> Waiver:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def covers(self, violation: Violation) -> bool:
        if violation.invariant != self.invariant:
            return False
        if violation.session is None or violation.index is None:
            return self.end is None
        start = self.start.get(violation.session, 0)
        if violation.index < start:
            return False
        return self.end is None or violation.index < self.end.get(violation.session, 0)

    def describe(self) -> str:
        until = "the end of the scenario" if self.end is None else "its recovery"
        return f"{self.invariant} (until {until}: {self.reason})"


def split_waived(violations: Sequence[Violation], waivers: Sequence[Waiver]) -> tuple[list[Violation], list[Violation]]:
    """(violations no waiver covers, violations a waiver covers)."""
    kept: list[Violation] = []
    waived: list[Violation] = []
    for violation in violations:
        (waived if any(w.covers(violation) for w in waivers) else kept).append(violation)
    return kept, waived
