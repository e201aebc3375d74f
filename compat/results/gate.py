"""The release gate (inside the support window) and can-i-deploy, as pure functions that
return ``(exit code, lines)``.

The support window (``settings.support_window`` in matrix.yaml, docs/history-and-gate.md) is
two promises about the newest releases in the results:

- the newest gateway minor supports the last ``client_minors`` client minors;
- the newest client minor supports the last ``gateway_minors`` gateway minors.

A pair is inside the window when one of the promises covers it. Inside, a fail or an error
blocks (and an expected-fail whose expectation expired); a pair of the window that was not
run at all blocks too, because nothing shows it works. Outside, failures are listed but do
not block. A stale expectation (declared incompatible, but it passed) blocks, inside the window
or outside it, as it fails the pytest run: matrix.yaml says something untrue about the pair
whatever the window promises. ``allow_stale`` (``--allow-stale``, ``--compat-allow-stale``)
makes it a warning to clean instead, everywhere. Without a window every pair is inside.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from compat import timing
from compat.config.removals import Removal
from compat.errors import ConfigError
from compat.results.capabilities import CapabilityLoss, capability_losses
from compat.results.grid import counts_text, expectation_text, scenario_reason, sorted_versions, verdict_counts
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict, worst

EXIT_OK, EXIT_BLOCKED = 0, 1
WINDOW_KEYS = ("client_minors", "gateway_minors")
# RunResults.meta keys the reports gate with: the window of the run's matrix (stamped by the
# plugin, so a report says what `compat gate` would) and the stale rule (``allow_stale``).
WINDOW_META_KEY = "support_window"
ALLOW_STALE_META_KEY = "allow_stale"


# --- the support window ---------------------------------------------------------------------


@dataclass(frozen=True)
class SupportWindow:
    """How many minors of the other product the newest gateway and client promise to support.
    ``None`` for a side: that promise is not declared."""

    client_minors: int | None = None  # the newest gateway supports the last N client minors
    gateway_minors: int | None = None  # the newest client supports the last N gateway minors
    source: str = "matrix.yaml settings.support_window"

    @staticmethod
    def from_mapping(value: object, source: str) -> SupportWindow:
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{source}: expected a mapping like {{client_minors: 3, gateway_minors: 2}}, got {value!r}"
            )
        unknown = sorted(str(k) for k in value if k not in WINDOW_KEYS)
        if unknown:
            raise ConfigError(f"{source}: unknown key {', '.join(unknown)}; expected {', '.join(WINDOW_KEYS)}")
        sizes = {key: _size(value.get(key), f"{source}.{key}") for key in WINDOW_KEYS}
        return SupportWindow(sizes["client_minors"], sizes["gateway_minors"], source)

    @staticmethod
    def from_settings(settings: Mapping[str, Any], matrix: str) -> SupportWindow | None:
        """The window declared in a matrix's ``settings``, or None when it declares none."""
        value = settings.get("support_window")
        if value is None:
            return None
        return SupportWindow.from_mapping(value, f"{matrix} settings.support_window")

    def override(self, options: Sequence[str]) -> SupportWindow:
        """Apply ``--window client_minors=3,gateway_minors=2`` style options (repeatable)."""
        sizes: dict[str, int | None] = {"client_minors": self.client_minors, "gateway_minors": self.gateway_minors}
        for option in options:
            for item in filter(None, (part.strip() for part in option.split(","))):
                key, sep, raw = item.partition("=")
                key = key.strip().replace("-", "_")
                if not sep or key not in WINDOW_KEYS:
                    raise ConfigError(
                        f"--window {option!r}: expected KEY=N with KEY one of {', '.join(WINDOW_KEYS)} "
                        "(e.g. --window client_minors=3,gateway_minors=2), or --window all"
                    )
                sizes[key] = _size(raw.strip(), f"--window {key}")
        sources = self.source if not options else f"{self.source} with --window {' '.join(options)}"
        return SupportWindow(sizes["client_minors"], sizes["gateway_minors"], sources)

    def to_dict(self) -> dict[str, Any]:
        return {"client_minors": self.client_minors, "gateway_minors": self.gateway_minors, "source": self.source}

    @staticmethod
    def from_meta(meta: Mapping[str, Any]) -> SupportWindow | None:
        """The window a run's ``meta.support_window`` records; None without one (or unreadable:
        a report is rendered with what it holds, and then every pair is gated)."""
        raw = meta.get(WINDOW_META_KEY)
        if not isinstance(raw, Mapping):
            return None
        source = str(raw.get("source") or "matrix.yaml settings.support_window")
        try:
            return SupportWindow.from_mapping({k: v for k, v in raw.items() if k in WINDOW_KEYS}, source)
        except ConfigError:
            return None

    def describe(self) -> str:
        promises = []
        if self.client_minors is not None:
            promises.append(f"the newest gateway supports the last {self.client_minors} client minors")
        if self.gateway_minors is not None:
            promises.append(f"the newest client supports the last {self.gateway_minors} gateway minors")
        return "; ".join(promises) or "no promise declared (nothing is inside)"


