"""matrix.yaml → frozen values: products, the exchange, where releases come from, policies, venues, expectations.

The schema is documented in ``docs/matrix-yaml.md``. Every problem in the file raises
``MatrixError("matrix.yaml:LINE: what was expected")``; nothing here lets a KeyError or a
traceback reach the user. Paths in the file are relative to the directory of the file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shlex
import signal as _signal
import string as _string
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from yaml.nodes import MappingNode, Node, ScalarNode

from compat.config import yamlpos as y
from compat.config.bench import BenchSpec, read_bench
from compat.config.cell import ROLES
from compat.config.expectations import FAILURE_KEYS, KINDS, Expectation, FailurePattern
from compat.config.known_issues import FINDINGS, KnownIssue
from compat.config.removals import Removal
from compat.config.swaps import DIRECTIONS, SwapRule
from compat.config.versions import VersionPolicy
from compat.errors import MatrixError

__all__ = [
    "BUILTIN_VENUES",
    "DEFAULT_EXCHANGE_READY_PATTERN",
    "DEFAULT_READY_PATTERN",
    "EXCHANGE_PLACEHOLDERS",
    "HOST_ROLES",
    "PLACEHOLDERS",
    "SIMULATOR_PLACEHOLDERS",
    "ExchangeSpec",
    "IndexSpec",
    "LaunchTemplate",
    "LockSpec",
    "Matrix",
    "Product",
    "VersionPolicy",
    "load_matrix",
]

# What a launch template may refer to; the stack fills these in when it starts a process.
PLACEHOLDERS: Mapping[str, str] = MappingProxyType(
    {
        "python": "the python of the release's venv",
        "bin": "the bin/ directory of the release's venv (console scripts live here)",
        "venv": "the root directory of the release's venv",
        "version": "the release's version",
        "venue": "the venue of the cell (obx, tlx, ...)",
        "exchange_host": "host of the simulated exchange's port for this venue",
        "exchange_port": "port of the simulated exchange for this venue",
        "listen_host": "host the gateway binds its client port on",
        "listen_port": "port the gateway binds (0: let the OS choose, report it on the ready line)",
        "journal": "path of the gateway's session journal (kept across a live version swap)",
        "auth": "path of the credentials file the gateway authenticates sessions against",
        "exchange": "host:port of the simulated exchange for this venue (both of the above)",
        "log_dir": "the directory of the cell's process logs",
        "workdir": "a per-process working directory",
        "matrix_dir": "the directory matrix.yaml is in (for paths relative to it)",
    }
)
# The placeholders only an exchange can fill: with `exchange: none` a template using them is an error.
EXCHANGE_PLACEHOLDERS: frozenset[str] = frozenset({"exchange", "exchange_host", "exchange_port"})
# What an own simulator's argv and env may use (no exchange upstream; a venv only when it is
# run from its own wheel: `exchange.package`).
SIMULATOR_PLACEHOLDERS: frozenset[str] = frozenset(
    {"matrix_dir", "listen_host", "listen_port", "log_dir", "workdir", "venue"}
)
SIMULATOR_VENV_PLACEHOLDERS: frozenset[str] = frozenset({"python", "bin", "venv", "version"})
# What a client's env may use (the driver's argv is compat's own, not a template).
_CLIENT_ENV_PLACEHOLDERS: frozenset[str] = frozenset(
    {"matrix_dir", "log_dir", "python", "bin", "venv", "version", "venue"}
)
# The launch contract (docs/matrix-yaml.md, "Launch contract"): the gateway's default ready line.
# `GATEWAY READY client=127.0.0.1:40003` (space-separated key=host:port pairs in `addrs`; the
# client address is the `client=` one) or a bare `READY 127.0.0.1:40003` (groups `host`, `port`);
# an IPv6 host is written in brackets, `[::1]:40003`.
DEFAULT_READY_PATTERN = (
    r"^(?:GATEWAY )?READY (?:(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s=:\[\]]+):(?P<port>\d+)|(?P<addrs>\S+=.*?))\s*$"
)
# An own simulator's default ready line: `EXCHANGE READY obx=127.0.0.1:40001 tlx=127.0.0.1:40002`.
DEFAULT_EXCHANGE_READY_PATTERN = r"^(?:EXCHANGE )?READY (?P<addrs>\S+=.*?)\s*$"
# The venues compat's built-in simulated exchange serves (compat/exchange/server.py).
BUILTIN_VENUES: tuple[str, ...] = ("obx", "tlx")
EXCHANGE_KINDS: tuple[str, ...] = ("builtin", "none")  # the scalar forms; a mapping is an own simulator
HOST_ROLES: tuple[str, ...] = ("exchange", "gateway", "client")
_HOST_SPEC = re.compile(
    r"^(local|netns:[A-Za-z0-9_.-]+|ssh:(?:[A-Za-z0-9_.-]+@)?[A-Za-z0-9_.-]+(?::\d{1,5})?)$"
)
_VENUE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_TOP_KEYS = (
    "schema", "products", "exchange", "index", "versions", "lock", "venues", "hosts", "expectations", "known_issues",
    "settings", "swaps", "removed_capabilities", "bench",
)
_PRODUCT_KEYS = ("package", "source", "launch", "adapter", "ready", "env", "stop", "stop_grace_s")
_SIMULATOR_KEYS = ("argv", "venues", "ready", "env", "stop", "stop_grace_s", "package", "version")
_LAUNCH_KEYS = ("versions", "argv")
_INDEX_KEYS = ("find_links", "url")
_POLICY_KEYS = ("list", "specifier", "latest_minors", "candidate", "include_yanked")
_LOCK_KEYS = ("path", "reuse")
_EXPECTATION_KEYS = ("client", "gateway", "from", "to", "venue", "scenario", "expect", "reason", "ticket", "expires",
                     "fails_with")
_KNOWN_ISSUE_KEYS = (*ROLES, "finding", "reason", "ticket")
_SWAP_KEYS = ("between", "minors", "directions")
_SWAP_KINDS = ("adjacent_releases", "adjacent_minors", "candidate")
_REMOVAL_KEYS = ("client", "gateway", "capability", "reason", "ticket")
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LaunchTemplate:
    """The argv that starts a product for the versions in ``versions`` (old releases keep old CLIs)."""

    versions: SpecifierSet
    argv: tuple[str, ...]
    line: int

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(name for arg in self.argv for name in _field_names(arg))

    def render(self, values: Mapping[str, object]) -> tuple[str, ...]:
        """The argv with ``{placeholders}`` filled in from ``values``."""
        missing = sorted(self.placeholders - set(values))
        if missing:
            raise MatrixError(
                "matrix.yaml",
                self.line,
                f"launch template needs {', '.join(missing)} but the caller gave only "
                f"{', '.join(sorted(values)) or 'nothing'}",
            )
        return tuple(arg.format_map({k: str(v) for k, v in values.items()}) for arg in self.argv)


def render_env(env: Mapping[str, str], values: Mapping[str, object]) -> dict[str, str]:
    """``env:`` of matrix.yaml with its ``{placeholders}`` filled in (checked at load time)."""
    filled = {k: str(v) for k, v in values.items()}
    return {name: value.format_map(filled) for name, value in env.items()}


@dataclass(frozen=True)
class Product:
    role: str  # "gateway" | "client"
    package: str
    source: Path | None  # the working tree the candidate is built from; None: no candidate (released wheels only)
    launch: tuple[LaunchTemplate, ...]
    adapter: Path | None  # client only: compat_adapter.py beside the product
    ready_pattern: str | None  # regex of the ready line; None: DEFAULT_READY_PATTERN
    line: int = 0
    origin: str = "matrix.yaml"
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # extra variables
    stop: tuple[str, ...] = ()  # signal names (TERM, KILL); (): the default INT → TERM → KILL
    stop_grace_s: float | None = None  # between stop steps; None: settings.stop_grace_s

    @property
    def ready(self) -> str:
        return self.ready_pattern or DEFAULT_READY_PATTERN

    def launch_for(self, version: str) -> LaunchTemplate:
        """The first launch template whose range holds ``version``."""
        try:
            parsed = Version(version)
        except InvalidVersion:
            raise MatrixError(self.origin, self.line, f"{version!r} is not a PEP 440 version") from None
        for template in self.launch:
            if template.versions.contains(parsed, prereleases=True):
                return template
        covered = "; ".join(f"{t.versions or '*'} (line {t.line})" for t in self.launch) or "none"
        raise MatrixError(
            self.origin,
            self.launch[0].line if self.launch else self.line,
            f"no launch template of {self.role} {self.package} matches version {version}; the templates "
            f"cover: {covered}. Add an entry to products.{self.role}.launch whose versions include {version}",
        )


@dataclass(frozen=True)
class ExchangeSpec:
    """The exchange role of a cell: compat's built-in simulated exchange, the firm's own
    simulator (a command launched per cell), or none (no exchange process, no link proxy)."""

    kind: str = "builtin"  # "builtin" | "command" | "none"
    venues: tuple[str, ...] = BUILTIN_VENUES  # the venues it serves; () for none
    launch: LaunchTemplate | None = None  # command only
    ready_pattern: str = DEFAULT_EXCHANGE_READY_PATTERN  # command only
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    stop: tuple[str, ...] = ()  # (): the default INT → TERM → KILL
    stop_grace_s: float | None = None
    line: int = 0
    # A simulator released as a wheel: run from its own venv, the newest release of `package`
    # in the matrix's index that `version` admits (one version for the whole run, not a dimension).
    package: str | None = None
    version: SpecifierSet = field(default_factory=SpecifierSet)

    @property
    def runs(self) -> bool:
        """Whether a cell starts an exchange process at all."""
        return self.kind != "none"

    @property
    def builtin(self) -> bool:
        return self.kind == "builtin"

    def describe(self) -> str:
        return {"builtin": "the built-in exchange", "none": "no exchange (exchange: none)"}.get(
            self.kind, "the simulator of matrix.yaml's exchange section"
        )


@dataclass(frozen=True)
class IndexSpec:
    """Where released wheels come from: a find-links directory or a PEP 503 simple index URL."""

    find_links: Path | None
    url: str | None

    def describe(self) -> str:
        return f"index {self.url}" if self.url else f"find-links directory {self.find_links}"


@dataclass(frozen=True)
class LockSpec:
    """The resolved-versions lock: where it lives and whether a matching one is reused."""

    path: Path
    reuse: bool = True


@dataclass(frozen=True)
class Matrix:
    path: Path
    root: Path  # directory of the file; relative paths in it are relative to this
    products: Mapping[str, Product]
    index: IndexSpec
    policies: Mapping[str, VersionPolicy]
    venues: tuple[str, ...]
    expectations: tuple[Expectation, ...]
    hosts: Mapping[str, str]
    settings: Mapping[str, Any]
    lock: LockSpec = field(default_factory=lambda: LockSpec(Path("compat.lock.json")))
    sha256: str = ""  # of the file's bytes
    exchange: ExchangeSpec = field(default_factory=ExchangeSpec)
    known_issues: tuple[KnownIssue, ...] = ()  # findings of released versions declared known
    swaps: tuple[SwapRule, ...] = ()  # which live gateway swaps run; () is the default rule (compat.config.swaps)
    removals: tuple[Removal, ...] = ()  # declared capability removals (compat.config.removals)
    bench: BenchSpec = field(default_factory=BenchSpec)  # what `compat bench --gate` fails on

    def without_candidates(self) -> Matrix:
        """The same matrix with every role's candidate switched off (``--compat-no-candidate``)."""
        policies = {role: replace(policy, candidate=False) for role, policy in self.policies.items()}
        return replace(self, policies=MappingProxyType(policies))


