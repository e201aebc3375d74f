"""Declared truths about pairings: which (client, gateway, venue, scenario) are known not to work.

An expectation maps client and gateway version ranges, a venue glob and a scenario glob to

- ``incompatible``: the pair is known to break; the scenario still runs, a failure is an
  expected-fail and a pass is reported as *stale* (the expectation should go);
- ``unsupported``: the pair is not meant to work together at all (verdict n/a);
- ``compatible``: an explicit exemption from a broader rule below it (e.g. the one scenario
  that still passes in a pair refused at logon); the scenario is judged on its own.

The first matching expectation wins, so put narrow rules before broad ones. An expectation
past its ``expires`` date no longer matches: the cell is judged on its own again and the
expired rule is reported (:func:`expired`) so someone renews or deletes it.

Scenario names are the test function's name without ``test_`` (``cancel`` for ``test_cancel``),
plus the scenario's own parameters (``price_exact_fill[FLT-0.3]``); a pattern written with the
``test_`` prefix matches too. A rule that matches nothing in a run is a mistake waiting to hide a
break, so :func:`unmatched` says which rule and which of its patterns matched nothing.

An ``incompatible`` rule may also say how the pair fails (``fails_with``: an exception type, an
error code, a message pattern; :class:`FailurePattern`). A broad rule otherwise hides every new
break inside its scope: a cell that starts failing for another reason (a start failure, an
unrelated exception) stays expected-fail. With ``fails_with``, a failure that matches none of the
rule's patterns is a break, "fails differently than declared" (``compat.results.verdicts``).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import SpecifierSet

from compat.config.cell import Cell
from compat.config.swaps import Swap
from compat.config.versions import in_range

KINDS: tuple[str, ...] = ("incompatible", "unsupported", "compatible")
FAILURE_KEYS: tuple[str, ...] = ("error", "code", "message")


@dataclass(frozen=True)
class Failure:
    """What a scenario failed with, as the facts a :class:`FailurePattern` is matched against."""

    types: tuple[str, ...]  # the client error's type (a failed driver call) first, then the exception's classes
    code: str | None  # the client error's code, when it has one
    text: str  # the exception's message (an assertion's, with pytest's explanation)

    def describe(self) -> str:
        code = f" (code {self.code})" if self.code else ""
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "")
        return f"{self.types[0] if self.types else 'an error'}{code}: {first[:200]}"


@dataclass(frozen=True)
class FailurePattern:
    """How a declared incompatibility fails; every field given must match (``fails_with`` in matrix.yaml).

    - ``error``: an exception class name: the client error's type when a driver call failed
      (``ProtocolVersionError``, ``Timeout``), or the class of the exception that ended the
      scenario or one of its bases (``AssertionError``, ``InvariantViolation``);
    - ``code``: the client error's code, exactly (``UNSUPPORTED_PROTOCOL_VERSION``);
    - ``message``: a regular expression searched (``re.search``) in the failure's message.
    """

    error: str | None = None
    code: str | None = None
    message: str | None = None

    def matches(self, failure: Failure) -> bool:
        return (
            (self.error is None or self.error in failure.types)
            and (self.code is None or self.code == failure.code)
            and (self.message is None or re.search(self.message, failure.text) is not None)
        )

    def describe(self) -> str:
        parts = [f"{key} {value!r}" for key, value in self.record().items()]
        return ", ".join(parts)

    def record(self) -> dict[str, str]:
        """The fields given, as matrix.yaml and the results JSON write them."""
        return {key: value for key in FAILURE_KEYS if (value := getattr(self, key)) is not None}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FailurePattern:
        return cls(**{key: str(record[key]) for key in FAILURE_KEYS if record.get(key) is not None})


def declared_failure_matches(patterns: Sequence[FailurePattern], failure: Failure) -> bool:
    """A rule without ``fails_with`` accepts any failure; with it, one of its patterns must match."""
    return not patterns or any(pattern.matches(failure) for pattern in patterns)


def describe_patterns(patterns: Sequence[FailurePattern]) -> str:
    return " or ".join(f"[{pattern.describe()}]" for pattern in patterns)


@dataclass(frozen=True)
class Expectation:
    client: SpecifierSet  # empty set: any client version
    gateway: SpecifierSet
    venue: str  # glob, "*" for every venue
    scenario: str  # glob over scenario names, "*" for every scenario
    kind: str  # "incompatible" | "unsupported"
    reason: str
    ticket: str | None = None
    expires: _dt.date | None = None
    line: int = 0  # matrix.yaml line, so reports can point at the rule
    # A live swap's two ends (``from``/``to`` in matrix.yaml): a rule with either matches only
    # swap scenarios, by the versions the swap goes from and to (compat.config.swaps).
    swap_from: SpecifierSet | None = None
    swap_to: SpecifierSet | None = None

    @property
    def about_swaps(self) -> bool:
        return self.swap_from is not None or self.swap_to is not None
    fails_with: tuple[FailurePattern, ...] = ()  # incompatible only: how it is known to fail (any of them)

    def is_expired(self, today: _dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, cell: Cell, scenario: str, swap: Swap | None = None) -> bool:
        """Whether this rule covers ``scenario`` in ``cell`` (ignoring expiry); ``swap``: the live
        swap the scenario makes, if it is a swap scenario."""
        return (
            in_range(self.client, cell.client.version)
            and in_range(self.gateway, cell.gateway.version)
            and fnmatch.fnmatchcase(cell.venue, self.venue)
            and self.matches_scenario(scenario)
            and self.matches_swap(swap)
        )

    def matches_swap(self, swap: Swap | None) -> bool:
        """A rule without ``from``/``to`` matches any scenario; one with them, only a swap whose
        ends both match."""
        if not self.about_swaps:
            return True
        if swap is None:
            return False
        return (self.swap_from is None or in_range(self.swap_from, swap.source.version)) and (
            self.swap_to is None or in_range(self.swap_to, swap.target.version))

    def matches_scenario(self, scenario: str) -> bool:
        """``scenario`` is the name without ``test_``; a pattern may be written either way."""
        return fnmatch.fnmatchcase(scenario, self.scenario) or fnmatch.fnmatchcase("test_" + scenario, self.scenario)

    def describe(self) -> str:
        client = str(self.client) or "*"
        gateway = str(self.gateway) or "*"
        if self.about_swaps:
            gateway += f", swap from {self.swap_from or '*'} to {self.swap_to or '*'}"
        extra = f" ({self.ticket})" if self.ticket else ""
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        fails = f", fails with {describe_patterns(self.fails_with)}" if self.fails_with else ""
        return (
            f"{self.kind}: client {client} x gateway {gateway} on venue {self.venue}, scenario "
            f"{self.scenario}: {self.reason}{extra}{until}{fails} [matrix.yaml line {self.line}]"
        )


def find(
    expectations: Sequence[Expectation], cell: Cell, scenario: str, today: _dt.date | None = None,
    swap: Swap | None = None,
) -> Expectation | None:
    """The first expectation that covers (cell, scenario[, swap]) and has not expired, or None."""
    day = today if today is not None else _dt.date.today()
    for expectation in expectations:
        if expectation.matches(cell, scenario, swap) and not expectation.is_expired(day):
            return expectation
    return None


def expired(expectations: Sequence[Expectation], today: _dt.date | None = None) -> list[Expectation]:
    """Expectations past their expiry date: they match nothing any more and should be reported."""
    day = today if today is not None else _dt.date.today()
    return [e for e in expectations if e.is_expired(day)]


def unmatched(
    expectations: Sequence[Expectation], cells: Sequence[Cell], scenarios: Sequence[str],
    not_run: Sequence[str] = (), swaps: Sequence[tuple[Cell, str, Swap]] = (),
) -> list[str]:
    """One line per rule that covers no collected (cell, scenario), naming the rule's
    matrix.yaml line and the pattern(s) that matched nothing, with what there was instead.
    ``not_run``: scenarios this run left out on purpose (``-m``); rules about them are not judged.
    ``swaps``: the collected swap scenarios (cell, scenario, swap), which rules with ``from``/``to``
    are judged against."""
    names = sorted(set(scenarios))
    lines: list[str] = []
    for rule in expectations:
        if any(rule.matches_scenario(name) for name in not_run):
            continue
        misses: list[str] = []
        if not any(in_range(rule.client, c.client.version) for c in cells):
            misses.append(f"client {rule.client} matches none of the client versions run "
                          f"({_listing(sorted({c.client.version for c in cells}))})")
        if not any(in_range(rule.gateway, c.gateway.version) for c in cells):
            misses.append(f"gateway {rule.gateway} matches none of the gateway versions run "
                          f"({_listing(sorted({c.gateway.version for c in cells}))})")
        if not any(fnmatch.fnmatchcase(c.venue, rule.venue) for c in cells):
            venues = _listing(sorted({c.venue for c in cells}))
            misses.append(f"venue {rule.venue!r} matches none of the venues run ({venues})")
        if not any(rule.matches_scenario(name) for name in names):
            misses.append(f"scenario {rule.scenario!r} matches none of the {len(names)} scenarios collected "
                          f"({_listing(names)})")
        if rule.about_swaps and not any(rule.matches_swap(swap) for _, _, swap in swaps):
            run = _listing(sorted({f"{s.source.label}→{s.target.label}" for _, _, s in swaps}))
            misses.append(f"from {rule.swap_from or '*'} to {rule.swap_to or '*'} matches none of the live "
                          f"swaps run ({run})")
        if rule.about_swaps:
            covers = any(rule.matches(cell, name, swap) for cell, name, swap in swaps)
        else:
            covers = any(rule.matches(c, name) for c in cells for name in names)
        if not misses and not covers:
            misses.append("each pattern matches something, but no collected (cell, scenario) matches them all")
        if misses:
            lines.append(f"matrix.yaml line {rule.line}: expectation ({rule.kind}: {rule.reason}) matches nothing "
                         f"in this run: {'; '.join(misses)}")
    return lines


def _listing(items: Sequence[str], limit: int = 8) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")
