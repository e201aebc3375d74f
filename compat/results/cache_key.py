"""The key of one (cell, scenario) result in the verdict cache: everything that could change it.

A cached verdict is reused only when nothing that could change it has changed, so the key is
the sha256 of a canonical JSON of its *ingredients*, gathered in three parts by how often they
change (each computed once and reused: per process, per cell, per scenario module):

- **run** (``run_ingredients``): compat's own source (every file of the installed package),
  the Python version and implementation, the platform, pytest's version, pytest's ini options
  (``filterwarnings``, ``xfail_strict``...) and the run options that change a verdict (link
  delay and jitter, reruns, the benchmark);
- **cell** (``cell_ingredients``): the sha256 of both wheels (a candidate's changes with every
  source edit), the venue, the exchange implementation (the built-in one's source, or the
  wheel and launch contract of the firm's simulator), both products' launch contract (every
  launch template, ready pattern, env, stop sequence) and the client adapter's source with the
  modules it imports beside it, the matrix settings with the content of every file they name
  (instruments, auth), and the host spec of each role;
- **scenario** (``scenario_ingredients``): the scenario's name with its parameters
  (``price_exact_fill[FLT-0.3]``), its module and every module it imports from the test tree
  (transitively, ``module_closure``), the ``conftest.py`` files above it, and the expectation
  rule of matrix.yaml that decides the (cell, scenario) (first match; its line is left out, so
  a rule moving down the file does not rerun what it covers).

Some inputs are known only once the scenario ran: a live upgrade or downgrade swaps the
gateway to *another* release, and which one depends on the plan's gateway order. Those are the
result's ``Deps`` (recorded by the ``compat`` fixture, checked at lookup by ``deps_hold``): a
cached result whose swap target's wheel changed (the released cell whose live upgrade swaps to
the candidate) or whose gateway order changed is not reused.

Third-party dependencies a product's env resolves from an index (protobuf for refgw) are *not*
in the key: the env is keyed by the product's wheel (``compat.artifacts.envs``). A release run
is fresh by default; ``--compat-fresh`` reruns everything (docs/ci-shards.md, "Verdict cache").

Pure but for reading files; no pytest here (``compat.plugin.cache`` gathers the inputs).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import platform
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat.config.cell import Cell, Release
from compat.config.matrix import ExchangeSpec, Matrix, Product

# Bumped when the ingredients or their shape change: every key of an older compat misses.
KEY_VERSION = 1
DEPS = "compat_deps"  # user_properties key: the Deps the compat fixture recorded (JSON)
CACHED = "compat_cached"  # user_properties key of a replayed report: where it came from (JSON)

_SKIPPED_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def digest(value: object) -> str:
    """The sha256 of ``value``'s canonical JSON (sorted keys, no whitespace; str() of the rest)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes; ``missing`` when it cannot be read (a key still forms,
    and changes again once the file is back)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def tree_digest(root: Path) -> str:
    """The sha256 of every file under ``root`` (relative path and bytes), caches and bytecode left out."""
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _SKIPPED_DIRS for part in relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        hasher.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


_COMPAT_PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def compat_source_digest() -> str:
    """Every file of the compat package this process runs (plugin, harness, driver, exchange...)."""
    return tree_digest(_COMPAT_PACKAGE)


# --- run ---------------------------------------------------------------------------------


def run_ingredients(options: Mapping[str, object], ini: Mapping[str, object], pytest_version: str) -> dict[str, Any]:
    """What every result of this process shares: compat, Python, platform, pytest and the
    options of the run that can change a verdict (``options``, named by the caller)."""
    return {
        "compat_source": compat_source_digest(),
        "python": [platform.python_implementation(), platform.python_version()],
        "platform": sysconfig.get_platform(),
        "byteorder": sys.byteorder,
        "pytest": pytest_version,
        "ini": {name: ini[name] for name in sorted(ini)},
        "options": {name: options[name] for name in sorted(options)},
    }


# --- cell --------------------------------------------------------------------------------


def _release(release: Release) -> dict[str, Any]:
    return {"package": release.package, "version": release.version, "label": release.label,
            "sha256": release.sha256}


def product_ingredients(product: Product) -> dict[str, Any]:
    """A product's launch contract and adapter: how each of its versions is started and driven."""
    adapter: dict[str, str] | None = None
    if product.adapter is not None:
        adapter = module_closure(product.adapter, [product.adapter.parent], product.adapter.parent)
    return {
        "package": product.package,
        "launch": [[str(t.versions), list(t.argv)] for t in product.launch],
        "ready": product.ready,
        "env": dict(product.env),
        "stop": list(product.stop),
        "stop_grace_s": product.stop_grace_s,
        "adapter": adapter,
    }