def _label(path: Path) -> str:
    """How the file is named in errors: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_matrix(path: Path) -> Matrix:
    """Read and validate ``path``. Raises ``MatrixError`` naming file:line and what was expected."""
    src = y.Source(_label(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MatrixError(src.label, None, f"cannot read the matrix file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MatrixError(src.label, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    node = src.compose(text)
    if node is None:
        raise src.error(1, f"the file is empty; expected a mapping with keys {', '.join(_TOP_KEYS)}")
    return _Reader(src, path.resolve().parent).matrix(node, path, hashlib.sha256(data).hexdigest())


class _Reader:
    def __init__(self, src: y.Source, root: Path) -> None:
        self.src = src
        self.root = root

    def path(self, node: Node, what: str) -> Path:
        return (self.root / y.string(self.src, node, what)).resolve()

    def matrix(self, node: Node, path: Path, sha256: str) -> Matrix:
        top = y.mapping(self.src, node, "the top level", _TOP_KEYS, required=("products",))
        schema = top.get("schema")
        if schema is not None and y.integer(self.src, schema, "schema") != SCHEMA_VERSION:
            raise self.src.error(
                schema, f"schema must be {SCHEMA_VERSION} (the only version this compat reads)"
            )
        exchange = self.exchange(top.get("exchange"))
        products = self.products(top.require("products"), exchange)
        venues_node = top.get("venues")
        venues = exchange.venues if venues_node is None else self.venues(venues_node, exchange)
        policies = self.policies(top.get("versions"), products)
        return Matrix(
            path=path.resolve(),
            root=self.root,
            products=MappingProxyType(products),
            index=self.index(top.get("index")),
            policies=MappingProxyType(policies),
            venues=venues,
            expectations=self.expectations(top.get("expectations"), venues),
            known_issues=self.known_issues(top.get("known_issues")),
            hosts=MappingProxyType(self.hosts(top.get("hosts"))),
            settings=MappingProxyType(self.settings(top.get("settings"))),
            lock=self.lock(top.get("lock")),
            sha256=sha256,
            exchange=exchange,
            swaps=self.swaps(top.get("swaps")),
            removals=self.removals(top.get("removed_capabilities")),
            bench=read_bench(self.src, top.get("bench")),
        )

    # --- products -----------------------------------------------------------------------
    def products(self, node: Node, exchange: ExchangeSpec) -> dict[str, Product]:
        section = y.mapping(self.src, node, "products", ROLES, required=ROLES)
        return {role: self.product(role, section.require(role), exchange) for role in ROLES}

    def product(self, role: str, node: Node, exchange: ExchangeSpec) -> Product:
        what = f"products.{role}"
        required = ("package", "launch") if role == "gateway" else ("package", "adapter")
        fields = y.mapping(self.src, node, what, _PRODUCT_KEYS, required=required)
        package = y.string(self.src, fields.require("package"), f"{what}.package")
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", package):
            raise self.src.error(
                fields.require("package"), f"{what}.package {package!r} is not a distribution name"
            )
        allowed = PLACEHOLDERS.keys() - (set() if exchange.runs else EXCHANGE_PLACEHOLDERS)
        refused = "" if exchange.runs else "matrix.yaml says exchange: none, so no exchange address exists"
        launch_node = fields.get("launch")
        launch = (
            self.launch(launch_node, f"{what}.launch", allowed, refused) if launch_node is not None else ()
        )
        env_allowed = allowed if role == "gateway" else _CLIENT_ENV_PLACEHOLDERS
        env = self.env(fields.get("env"), f"{what}.env", env_allowed, refused or f"not known to a {role}'s env")
        adapter: Path | None = None
        adapter_node = fields.get("adapter")
        if adapter_node is not None:
            adapter = self.path(adapter_node, f"{what}.adapter")
            if not adapter.is_file():
                raise self.src.error(
                    adapter_node,
                    f"{what}.adapter {adapter} is not a file; expected the adapter "
                    "module beside the product (e.g. clients/refclient/compat_adapter.py)",
                )
        ready = y.optional_string(self.src, fields.get("ready"), f"{what}.ready")
        if ready is not None:
            groups = self.regex(fields.require("ready"), ready, f"{what}.ready")
            if role == "gateway" and "addrs" not in groups and not {"host", "port"} <= groups:
                raise self.src.error(
                    fields.require("ready"),
                    f"{what}.ready has no group for the client address: name a group addrs "
                    "(client=host:port pairs) or two groups host and port (docs/matrix-yaml.md, Launch contract)",
                )
        stop, stop_grace_s = self.stop(fields, what)
        return Product(
            role=role,
            package=package,
            source=None if (source_node := fields.get("source")) is None else self.path(source_node, f"{what}.source"),
            launch=launch,
            adapter=adapter,
            ready_pattern=ready,
            line=fields.first_line,
            origin=self.src.label,
            env=MappingProxyType(env),
            stop=stop,
            stop_grace_s=stop_grace_s,
        )

    def regex(self, node: Node, pattern: str, what: str) -> frozenset[str]:
        """Compile ``pattern`` (a MatrixError at ``node`` when it does not); its named groups."""
        try:
            return frozenset(re.compile(pattern).groupindex)
        except re.error as exc:
            raise self.src.error(node, f"{what} is not a valid regex: {exc}") from None

    def env(self, node: Node | None, what: str, allowed: Collection[str], refused: str) -> dict[str, str]:
        """``env: {NAME: value}``: extra environment variables; values may use placeholders."""
        if node is None or y.is_null(node):
            return {}
        env: dict[str, str] = {}
        for entry in y.mapping(self.src, node, what):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", entry.key):
                raise self.src.error(entry.value, f"{what}: {entry.key!r} is not an environment variable name")
            if not isinstance(entry.value, ScalarNode) or y.is_null(entry.value):
                raise self.src.error(entry.value, f"{what}.{entry.key} must be a string, got {y.describe(entry.value)}")
            value = str(entry.value.value)
            self.check_placeholders(value, entry.value, f"{what}.{entry.key}", allowed, refused)
            env[entry.key] = value
        return env

    def stop(self, fields: y.Fields, what: str) -> tuple[tuple[str, ...], float | None]:
        """``stop: [TERM, KILL]`` (signal names, checked here) and ``stop_grace_s: 2``."""
        names: list[str] = []
        stop_node = fields.get("stop")
        if stop_node is not None:
            items = y.string_list(self.src, stop_node, f"{what}.stop")
            if not items:
                raise self.src.error(stop_node, f"{what}.stop must name at least one signal, e.g. [TERM, KILL]")
            for text, item in items:
                name = text.strip().upper().removeprefix("SIG")
                if name in ("STOP", "CONT") or f"SIG{name}" not in _signal.Signals.__members__:
                    raise self.src.error(
                        item,
                        f"{what}.stop: {text!r} is not a signal a stop sequence can send; "
                        "expected names like INT, TERM, HUP, QUIT, USR1, KILL",
                    )
                if name in names:
                    raise self.src.error(item, f"{what}.stop lists {name} twice")
                names.append(name)
        grace_node = fields.get("stop_grace_s")
        grace: float | None = None
        if grace_node is not None:
            value = y.plain(grace_node)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise self.src.error(
                    grace_node,
                    f"{what}.stop_grace_s must be a positive number of seconds, got {y.describe(grace_node)}",
                )
            grace = float(value)
        return tuple(names), grace

    # --- the exchange ---------------------------------------------------------------------
    def exchange(self, node: Node | None) -> ExchangeSpec:
        """``exchange: builtin`` (the default), ``exchange: none`` or a mapping: an own simulator."""
        if node is None:
            return ExchangeSpec()
        if isinstance(node, ScalarNode):
            kind = y.string(self.src, node, "exchange")
            if kind not in EXCHANGE_KINDS:
                raise self.src.error(
                    node,
                    f"exchange must be builtin, none or a mapping describing your own simulator "
                    f"(argv, venues, ready, ...), got {kind!r}",
                )
            if kind == "none":
                return ExchangeSpec(kind="none", venues=(), line=y.line_of(node))
            return ExchangeSpec(line=y.line_of(node))
        what = "exchange"
        fields = y.mapping(self.src, node, what, _SIMULATOR_KEYS, required=("argv", "venues"))
        package_node, version_node = fields.get("package"), fields.get("version")
        package = None if package_node is None else y.string(self.src, package_node, f"{what}.package")
        if package is not None and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", package):
            raise self.src.error(package_node or node, f"{what}.package {package!r} is not a distribution name")
        if version_node is not None and package is None:
            raise self.src.error(version_node, f"{what}.version needs {what}.package: the simulator's distribution")
        version = SpecifierSet() if version_node is None else self.specifier(version_node, f"{what}.version")
        allowed = SIMULATOR_PLACEHOLDERS | (SIMULATOR_VENV_PLACEHOLDERS if package else frozenset())
        unknown = ("not known to an exchange simulator" if package else
                   "not known to an exchange simulator without a venv: set exchange.package to run it from its wheel")
        template = self.argv_template(
            fields.require("argv"), what, SpecifierSet(), fields.first_line, allowed, unknown,
        )
        venues = self.venue_names(fields.require("venues"), f"{what}.venues", allow_empty=False)
        ready = y.optional_string(self.src, fields.get("ready"), f"{what}.ready")
        pattern = DEFAULT_EXCHANGE_READY_PATTERN if ready is None else ready
        groups = self.regex(fields.get("ready") or node, pattern, f"{what}.ready")
        single = len(venues) == 1 and {"host", "port"} <= groups
        missing = [v for v in venues if v not in groups]
        if "addrs" not in groups and not single and missing:
            raise self.src.error(
                fields.get("ready") or node,
                f"{what}.ready must carry one address per venue: a group addrs with venue=host:port pairs, "
                f"or a group named after each venue holding host:port (missing: {', '.join(missing)})"
                + (", or groups host and port for its one venue" if len(venues) == 1 else ""),
            )
        stop, grace = self.stop(fields, what)
        return ExchangeSpec(
            kind="command",
            venues=venues,
            launch=template,
            ready_pattern=pattern,
            env=MappingProxyType(self.env(fields.get("env"), f"{what}.env", allowed, unknown)),
            stop=stop,
            stop_grace_s=grace,
            line=fields.first_line,
            package=package,
            version=version,
        )

    def launch(
        self, node: Node, what: str, allowed: Collection[str] = PLACEHOLDERS.keys(), refused: str = ""
    ) -> tuple[LaunchTemplate, ...]:
        items = y.sequence(self.src, node, what)
        if not items:
            raise self.src.error(node, f"{what} must list at least one template ({{versions, argv}})")
        return tuple(self.template(item, f"{what}[{i}]", allowed, refused) for i, item in enumerate(items))

    def template(self, node: Node, what: str, allowed: Collection[str], refused: str) -> LaunchTemplate:
        fields = y.mapping(self.src, node, what, _LAUNCH_KEYS, required=("argv",))
        versions_node = fields.get("versions")
        versions = (
            self.specifier(versions_node, f"{what}.versions") if versions_node is not None else SpecifierSet()
        )
        return self.argv_template(fields.require("argv"), what, versions, fields.first_line, allowed, refused)

    def argv_template(
        self, argv_node: Node, what: str, versions: SpecifierSet, line: int, allowed: Collection[str], refused: str
    ) -> LaunchTemplate:
        if isinstance(argv_node, ScalarNode):
            text = y.string(self.src, argv_node, f"{what}.argv")
            try:
                args: list[tuple[str, Node]] = [(arg, argv_node) for arg in shlex.split(text)]
            except ValueError as exc:
                raise self.src.error(
                    argv_node, f"{what}.argv cannot be split like a shell line: {exc}"
                ) from None
        else:
            args = y.string_list(self.src, argv_node, f"{what}.argv")
        if not args:
            raise self.src.error(argv_node, f"{what}.argv must name at least the program to run")
        for arg, arg_node in args:
            self.check_placeholders(arg, arg_node, f"{what}.argv", allowed, refused)
        return LaunchTemplate(versions=versions, argv=tuple(a for a, _ in args), line=line)

    def check_placeholders(
        self, arg: str, node: Node, what: str, allowed: Collection[str] = PLACEHOLDERS.keys(), refused: str = ""
    ) -> None:
        try:
            parsed = list(_string.Formatter().parse(arg))
        except ValueError as exc:
            raise self.src.error(
                node,
                f"{what} entry {arg!r} has unbalanced braces ({exc}); write {{{{ and }}}} for literal braces",
            ) from None
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in PLACEHOLDERS:
                raise self.src.error(
                    node,
                    f"{what} uses unknown placeholder {{{name}}}; known placeholders: "
                    + ", ".join("{" + p + "}" for p in sorted(allowed)),
                )
            if name not in allowed:
                raise self.src.error(
                    node,
                    f"{what} uses placeholder {{{name}}}, which cannot be filled here ({refused}); "
                    "usable here: " + ", ".join("{" + p + "}" for p in sorted(allowed)),
                )
            if spec or conversion:
                raise self.src.error(
                    node, f"{what} placeholder {{{name}}} must be plain, without !conversion or :format"
                )

    # --- where versions come from, and which ------------------------------------------------
    def index(self, node: Node | None) -> IndexSpec:
        if node is None:
            return IndexSpec(find_links=(self.root / "wheelhouse").resolve(), url=None)
        fields = y.mapping(self.src, node, "index", _INDEX_KEYS)
        find_links_node, url_node = fields.get("find_links"), fields.get("url")
        if find_links_node is not None and url_node is not None:
            raise self.src.error(
                node, "index takes either find_links (a directory) or url (a PEP 503 simple index), not both"
            )
        if url_node is not None:
            url = y.string(self.src, url_node, "index.url")
            if not re.match(r"^(https?|file)://", url):
                raise self.src.error(url_node, f"index.url must be an http(s):// or file:// URL, got {url!r}")
            return IndexSpec(find_links=None, url=url.rstrip("/") + "/")
        if find_links_node is not None:
            return IndexSpec(find_links=self.path(find_links_node, "index.find_links"), url=None)
        return IndexSpec(find_links=(self.root / "wheelhouse").resolve(), url=None)

    def policies(self, node: Node | None, products: Mapping[str, Product]) -> dict[str, VersionPolicy]:
        if node is None:
            return {role: VersionPolicy(kind="all", candidate=products[role].source is not None) for role in ROLES}
        section = y.mapping(self.src, node, "versions", ROLES)
        result: dict[str, VersionPolicy] = {}
        for role in ROLES:
            policy_node = section.get(role)
            has_source = products[role].source is not None
            result[role] = (
                VersionPolicy(kind="all", candidate=has_source) if policy_node is None
                else self.policy(policy_node, role, has_source)
            )
        return result

    def policy(self, node: Node, role: str, has_source: bool = True) -> VersionPolicy:
        """A role's version policy. Without ``products.ROLE.source`` there is nothing to build a
        candidate from: the candidate defaults to off, and ``candidate: true`` is an error."""
        what = f"versions.{role}"
        fields = y.mapping(self.src, node, what, _POLICY_KEYS)
        kinds = [k for k in ("list", "specifier", "latest_minors") if k in fields]
        if len(kinds) > 1:
            raise self.src.error(
                node, f"{what} takes one of list, specifier or latest_minors, got {' and '.join(kinds)}"
            )
        candidate_node = fields.get("candidate")
        yanked_node = fields.get("include_yanked")
        candidate = has_source if candidate_node is None else y.boolean(self.src, candidate_node, f"{what}.candidate")
        if candidate and not has_source:
            assert candidate_node is not None
            raise self.src.error(
                candidate_node, f"{what}.candidate is true, but products.{role} has no source to build it from: "
                f"add products.{role}.source, set candidate: false, or give a wheel with "
                f"--compat-candidate {role}=path/to.whl")
        common: dict[str, Any] = {
            "candidate": candidate,
            "include_yanked": False
            if yanked_node is None
            else y.boolean(self.src, yanked_node, f"{what}.include_yanked"),
            "line": fields.first_line,
        }
        if not kinds:
            return VersionPolicy(kind="all", **common)
        kind = kinds[0]
        value = fields.require(kind)
        if kind == "list":
            versions = [
                self.version(text, item, f"{what}.list")
                for text, item in y.string_list(self.src, value, f"{what}.list")
            ]
            return VersionPolicy(kind="list", versions=tuple(versions), **common)
        if kind == "specifier":
            return VersionPolicy(
                kind="specifier", specifier=self.specifier(value, f"{what}.specifier"), **common
            )
        count = y.integer(self.src, value, f"{what}.latest_minors", minimum=1)
        return VersionPolicy(kind="latest_minors", last_n_minors=count, **common)

    def version(self, text: str, node: Node, what: str) -> str:
        try:
            return str(Version(text))
        except InvalidVersion:
            raise self.src.error(
                node, f"{what} entry {text!r} is not a PEP 440 version (e.g. 2.1.0)"
            ) from None

    def specifier(self, node: Node, what: str) -> SpecifierSet:
        """A PEP 440 specifier; ``*`` means any version and a bare ``2.1.0`` means ``==2.1.0``."""
        text = y.string(self.src, node, what).strip()
        if text == "*":
            return SpecifierSet()
        try:
            return SpecifierSet(f"=={Version(text)}")
        except InvalidVersion:
            pass
        try:
            return SpecifierSet(text)
        except InvalidSpecifier:
            raise self.src.error(
                node,
                f"{what} {text!r} is not a version specifier; expected e.g. '>=1.1,<3', '==2.0.*', "
                "'2.1.0' or '*'",
            ) from None

    # --- the rest ---------------------------------------------------------------------------
    def lock(self, node: Node | None) -> LockSpec:
        default = (self.root / "compat.lock.json").resolve()
        if node is None:
            return LockSpec(path=default)
        fields = y.mapping(self.src, node, "lock", _LOCK_KEYS)
        path_node, reuse_node = fields.get("path"), fields.get("reuse")
        return LockSpec(
            path=default if path_node is None else self.path(path_node, "lock.path"),
            reuse=True if reuse_node is None else y.boolean(self.src, reuse_node, "lock.reuse"),
        )

    def venues(self, node: Node, exchange: ExchangeSpec) -> tuple[str, ...]:
        """The cells' venues: each must be one the exchange serves (any name with exchange: none)."""
        if y.is_null(node) and not exchange.runs:
            return ()
        venues = self.venue_names(node, "venues", allow_empty=not exchange.runs)
        if exchange.runs:
            for (name, item) in y.string_list(self.src, node, "venues"):
                if name not in exchange.venues:
                    raise self.src.error(
                        item,
                        f"venue {name!r} is not served by {exchange.describe()}, which provides "
                        f"{', '.join(exchange.venues)}",
                    )
        return venues

    def venue_names(self, node: Node, what: str, *, allow_empty: bool) -> tuple[str, ...]:
        items = y.string_list(self.src, node, what)
        if not items and not allow_empty:
            raise self.src.error(node, f"{what} must name at least one venue, e.g. [obx, tlx]")
        seen: list[str] = []
        for name, item in items:
            if not _VENUE_NAME.match(name):
                raise self.src.error(
                    item, f"venue {name!r} must be a lower-case name like obx (it appears in test ids)"
                )
            if name in seen:
                raise self.src.error(item, f"venue {name!r} is listed twice")
            seen.append(name)
        return tuple(seen)

    def hosts(self, node: Node | None) -> dict[str, str]:
        hosts = dict.fromkeys(HOST_ROLES, "local")
        if node is None:
            return hosts
        for entry in y.mapping(self.src, node, "hosts", HOST_ROLES):
            spec = y.string(self.src, entry.value, f"hosts.{entry.key}")
            if not _HOST_SPEC.match(spec):
                raise self.src.error(
                    entry.value,
                    f"hosts.{entry.key} {spec!r} is not a host; expected local, "
                    "netns:NAME or ssh:user@host[:port]",
                )
            hosts[entry.key] = spec
        return hosts

    def settings(self, node: Node | None) -> dict[str, Any]:
        if node is None:
            return {}
        y.mapping(self.src, node, "settings")  # any keys, but it must be a mapping of names
        value = y.plain(node)
        return dict(value) if isinstance(value, dict) else {}

    def expectations(self, node: Node | None, venues: tuple[str, ...]) -> tuple[Expectation, ...]:
        if node is None or y.is_null(node):
            return ()
        return tuple(
            self.expectation(item, f"expectations[{i}]", venues)
            for i, item in enumerate(y.sequence(self.src, node, "expectations"))
        )

    def expectation(self, node: Node, what: str, venues: tuple[str, ...]) -> Expectation:
        fields = y.mapping(self.src, node, what, _EXPECTATION_KEYS, required=("expect", "reason"))
        expect_node = fields.require("expect")
        kind = y.string(self.src, expect_node, f"{what}.expect")
        if kind not in KINDS:
            raise self.src.error(
                expect_node, f"{what}.expect must be one of {', '.join(KINDS)}, got {kind!r}"
            )
        venue_node = fields.get("venue")
        venue = "*" if venue_node is None else y.string(self.src, venue_node, f"{what}.venue")
        if venue_node is not None and not any(_glob_matches(v, venue) for v in venues):
            raise self.src.error(
                venue_node, f"{what}.venue {venue!r} matches none of the venues ({', '.join(venues)})"
            )
        scenario_node = fields.get("scenario")
        expires_node = fields.get("expires")
        if kind == "unsupported" and expires_node is not None:
            raise self.src.error(
                expires_node,
                f"{what}: an unsupported pairing does not expire; expires is only for expect: incompatible",
            )
        fails_node = fields.get("fails_with")
        if kind != "incompatible" and fails_node is not None:
            raise self.src.error(
                fails_node, f"{what}: fails_with says how a pair fails; it is only for expect: incompatible"
            )
        client_node, gateway_node = fields.get("client"), fields.get("gateway")
        from_node, to_node = fields.get("from"), fields.get("to")
        return Expectation(
            client=SpecifierSet() if client_node is None else self.specifier(client_node, f"{what}.client"),
            gateway=SpecifierSet()
            if gateway_node is None
            else self.specifier(gateway_node, f"{what}.gateway"),
            venue=venue,
            scenario="*" if scenario_node is None else y.string(self.src, scenario_node, f"{what}.scenario"),
            kind=kind,
            reason=y.string(self.src, fields.require("reason"), f"{what}.reason"),
            ticket=y.optional_string(self.src, fields.get("ticket"), f"{what}.ticket"),
            expires=None if expires_node is None else y.date(self.src, expires_node, f"{what}.expires"),
            line=fields.first_line,
            swap_from=None if from_node is None else self.specifier(from_node, f"{what}.from"),
            swap_to=None if to_node is None else self.specifier(to_node, f"{what}.to"),
            fails_with=() if fails_node is None else self.failure_patterns(fails_node, f"{what}.fails_with"),
        )

    # --- live swaps and capability removals ----------------------------------------------------
    def swaps(self, node: Node | None) -> tuple[SwapRule, ...]:
        if node is None or y.is_null(node):
            return ()
        items = y.sequence(self.src, node, "swaps")
        if not items:
            raise self.src.error(node, "swaps must list at least one rule, e.g. - between: adjacent_releases "
                                 "(leave the key out for that default)")
        return tuple(self.swap_rule(item, f"swaps[{i}]") for i, item in enumerate(items))

    def swap_rule(self, node: Node, what: str) -> SwapRule:
        fields = y.mapping(self.src, node, what, _SWAP_KEYS, required=("between",))
        between = fields.require("between")
        minors_node, directions_node = fields.get("minors"), fields.get("directions")
        directions = DIRECTIONS
        if directions_node is not None:
            named = y.string_list(self.src, directions_node, f"{what}.directions")
            for name, item in named:
                if name not in DIRECTIONS:
                    raise self.src.error(item, f"{what}.directions: {name!r} is not one of {', '.join(DIRECTIONS)}")
            if not named:
                raise self.src.error(directions_node, f"{what}.directions must name upgrade, downgrade or both")
            directions = tuple(d for d in DIRECTIONS if d in {name for name, _ in named})
        if isinstance(between, ScalarNode):
            kind = y.string(self.src, between, f"{what}.between")
            if kind not in _SWAP_KINDS:
                raise self.src.error(between, f"{what}.between must be one of {', '.join(_SWAP_KINDS)} or a pair "
                                     f"of versions like [\"2.1.0\", \"3.0.0\"], got {kind!r}")
            if minors_node is not None and kind != "candidate":
                raise self.src.error(minors_node, f"{what}.minors applies to between: candidate only")
            minors = None if minors_node is None else y.integer(self.src, minors_node, f"{what}.minors", minimum=1)
            return SwapRule(kind, minors=minors, directions=directions, line=fields.first_line)
        names = y.string_list(self.src, between, f"{what}.between")
        if len(names) != 2 or names[0][0] == names[1][0]:
            raise self.src.error(between, f"{what}.between: a pair names two different versions "
                                 "(or candidate), e.g. [\"2.1.0\", \"3.0.0\"]")
        for name, item in names:
            if name != "candidate":
                self.version(name, item, f"{what}.between")
        if minors_node is not None:
            raise self.src.error(minors_node, f"{what}.minors applies to between: candidate only")
        return SwapRule("pair", pair=(names[0][0], names[1][0]), directions=directions, line=fields.first_line)

    def removals(self, node: Node | None) -> tuple[Removal, ...]:
        if node is None or y.is_null(node):
            return ()
        return tuple(self.removal(item, f"removed_capabilities[{i}]")
                     for i, item in enumerate(y.sequence(self.src, node, "removed_capabilities")))

    def removal(self, node: Node, what: str) -> Removal:
        fields = y.mapping(self.src, node, what, _REMOVAL_KEYS, required=("capability", "reason"))
        given = [role for role in ("client", "gateway") if role in fields]
        if len(given) != 1:
            raise self.src.error(node, f"{what} names the product that dropped the capability: exactly one of "
                                 f"client: VERSION or gateway: VERSION (got {' and '.join(given) or 'neither'})")
        role = given[0]
        role_node = fields.require(role)
        return Removal(
            role=role,
            versions=self.specifier(role_node, f"{what}.{role}"),
            capability=y.string(self.src, fields.require("capability"), f"{what}.capability"),
            reason=y.string(self.src, fields.require("reason"), f"{what}.reason"),
            ticket=y.optional_string(self.src, fields.get("ticket"), f"{what}.ticket"),
            line=fields.first_line,
        )


    def known_issues(self, node: Node | None) -> tuple[KnownIssue, ...]:
        if node is None or y.is_null(node):
            return ()
        return tuple(
            self.known_issue(item, f"known_issues[{i}]")
            for i, item in enumerate(y.sequence(self.src, node, "known_issues"))
        )

    def known_issue(self, node: Node, what: str) -> KnownIssue:
        fields = y.mapping(self.src, node, what, _KNOWN_ISSUE_KEYS, required=("finding", "reason"))
        named = [role for role in ROLES if role in fields]
        if len(named) != 1:
            raise self.src.error(
                node,
                f"{what} must name exactly one product role with its released versions, e.g. "
                f"client: '>=2.0,<3.1' (a known issue belongs to one product); got "
                + (" and ".join(named) if named else "none of " + ", ".join(ROLES)),
            )
        role = named[0]
        finding_node = fields.require("finding")
        finding = y.string(self.src, finding_node, f"{what}.finding")
        if finding not in FINDINGS:
            raise self.src.error(
                finding_node, f"{what}.finding must be one of {', '.join(FINDINGS)}, got {finding!r}"
            )
        reason = y.string(self.src, fields.require("reason"), f"{what}.reason")
        return KnownIssue(
            role=role,
            versions=self.specifier(fields.require(role), f"{what}.{role}"),
            finding=finding,
            reason=reason,
            ticket=y.optional_string(self.src, fields.get("ticket"), f"{what}.ticket"),
            line=fields.first_line,
            source=self.src.label,
        )

    def failure_patterns(self, node: Node, what: str) -> tuple[FailurePattern, ...]:
        """``fails_with``: one pattern (a mapping) or a list of them, any of which may match."""
        items = [(node, what)] if isinstance(node, MappingNode) else [
            (item, f"{what}[{i}]") for i, item in enumerate(y.sequence(self.src, node, what))]
        if not items:
            raise self.src.error(node, f"{what} is an empty list; give at least one pattern or leave it out")
        return tuple(self.failure_pattern(item, item_what) for item, item_what in items)

    def failure_pattern(self, node: Node, what: str) -> FailurePattern:
        fields = y.mapping(self.src, node, what, FAILURE_KEYS)
        values = {entry.key: y.string(self.src, entry.value, f"{what}.{entry.key}") for entry in fields}
        if not values:
            raise self.src.error(node, f"{what} is empty; give at least one of {', '.join(FAILURE_KEYS)}")
        message = values.get("message")
        if message is not None:
            try:
                re.compile(message)
            except re.error as exc:
                raise self.src.error(fields.require("message"),
                                     f"{what}.message {message!r} is not a regular expression: {exc}") from None
        return FailurePattern(**values)


def _glob_matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


def _field_names(arg: str) -> list[str]:
    return [name for _, name, _, _ in _string.Formatter().parse(arg) if name is not None]
