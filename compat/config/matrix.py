"""matrix.yaml → frozen values: products, where releases come from, policies, venues, expectations.

The schema is documented in ``docs/matrix-yaml.md``. Every problem in the file raises
``MatrixError("matrix.yaml:LINE: what was expected")``; nothing here lets a KeyError or a
traceback reach the user. Paths in the file are relative to the directory of the file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shlex
import string as _string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from yaml.nodes import Node, ScalarNode

from compat.config import yamlpos as y
from compat.config.cell import ROLES
from compat.config.expectations import KINDS, Expectation
from compat.config.versions import VersionPolicy
from compat.errors import MatrixError

__all__ = [
    "DEFAULT_READY_PATTERN",
    "HOST_ROLES",
    "PLACEHOLDERS",
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
    }
)
# Every long-running program prints one line like this (docs/contracts.md, "Ready lines").
DEFAULT_READY_PATTERN = r"^(?P<name>[A-Z]+) READY (?P<addrs>.*)$"
HOST_ROLES: tuple[str, ...] = ("exchange", "gateway", "client")
_HOST_SPEC = re.compile(
    r"^(local|netns:[A-Za-z0-9_.-]+|ssh:(?:[A-Za-z0-9_.-]+@)?[A-Za-z0-9_.-]+(?::\d{1,5})?)$"
)
_VENUE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_TOP_KEYS = ("schema", "products", "index", "versions", "lock", "venues", "hosts", "expectations", "settings")
_PRODUCT_KEYS = ("package", "source", "launch", "adapter", "ready")
_LAUNCH_KEYS = ("versions", "argv")
_INDEX_KEYS = ("find_links", "url")
_POLICY_KEYS = ("list", "specifier", "latest_minors", "candidate", "include_yanked")
_LOCK_KEYS = ("path", "reuse")
_EXPECTATION_KEYS = ("client", "gateway", "venue", "scenario", "expect", "reason", "ticket", "expires")
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


@dataclass(frozen=True)
class Product:
    role: str  # "gateway" | "client"
    package: str
    source: Path  # the working tree the candidate is built from
    launch: tuple[LaunchTemplate, ...]
    adapter: Path | None  # client only: compat_adapter.py beside the product
    ready_pattern: str | None  # regex of the ready line; None: DEFAULT_READY_PATTERN
    line: int = 0
    origin: str = "matrix.yaml"

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
        top = y.mapping(self.src, node, "the top level", _TOP_KEYS, required=("products", "venues"))
        schema = top.get("schema")
        if schema is not None and y.integer(self.src, schema, "schema") != SCHEMA_VERSION:
            raise self.src.error(
                schema, f"schema must be {SCHEMA_VERSION} (the only version this compat reads)"
            )
        products = self.products(top.require("products"))
        venues = self.venues(top.require("venues"))
        policies = self.policies(top.get("versions"))
        return Matrix(
            path=path.resolve(),
            root=self.root,
            products=MappingProxyType(products),
            index=self.index(top.get("index")),
            policies=MappingProxyType(policies),
            venues=venues,
            expectations=self.expectations(top.get("expectations"), venues),
            hosts=MappingProxyType(self.hosts(top.get("hosts"))),
            settings=MappingProxyType(self.settings(top.get("settings"))),
            lock=self.lock(top.get("lock")),
            sha256=sha256,
        )

    # --- products -----------------------------------------------------------------------
    def products(self, node: Node) -> dict[str, Product]:
        section = y.mapping(self.src, node, "products", ROLES, required=ROLES)
        return {role: self.product(role, section.require(role)) for role in ROLES}

    def product(self, role: str, node: Node) -> Product:
        what = f"products.{role}"
        required = ("package", "source", "launch") if role == "gateway" else ("package", "source", "adapter")
        fields = y.mapping(self.src, node, what, _PRODUCT_KEYS, required=required)
        package = y.string(self.src, fields.require("package"), f"{what}.package")
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", package):
            raise self.src.error(
                fields.require("package"), f"{what}.package {package!r} is not a distribution name"
            )
        launch_node = fields.get("launch")
        launch = self.launch(launch_node, f"{what}.launch") if launch_node is not None else ()
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
            try:
                re.compile(ready)
            except re.error as exc:
                raise self.src.error(
                    fields.get("ready"), f"{what}.ready is not a valid regex: {exc}"
                ) from None
        return Product(
            role=role,
            package=package,
            source=self.path(fields.require("source"), f"{what}.source"),
            launch=launch,
            adapter=adapter,
            ready_pattern=ready,
            line=fields.first_line,
            origin=self.src.label,
        )

    def launch(self, node: Node, what: str) -> tuple[LaunchTemplate, ...]:
        items = y.sequence(self.src, node, what)
        if not items:
            raise self.src.error(node, f"{what} must list at least one template ({{versions, argv}})")
        return tuple(self.template(item, f"{what}[{i}]") for i, item in enumerate(items))

    def template(self, node: Node, what: str) -> LaunchTemplate:
        fields = y.mapping(self.src, node, what, _LAUNCH_KEYS, required=("argv",))
        versions_node = fields.get("versions")
        versions = (
            self.specifier(versions_node, f"{what}.versions") if versions_node is not None else SpecifierSet()
        )
        argv_node = fields.require("argv")
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
            self.check_placeholders(arg, arg_node, f"{what}.argv")
        return LaunchTemplate(versions=versions, argv=tuple(a for a, _ in args), line=fields.first_line)

    def check_placeholders(self, arg: str, node: Node, what: str) -> None:
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
                    + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS)),
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

    def policies(self, node: Node | None) -> dict[str, VersionPolicy]:
        if node is None:
            return {role: VersionPolicy(kind="all") for role in ROLES}
        section = y.mapping(self.src, node, "versions", ROLES)
        result: dict[str, VersionPolicy] = {}
        for role in ROLES:
            policy_node = section.get(role)
            result[role] = (
                VersionPolicy(kind="all") if policy_node is None else self.policy(policy_node, role)
            )
        return result

    def policy(self, node: Node, role: str) -> VersionPolicy:
        what = f"versions.{role}"
        fields = y.mapping(self.src, node, what, _POLICY_KEYS)
        kinds = [k for k in ("list", "specifier", "latest_minors") if k in fields]
        if len(kinds) > 1:
            raise self.src.error(
                node, f"{what} takes one of list, specifier or latest_minors, got {' and '.join(kinds)}"
            )
        candidate_node = fields.get("candidate")
        yanked_node = fields.get("include_yanked")
        common: dict[str, Any] = {
            "candidate": True
            if candidate_node is None
            else y.boolean(self.src, candidate_node, f"{what}.candidate"),
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

    def venues(self, node: Node) -> tuple[str, ...]:
        items = y.string_list(self.src, node, "venues")
        if not items:
            raise self.src.error(node, "venues must name at least one venue, e.g. [obx, tlx]")
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
        client_node, gateway_node = fields.get("client"), fields.get("gateway")
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
        )


def _glob_matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


def _field_names(arg: str) -> list[str]:
    return [name for _, name, _, _ in _string.Formatter().parse(arg) if name is not None]