def exchange_ingredients(spec: ExchangeSpec, simulator: Release | None) -> dict[str, Any] | None:
    """The exchange implementation: the built-in one's source, or the firm's simulator run from
    its wheel with its launch contract; None when it cannot be fingerprinted (a simulator
    command not given as a wheel: compat cannot see when it changes, so nothing is cached)."""
    if spec.kind == "none":
        return {"kind": "none"}
    if spec.builtin:
        return {"kind": "builtin", "source": tree_digest(_COMPAT_PACKAGE / "exchange")}
    if simulator is None:
        return None
    return {
        "kind": spec.kind,
        "wheel": _release(simulator),
        "argv": list(spec.launch.argv) if spec.launch is not None else None,
        "ready": spec.ready_pattern,
        "env": dict(spec.env),
        "stop": list(spec.stop),
        "stop_grace_s": spec.stop_grace_s,
        "venues": list(spec.venues),
    }


def settings_ingredients(matrix: Matrix) -> dict[str, Any]:
    """``settings:`` of matrix.yaml, with the content of every file a setting names (the
    instruments and auth reference files: a changed symbol or user changes verdicts)."""
    files: dict[str, str] = {}
    for name, value in sorted(matrix.settings.items()):
        if isinstance(value, str) and value:
            path = matrix.root / value
            if path.is_file():
                files[name] = file_digest(path)
    return {"values": dict(matrix.settings), "files": files}


def matrix_ingredients(matrix: Matrix, simulator: Release | None, hosts: Mapping[str, str]) -> dict[str, Any] | None:
    """What every cell of a matrix shares (exchange, products, settings, hosts); None when its
    exchange cannot be fingerprinted. Computed once per process: it reads the exchange's source
    and the adapters' import closures."""
    exchange = exchange_ingredients(matrix.exchange, simulator)
    if exchange is None:
        return None
    return {
        "exchange": exchange,
        "products": {role: product_ingredients(product) for role, product in sorted(matrix.products.items())},
        "settings": settings_ingredients(matrix),
        "hosts": {role: hosts[role] for role in sorted(hosts)},
    }


def cell_part(shared: Mapping[str, Any], cell: Cell) -> dict[str, Any]:
    """One cell's ingredients: its two releases and venue on top of the matrix's ``shared`` ones."""
    return {"client": _release(cell.client), "gateway": _release(cell.gateway), "venue": cell.venue, **shared}


def cell_ingredients(matrix: Matrix, cell: Cell, simulator: Release | None,
                     hosts: Mapping[str, str]) -> dict[str, Any] | None:
    """What one cell's results share; None when its exchange cannot be fingerprinted."""
    shared = matrix_ingredients(matrix, simulator, hosts)
    return None if shared is None else cell_part(shared, cell)


# --- scenario ----------------------------------------------------------------------------


def _imported_names(tree: ast.AST) -> Iterable[tuple[int, str, tuple[str, ...]]]:
    """(level, module, names) of every import in a module, at any depth (an import inside a
    function runs too): ``from .a import b`` is (1, "a", ("b",)), ``import x.y`` (0, "x.y", ())."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", tuple(alias.name for alias in node.names)


def _module_file(base: Path, dotted: str) -> Path | None:
    if not dotted:
        init = base / "__init__.py"
        return init if init.is_file() else None
    parts = dotted.split(".")
    for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _resolve(importer: Path, level: int, module: str, names: tuple[str, ...],
             bases: Sequence[Path]) -> list[Path]:
    """The files of the test tree an import statement may execute: the module, its parent
    packages' ``__init__.py`` and, for ``from m import n``, a submodule ``m.n``."""
    if level:
        anchor = importer.parent
        for _ in range(level - 1):
            anchor = anchor.parent
        roots = [anchor]
    else:
        roots = list(bases)
    found: list[Path] = []
    for root in roots:
        parts = module.split(".") if module else []
        dotted = [".".join(parts[:n]) for n in range(1, len(parts) + 1)] or [""]
        hits = [path for name in dotted if (path := _module_file(root, name)) is not None]
        hits += [path for name in names if (path := _module_file(root, ".".join([*parts, name]))) is not None]
        if hits:
            found.extend(hits)
            if not level:
                break  # the first base that holds the module is the one Python would import
    return found