def _size(raw: object, where: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        size = int(str(raw))
    except ValueError:
        size = 0
    if size < 1 or isinstance(raw, bool):
        raise ConfigError(f"{where}: expected a whole number of minors (1 or more), got {raw!r}")
    return size


def minor(version: str) -> tuple[int, int] | None:
    """``2.1.3`` → (2, 1); pre-releases and candidates belong to their minor; None if invalid."""
    try:
        release = Version(version).release
    except InvalidVersion:
        return None
    return (release[0], release[1] if len(release) > 1 else 0)


def _minor_text(m: tuple[int, int]) -> str:
    return f"{m[0]}.{m[1]}"


@dataclass(frozen=True)
class WindowView:
    """The window laid over the versions a run holds: which pairs it covers, and why."""

    window: SupportWindow | None
    newest_gateway: tuple[int, int] | None = None
    newest_client: tuple[int, int] | None = None
    client_minors: tuple[tuple[int, int], ...] = ()  # those the newest gateway supports
    gateway_minors: tuple[tuple[int, int], ...] = ()  # those the newest client supports
    unreadable: tuple[str, ...] = ()  # versions that are not PEP 440: never inside

    @staticmethod
    def over(window: SupportWindow | None, clients: Iterable[str], gateways: Iterable[str]) -> WindowView:
        client_versions, gateway_versions = set(clients), set(gateways)
        unreadable = tuple(sorted(v for v in client_versions | gateway_versions if minor(v) is None))
        if window is None:
            return WindowView(None, unreadable=unreadable)
        c_minors = sorted({m for v in client_versions if (m := minor(v)) is not None})
        g_minors = sorted({m for v in gateway_versions if (m := minor(v)) is not None})
        return WindowView(
            window,
            newest_gateway=g_minors[-1] if g_minors and window.client_minors else None,
            newest_client=c_minors[-1] if c_minors and window.gateway_minors else None,
            client_minors=tuple(c_minors[-window.client_minors :]) if window.client_minors else (),
            gateway_minors=tuple(g_minors[-window.gateway_minors :]) if window.gateway_minors else (),
            unreadable=unreadable,
        )

    def why_inside(self, client: str, gateway: str) -> str | None:
        """Which promise covers the pair (text), or None when it is outside the window."""
        if self.window is None:
            return "no support window declared: every pair is gated"
        c, g = minor(client), minor(gateway)
        if c is None or g is None:
            return None
        if g == self.newest_gateway and c in self.client_minors:
            return f"newest gateway {_minor_text(g)} supports client minors {self._span(self.client_minors)}"
        if c == self.newest_client and g in self.gateway_minors:
            return f"newest client {_minor_text(c)} supports gateway minors {self._span(self.gateway_minors)}"
        return None

    @staticmethod
    def _span(minors: Sequence[tuple[int, int]]) -> str:
        return ", ".join(_minor_text(m) for m in minors)

    def header(self) -> list[str]:
        if self.window is None:
            return []
        lines = [f"support window ({self.window.source}): {self.window.describe()}"]
        if self.newest_gateway is not None:
            lines.append(
                f"  gateway {_minor_text(self.newest_gateway)}.x × client minors {self._span(self.client_minors)}"
            )
        if self.newest_client is not None:
            lines.append(
                f"  client {_minor_text(self.newest_client)}.x × gateway minors {self._span(self.gateway_minors)}"
            )
        return lines


# --- the gate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One (cell, scenario) the gate has something to say about."""

    cell: CellResult
    scenario: ScenarioResult
    why: str
    window: str | None = None  # why the pair is inside the window; None outside

    def line(self, head: str) -> str:
        where = "" if self.window is None or self.window.startswith("no support window") else f" [{self.window}]"
        return (
            f"{head} {self.scenario.verdict}: {self.cell.cell_id} [{self.cell.venue}] "
            f"{self.scenario.scenario}: {self.why}{where}"
        )


@dataclass(frozen=True)
class GateDecision:
    view: WindowView
    blockers: tuple[Finding, ...] = ()
    missing: tuple[tuple[str, str, str, str], ...] = ()  # (venue, client, gateway, why inside)
    warnings: tuple[Finding, ...] = ()  # stale expectations to clean (with allow_stale)
    outside: tuple[Finding, ...] = ()  # fail/error outside the window: reported, not gating
    declared: tuple[Finding, ...] = ()  # expected-fail inside the window: a declared gap in it
    summary: str = ""
    empty: bool = False
    allow_stale: bool = False  # the stale rule applied: False blocks (the default), True warns
    # Capabilities a version lost against its predecessor (compat.results.capabilities): those
    # matrix.yaml does not declare removed block, wherever they are (matrix.yaml must say it).
    capabilities: tuple[CapabilityLoss, ...] = ()

    @property
    def lost_capabilities(self) -> tuple[CapabilityLoss, ...]:
        return tuple(loss for loss in self.capabilities if loss.declared is None)

    @property
    def blocked(self) -> bool:
        return self.empty or bool(self.blockers or self.missing or self.lost_capabilities)

    @property
    def exit_code(self) -> int:
        return EXIT_BLOCKED if self.blocked else EXIT_OK

    @property
    def scope(self) -> str:
        if self.view.window is not None:
            return "inside the support window"
        return "(no support window declared, so every pair gates)"

    def headline(self) -> str:
        """May we release? The decision and why, in one line (the reports lead with it):
        ``release gate: BLOCKED by 3 inside the support window: 2 breaks, 1 infrastructure error``."""
        word, why = self.headline_parts()
        return f"release gate: {word}{why}"

    def headline_parts(self) -> tuple[str, str]:
        """(``BLOCKED`` or ``clear``, the rest of the headline), for renderers that mark the word."""
        if self.empty:
            return "BLOCKED", ": the results hold no scenarios, so nothing shows the release is compatible"
        if self.blocked:
            kinds = Counter(f.scenario.verdict for f in self.blockers)
            parts = [_count(kinds[v], noun) for v, noun in _BLOCKER_NOUNS if kinds[v]]
            parts += [_count(len(self.missing), "pair never tested", "pairs never tested")] if self.missing else []
            lost = self.lost_capabilities
            parts += [_count(len(lost), "capability lost", "capabilities lost")] if lost else []
            count = len(self.blockers) + len(self.missing) + len(lost)
            return "BLOCKED", f" by {count} {self.scope}: {', '.join(parts)}"
        notes = [_count(len(self.warnings), "stale expectation") + " to clean (--allow-stale)"] if self.warnings else []
        notes += [_count(len(self.outside), "failure") + " outside the window, not gating"] if self.outside else []
        notes += [_count(len(self.declared), "declared incompatible scenario")] \
            if self.declared else []
        return "clear", f": no break, error or stale expectation {self.scope}" + "".join(f"; {n}" for n in notes)

    def lines(self) -> list[str]:
        if self.empty:
            return ["BLOCKED: the results hold no scenarios, so nothing shows the release is compatible"]
        out = list(self.view.header())
        out += [f.line("BLOCKED") for f in self.blockers]
        out += [
            f"BLOCKED never tested: client {c} × gateway {g} [{venue}] is inside the window ({why}) but "
            "no cell of the results ran it; run it, or merge every shard before gating"
            for venue, c, g, why in self.missing
        ]
        out += [f"BLOCKED {loss.line()}" for loss in self.lost_capabilities]
        out += [loss.line() for loss in self.capabilities if loss.declared is not None]
        out += [f.line("WARNING") for f in self.warnings]
        out += [f.line("declared") for f in self.declared]
        out += [f.line("outside window, not gating:") for f in self.outside]
        out += [
            f"WARNING version {v} is not PEP 440, so no pair with it is inside the window"
            for v in self.view.unreadable
            if self.view.window is not None
        ]
        count = len(self.blockers) + len(self.missing) + len(self.lost_capabilities)
        stale = f"; {len(self.warnings)} stale expectation(s) to clean" if self.warnings else ""
        verdict = f"BLOCKED by {count}" if self.blocked else "clear"
        out.append(f"release gate: {verdict}{stale}; {self.summary}; {stale_rule(self.allow_stale)}")
        return out


# The blockers' verdicts as the headline counts them (an expected-fail blocks only when expired).
_BLOCKER_NOUNS: tuple[tuple[Verdict, str], ...] = (
    (Verdict.FAIL, "break"),
    (Verdict.ERROR, "infrastructure error"),
    (Verdict.STALE, "stale expectation"),
    (Verdict.EXPECTED_FAIL, "expired expectation"),
)


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def stale_rule(allow_stale: bool) -> str:
    """The stale rule a decision applied, as the gate line and the reports name it."""
    return "stale expectations warn (--allow-stale)" if allow_stale else "stale expectations block"


def _expired(scenario: ScenarioResult, today: dt.date) -> str | None:
    """The expiry date of a declared expectation that has run out, else None."""
    expires = (scenario.expectation or {}).get("expires")
    if not expires:
        return None
    try:
        day = dt.date.fromisoformat(str(expires)[:10])
    except ValueError:
        return f"{expires} (unreadable date)"
    return str(expires) if day < today else None


def _today() -> dt.date:
    return dt.datetime.fromtimestamp(timing.wall_ns() / 1e9, tz=dt.UTC).date()


def _stale_why(scenario: ScenarioResult) -> str:
    return f"passed, but matrix.yaml declares {expectation_text(scenario)}; remove or narrow the expectation"


def evaluate(results: RunResults, window: SupportWindow | None = None, *, allow_stale: bool = False,
             removals: Sequence[Removal] | None = None) -> GateDecision:
    """The gate's decision over one (merged) run. ``removals``: the capability removals matrix.yaml
    declares (default: those the run stamped into its ``meta``)."""
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    summary = f"{len(results.cells)} cells, {len(scenarios)} scenarios: {counts_text(verdict_counts(scenarios))}"
    view = WindowView.over(
        window, (c.client_version for c in results.cells), (c.gateway_version for c in results.cells)
    )
    if not scenarios:
        return GateDecision(view, summary=summary, empty=True, allow_stale=allow_stale)
    today = _today()
    blockers: list[Finding] = []
    warnings: list[Finding] = []
    outside: list[Finding] = []
    declared: list[Finding] = []
    for cell in results.cells:
        inside = view.why_inside(cell.client_version, cell.gateway_version)
        for scenario in cell.scenarios:
            verdict = scenario.verdict
            if verdict is Verdict.STALE:
                (warnings if allow_stale else blockers).append(
                    Finding(cell, scenario, _stale_why(scenario), inside)
                )
            elif verdict in (Verdict.FAIL, Verdict.ERROR):
                finding = Finding(cell, scenario, scenario_reason(scenario), inside)
                (blockers if inside else outside).append(finding)
            elif verdict is Verdict.EXPECTED_FAIL and inside:
                expired = _expired(scenario, today)
                if expired:
                    why = f"expectation expired on {expired}: {expectation_text(scenario)}"
                    blockers.append(Finding(cell, scenario, why, inside))
                else:
                    declared.append(Finding(cell, scenario, f"declared {expectation_text(scenario)}", inside))
    return GateDecision(
        view,
        blockers=tuple(blockers),
        missing=tuple(_missing(results, view)),
        warnings=tuple(warnings),
        outside=tuple(outside),
        declared=tuple(declared),
        summary=summary,
        allow_stale=allow_stale,
        capabilities=tuple(capability_losses(results, removals)),
    )


def _missing(results: RunResults, view: WindowView) -> list[tuple[str, str, str, str]]:
    if view.window is None:
        return []
    ran = {(c.venue, c.client_version, c.gateway_version) for c in results.cells if c.scenarios}
    clients = sorted_versions(c.client_version for c in results.cells)
    gateways = sorted_versions(c.gateway_version for c in results.cells)
    found = []
    for venue in sorted({c.venue for c in results.cells}):
        for client in clients:
            for gateway in gateways:
                why = view.why_inside(client, gateway)
                if why and (venue, client, gateway) not in ran:
                    found.append((venue, client, gateway, why))
    return found


def gate(
    results: RunResults, window: SupportWindow | None = None, *, allow_stale: bool = False,
    removals: Sequence[Removal] | None = None,
) -> tuple[int, list[str]]:
    decision = evaluate(results, window, allow_stale=allow_stale, removals=removals)
    return decision.exit_code, decision.lines()


# --- can-i-deploy ---------------------------------------------------------------------------

# (client, gateway, venue) → (what decided it, e.g. "run 12 (release, 0123abc, …)", the cells)
Lookup = Callable[[str, str, str | None], tuple[str, list[CellResult]] | None]

_DEPLOY_BLOCKS = (Verdict.FAIL, Verdict.ERROR, Verdict.EXPECTED_FAIL)


@dataclass(frozen=True)
class Pair:
    client: str
    gateway: str
    venue: str | None  # None: any venue the stored run covered


@dataclass(frozen=True)
class Environment:
    name: str
    venues: Mapping[str, tuple[str, tuple[str, ...]]]  # venue → (gateway version, client versions)


@dataclass(frozen=True)
class Inventory:
    """What runs where (docs/history-and-gate.md): environments → venues → deployed versions."""

    path: str
    environments: Mapping[str, Environment] = field(default_factory=dict)

    def environment(self, name: str) -> Environment:
        if name not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none"
            raise ConfigError(f"{self.path}: no environment {name!r}; it lists: {known}")
        return self.environments[name]


def _version_text(value: object, where: str) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ConfigError(f'{where}: expected a version string, got {value!r}; quote versions in YAML ("1.10", not 1.10)')


def load_inventory(path: str | Path) -> Inventory:
    """Read ``inventory.yaml``: ``environments: {NAME: {VENUE: {gateway: V, clients: [V, ...]}}}``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read inventory {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("environments"), Mapping):
        raise ConfigError(f"{path}: expected a top-level 'environments:' mapping of environment → venues")
    environments = {}
    for name, venues in data["environments"].items():
        where = f"{path}: environments.{name}"
        if not isinstance(venues, Mapping) or not venues:
            raise ConfigError(f"{where}: expected a mapping of venue → {{gateway: V, clients: [V, ...]}}")
        parsed: dict[str, tuple[str, tuple[str, ...]]] = {}
        for venue, deployed in venues.items():
            at = f"{where}.{venue}"
            if not isinstance(deployed, Mapping) or "gateway" not in deployed:
                raise ConfigError(f"{at}: expected {{gateway: V, clients: [V, ...]}}")
            extra = sorted(str(k) for k in deployed if k not in ("gateway", "clients", "client"))
            if extra:
                raise ConfigError(f"{at}: unknown key {', '.join(extra)}; expected gateway and clients")
            raw = deployed.get("clients", deployed.get("client", []))
            raw_clients = raw if isinstance(raw, list) else [raw]
            clients = tuple(_version_text(c, f"{at}.clients") for c in raw_clients)
            parsed[str(venue)] = (_version_text(deployed["gateway"], f"{at}.gateway"), clients)
        environments[str(name)] = Environment(str(name), parsed)
    return Inventory(str(path), environments)


def deploy_pairs(inventory: Inventory, environment: str, role: str, version: str) -> list[Pair]:
    """The pairs a deployment creates: a gateway meets every client deployed on its venues; a
    client meets the gateway of every venue of the environment."""
    if role not in ("gateway", "client"):
        raise ConfigError(f"can-i-deploy: unknown role {role!r}; expected gateway or client")
    env = inventory.environment(environment)
    pairs = []
    for venue, (gateway, clients) in sorted(env.venues.items()):
        if role == "gateway":
            pairs += [Pair(client, version, venue) for client in clients]
        else:
            pairs.append(Pair(version, gateway, venue))
    if not pairs:
        raise ConfigError(
            f"{inventory.path}: environment {environment} deploys no client next to a gateway, so "
            f"deploying {role} {version} creates no pair to check"
        )
    return pairs


def can_i_deploy(lookup: Lookup, pairs: Sequence[Pair], subject: str) -> tuple[int, list[str]]:
    """Answer from the newest stored run of each pair: 0 yes, 1 no (a break, or never tested).

    ``subject`` names the question (``gateway 2.1.0 to production``). The lines are a
    verdict line and a table of the pairs that decided it."""
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    blocked = 0
    for pair in pairs:
        found = lookup(pair.client, pair.gateway, pair.venue)
        venue = pair.venue or "any"
        if found is None or not any(c.scenarios for c in found[1]):
            blocked += 1
            rows.append((venue, pair.client, pair.gateway, "NEVER TESTED", "-", "no stored run holds this pair"))
            continue
        evidence, cells = found
        scenarios = [(c, s) for c in cells for s in c.scenarios]
        problems = [(c, s) for c, s in scenarios if s.verdict in _DEPLOY_BLOCKS]
        venues = ", ".join(sorted({c.venue for c in cells}))
        verdict = worst([s.verdict for _, s in scenarios])
        counts = counts_text(verdict_counts(s for _, s in scenarios))
        if problems:
            blocked += 1
            _, scenario = problems[0]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            why = (
                f"declared {expectation_text(scenario)}"
                if scenario.verdict is Verdict.EXPECTED_FAIL
                else scenario_reason(scenario)
            )
            detail = f"{scenario.scenario}: {why}{more}"
            rows.append((venues, pair.client, pair.gateway, f"NO {verdict}", evidence, detail))
            notes += [f"  {s.verdict}: {c.cell_id} [{c.venue}] {s.scenario}: {scenario_reason(s)}" for c, s in problems]
        else:
            rows.append((venues, pair.client, pair.gateway, f"ok {verdict}", evidence, counts))
            notes += [
                f"  {s.verdict}: {c.cell_id} [{c.venue}] {s.scenario}: {scenario_reason(s)}"
                for c, s in scenarios
                if s.verdict in (Verdict.NA, Verdict.FLAKY, Verdict.STALE)
            ]
    answer = "no" if blocked else "yes"
    head = f"can-i-deploy {subject}: {answer}" + (
        f" ({blocked} of {len(pairs)} pairs not shown to work)" if blocked else f" ({len(pairs)} pairs work)"
    )
    table = _table(("venue", "client", "gateway", "verdict", "decided by", "detail"), rows)
    return (EXIT_BLOCKED if blocked else EXIT_OK), [head, *table, *notes]


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in (header, *rows)
    ]