def module_closure(path: Path, bases: Sequence[Path], root: Path) -> dict[str, str]:
    """``path`` and every module it imports (transitively) found under one of ``bases`` and
    inside ``root``, as relative path → sha256. Modules outside (compat, the stdlib, site
    packages) are not followed: compat is keyed by its whole source, the rest by the run."""
    root = root.resolve()
    package = _COMPAT_PACKAGE
    found: dict[str, str] = {}
    pending = [path.resolve()]
    while pending:
        current = pending.pop()
        if not current.is_relative_to(root) or (current.is_relative_to(package) and current != path.resolve()):
            continue
        relative = current.relative_to(root).as_posix()
        if relative in found:
            continue
        try:
            data = current.read_bytes()
        except OSError:
            found[relative] = "missing"
            continue
        found[relative] = hashlib.sha256(data).hexdigest()
        try:
            tree = ast.parse(data, filename=str(current))
        except (SyntaxError, ValueError):
            continue  # the bytes are keyed; the run reports the syntax error itself
        # The package a module is in runs its __init__.py first (and so on up).
        package_init = (current.parent.parent if current.name == "__init__.py" else current.parent) / "__init__.py"
        if package_init.is_file():
            pending.append(package_init.resolve())
        for level, module, names in _imported_names(tree):
            pending.extend(p.resolve() for p in _resolve(current, level, module, names, bases))
    return dict(sorted(found.items()))


def scenario_ingredients(test_file: Path, root: Path, bases: Sequence[Path], scenario: str,
                         expectation: Mapping[str, Any] | None,
                         file_part: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One scenario in one cell: its name with parameters, its sources and its expectation
    (``file_part``: the module's ``file_ingredients``, when the caller already has them)."""
    return {
        "scenario": scenario,
        **(file_part if file_part is not None else file_ingredients(test_file, root, bases)),
        "expectation": {k: v for k, v in (expectation or {}).items() if k != "line"} or None,
    }


def file_ingredients(test_file: Path, root: Path, bases: Sequence[Path]) -> dict[str, str]:
    """A scenario module's part of its scenarios' keys: its path under ``root`` and its sources."""
    resolved, top = test_file.resolve(), root.resolve()
    return {"file": resolved.relative_to(top).as_posix() if resolved.is_relative_to(top) else test_file.name,
            "sources": sources_digest(test_file, root, bases)}


@functools.cache
def _sources_digest(test_file: Path, root: Path, bases: tuple[Path, ...]) -> str:
    modules = module_closure(test_file, bases, root)
    folder = test_file.resolve().parent
    for directory in (folder, *folder.parents):
        conftest = directory / "conftest.py"
        if conftest.is_file():
            modules.update(module_closure(conftest, bases, root))
        if directory == root.resolve():
            break
    return digest(modules)


def sources_digest(test_file: Path, root: Path, bases: Sequence[Path]) -> str:
    """The digest of a scenario module's closure and the conftest.py files from its folder up
    to ``root``, computed once per file and process (a module is imported once per run too)."""
    return _sources_digest(test_file.resolve(), root.resolve(), tuple(p.resolve() for p in bases))


def import_bases(test_file: Path, root: Path, pythonpath: Iterable[Path] = ()) -> list[Path]:
    """Where an absolute import of a test module is looked for: its folder and each folder up to
    ``root`` (pytest puts one of them on sys.path), the ini ``pythonpath`` entries, ``root``."""
    folder = test_file.resolve().parent
    root = root.resolve()
    chain = [folder]
    for parent in folder.parents:
        if not parent.is_relative_to(root):
            break
        chain.append(parent)
    return list(dict.fromkeys([*chain, *(Path(p).resolve() for p in pythonpath), root]))


# --- the key and the deps ----------------------------------------------------------------


def result_key(run: Mapping[str, Any], cell: Mapping[str, Any], scenario: Mapping[str, Any]) -> str:
    """The cache key of one (cell, scenario) result."""
    return digest({"key_version": KEY_VERSION, "run": run, "cell": cell, "scenario": scenario})


@dataclass(frozen=True)
class Deps:
    """Inputs a result turned out to depend on while it ran (``compat`` fixture records them).

    ``swapped_to``: (label, wheel sha256) of each gateway release a live swap started;
    ``gateway_order``: the plan's gateway labels in order, when the scenario looked at them
    (``Scenario.neighbour_gateway``, ``Scenario.gateway_releases``); None when it did not."""

    swapped_to: tuple[tuple[str, str], ...] = ()
    gateway_order: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"swapped_to": [list(pair) for pair in self.swapped_to],
                "gateway_order": list(self.gateway_order) if self.gateway_order is not None else None}

    @staticmethod
    def from_dict(data: Mapping[str, Any] | None) -> Deps:
        if not data:
            return Deps()
        order = data.get("gateway_order")
        return Deps(swapped_to=tuple((str(label), str(sha)) for label, sha in data.get("swapped_to", ())),
                    gateway_order=tuple(str(label) for label in order) if order is not None else None)


def deps_hold(deps: Deps, gateways: Sequence[Release]) -> bool:
    """Whether a cached result's deps still hold in this plan: every release it swapped to is in
    the plan with the same wheel, and the gateway order it looked at is the same."""
    current = {release.label: release.sha256 for release in gateways}
    if any(current.get(label) != sha for label, sha in deps.swapped_to):
        return False
    return deps.gateway_order is None or deps.gateway_order == tuple(r.label for r in gateways)
