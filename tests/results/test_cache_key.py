"""The verdict cache's key: each ingredient, changed alone, changes the key (the cell runs again);
what cannot change a verdict (a rule's line, an unrelated file) does not."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compat.config.cell import Cell, Release
from compat.config.matrix import load_matrix
from compat.results import cache_key
from compat.results.cache_key import (
    Deps,
    cell_ingredients,
    deps_hold,
    import_bases,
    module_closure,
    result_key,
    run_ingredients,
    scenario_ingredients,
)

MATRIX = textwrap.dedent("""\
    schema: 1
    products:
      gateway:
        package: refgw
        ready: '^GATEWAY READY (?P<addrs>.*)$'
        launch:
          - versions: "<2.0"
            argv: "{bin}/refgw --port 0 --exchange {exchange}"
          - versions: ">=2.0"
            argv: "{bin}/refgw --listen {listen_host}:0 --exchange {exchange}"
        env: {REFGW_MODE: strict}
      client:
        package: refclient
        adapter: adapter/compat_adapter.py
    index:
      find_links: wheels
    venues: [obx, tlx]
    settings:
      start_timeout_s: 20
      instruments: reference/instruments.yaml
      auth: reference/auth.json
    expectations: []
""")

SCENARIO = textwrap.dedent("""\
    import pytest
    from compat import Scenario
    from helpers import LIMIT
    from .shared import orders

    def test_insert(compat: Scenario) -> None:
        from helpers_late import late
""")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "matrix.yaml").write_text(MATRIX)
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "compat_adapter.py").write_text("from adapter_ops import OPS\n")
    (tmp_path / "adapter" / "adapter_ops.py").write_text("OPS = {}\n")
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "instruments.yaml").write_text("instruments: []\n")
    (tmp_path / "reference" / "auth.json").write_text('{"users": {}}\n')
    (tmp_path / "wheels").mkdir()
    scenarios = tmp_path / "tests" / "compat"
    scenarios.mkdir(parents=True)
    (scenarios / "__init__.py").write_text("")
    (scenarios / "test_orders.py").write_text(SCENARIO)
    (scenarios / "helpers.py").write_text("from helpers_deep import DEEP\nLIMIT = 7\n")
    (scenarios / "helpers_deep.py").write_text("DEEP = 1\n")
    (scenarios / "helpers_late.py").write_text("def late(): ...\n")
    (scenarios / "shared.py").write_text("orders = []\n")
    (scenarios / "unrelated.py").write_text("x = 1\n")
    (tmp_path / "tests" / "conftest.py").write_text("import pytest\n")
    return tmp_path


def release(role: str, version: str, sha: str = "a" * 64, *, candidate: bool = False) -> Release:
    package = "refgw" if role == "gateway" else "refclient"
    return Release(role, package, version, Path(f"wheels/{package}-{version}.whl"), sha, candidate=candidate)


CELL = Cell(client=release("client", "2.0.0"), gateway=release("gateway", "3.0.0", "b" * 64), venue="obx")
HOSTS = {"exchange": "local", "gateway": "local", "client": "local"}
EXPECTATION = {"kind": "incompatible", "reason": "G1 drops it", "ticket": None, "expires": None, "line": 30}


def key(tree: Path, *, cell: Cell = CELL, hosts: dict[str, str] | None = None, scenario: str = "insert",
        expectation: dict[str, Any] | None = None, options: dict[str, object] | None = None) -> str:
    """The key of (cell, scenario) with everything read from ``tree`` now."""
    cache_key._sources_digest.cache_clear()  # a process reads each module once; these tests edit them
    cache_key.compat_source_digest.cache_clear()
    matrix = load_matrix(tree / "matrix.yaml")
    test_file = tree / "tests" / "compat" / "test_orders.py"
    cell_part = cell_ingredients(matrix, cell, None, hosts or HOSTS)
    assert cell_part is not None
    scenario_part = scenario_ingredients(test_file, tree, import_bases(test_file, tree), scenario, expectation)
    run_part = run_ingredients(options or {"link_delay_ms": 0.0}, {"xfail_strict": "true"}, "9.0.0")
    return result_key(run_part, cell_part, scenario_part)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def test_the_same_inputs_give_the_same_key(tree: Path) -> None:
    assert key(tree) == key(tree)
    (tree / "tests" / "compat" / "unrelated.py").write_text("x = 2\n")  # imported by nothing
    (tree / "wheels" / "README").write_text("not read\n")
    assert key(tree) == key(tree, expectation=None)


# Each (name, change) edits one ingredient; the key must change.
FILE_EDITS: dict[str, Callable[[Path], object]] = {
    "the scenario's module": lambda t: edit(t / "tests/compat/test_orders.py", "-> None:", "-> None:  # edited"),
    "a module it imports": lambda t: edit(t / "tests/compat/helpers.py", "LIMIT = 7", "LIMIT = 8"),
    "a module imported by what it imports": lambda t: edit(t / "tests/compat/helpers_deep.py", "1", "2"),
    "a module imported inside a function": lambda t: edit(t / "tests/compat/helpers_late.py", "...", "pass"),
    "a relative import": lambda t: edit(t / "tests/compat/shared.py", "[]", "[1]"),
    "its package's __init__": lambda t: (t / "tests/compat/__init__.py").write_text("# package\n"),
    "a conftest.py above it": lambda t: edit(t / "tests/conftest.py", "import pytest", "import pytest, os"),
    "the client adapter": lambda t: edit(t / "adapter/compat_adapter.py", "import OPS", "import OPS  # v2"),
    "a module beside the adapter": lambda t: edit(t / "adapter/adapter_ops.py", "{}", "{'amend': 1}"),
    "the instruments file": lambda t: edit(t / "reference/instruments.yaml", "[]", "[{symbol: ABC001}]"),
    "the auth file": lambda t: edit(t / "reference/auth.json", "{}", '{"u0001": "secret"}'),
    "a matrix setting": lambda t: edit(t / "matrix.yaml", "start_timeout_s: 20", "start_timeout_s: 21"),
    "a launch template": lambda t: edit(t / "matrix.yaml", "--listen {listen_host}:0", "--listen {listen_host}:0 -v"),
    "a launch template of another version": lambda t: edit(t / "matrix.yaml", "--port 0", "--port 0 -v"),
    "the ready pattern": lambda t: edit(t / "matrix.yaml", "GATEWAY READY", "GW READY"),
    "a product's env": lambda t: edit(t / "matrix.yaml", "REFGW_MODE: strict", "REFGW_MODE: lax"),
}


@pytest.mark.parametrize("name", sorted(FILE_EDITS))
def test_each_file_ingredient_changes_the_key(tree: Path, name: str) -> None:
    before = key(tree)
    FILE_EDITS[name](tree)
    assert key(tree) != before, f"{name} changed, yet the key did not"


VALUE_CHANGES: dict[str, dict[str, Any]] = {
    "the client wheel": {"cell": replace(CELL, client=release("client", "2.0.0", "c" * 64))},
    "the gateway wheel (a rebuilt candidate)": {"cell": replace(CELL, gateway=release("gateway", "3.0.0", "d" * 64))},
    "the gateway version": {"cell": replace(CELL, gateway=release("gateway", "3.1.0", "b" * 64))},
    "a candidate of the same wheel": {"cell": replace(CELL, gateway=release("gateway", "3.0.0", "b" * 64,
                                                                              candidate=True))},
    "the venue": {"cell": replace(CELL, venue="tlx")},
    "a host spec": {"hosts": {**HOSTS, "gateway": "netns:gw"}},
    "the scenario's parameters": {"scenario": "insert[FLT-0.3]"},
    "the expectation that decides it": {"expectation": EXPECTATION},
    "the expectation's reason": {"expectation": {**EXPECTATION, "reason": "G1 drops it, and more"}},
    "a run option that changes verdicts": {"options": {"link_delay_ms": 20.0}},
}


@pytest.mark.parametrize("name", sorted(VALUE_CHANGES))
def test_each_value_ingredient_changes_the_key(tree: Path, name: str) -> None:
    base: dict[str, Any] = {"expectation": EXPECTATION} if "expectation's" in name else {}
    assert key(tree, **VALUE_CHANGES[name]) != key(tree, **base), name


def test_a_rule_moving_down_the_file_keeps_the_key(tree: Path) -> None:
    assert key(tree, expectation={**EXPECTATION, "line": 31}) == key(tree, expectation=EXPECTATION)


def test_python_platform_and_compat_itself_change_the_key(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    before = key(tree)
    with monkeypatch.context() as patch:
        patch.setattr("platform.python_version", lambda: "3.11.99")
        assert key(tree) != before
    with monkeypatch.context() as patch:
        patch.setattr("sysconfig.get_platform", lambda: "macosx-14.0-arm64")
        assert key(tree) != before
    # compat's own source and the built-in exchange's: a copy of the package, edited.
    package = tmp_path_factory.mktemp("compat-copy") / "compat"
    shutil.copytree(cache_key._COMPAT_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache_key, "_COMPAT_PACKAGE", package)
    copied = key(tree)
    assert copied == before, "the same bytes elsewhere are the same compat"
    edit(package / "report" / "terminal.py", '"""', '"""edited: ', )
    assert key(tree) != copied
    edited = key(tree)
    edit(package / "exchange" / "engine.py", '"""', '"""edited: ')
    assert key(tree) != edited


def test_an_own_simulator_is_keyed_by_its_wheel_or_not_cached(tree: Path) -> None:
    text = (tree / "matrix.yaml").read_text().replace("venues: [obx, tlx]\n", textwrap.dedent("""\
        exchange:
          argv: "{bin}/mysim --port 0"
          package: mysim
          venues: [obx]
        """))
    (tree / "matrix.yaml").write_text(text)
    matrix = load_matrix(tree / "matrix.yaml")
    simulator = Release("exchange", "mysim", "1.0.0", Path("mysim-1.0.0.whl"), "e" * 64)
    one = cell_ingredients(matrix, CELL, simulator, HOSTS)
    other = cell_ingredients(matrix, CELL, replace(simulator, sha256="f" * 64), HOSTS)
    assert one is not None and other is not None and cache_key.digest(one) != cache_key.digest(other)
    assert cell_ingredients(matrix, CELL, None, HOSTS) is None, "a simulator command compat cannot see change"


def test_module_closure_follows_the_test_tree_only(tree: Path) -> None:
    test_file = tree / "tests" / "compat" / "test_orders.py"
    closure = module_closure(test_file, import_bases(test_file, tree), tree)
    assert set(closure) == {f"tests/compat/{name}.py" for name in
                            ("test_orders", "helpers", "helpers_deep", "helpers_late", "shared", "__init__")}
    # Not followed: pytest (not in the tree), compat (keyed by its whole source), a module outside root.
    assert not any("pytest" in name or name.startswith("compat/") for name in closure)
    outside = module_closure(cache_key._COMPAT_PACKAGE / "timing.py", [cache_key._COMPAT_PACKAGE.parent], tree)
    assert outside == {}
    broken = tree / "tests" / "compat" / "test_broken.py"
    broken.write_text("def test_x(:\n")
    assert set(module_closure(broken, import_bases(broken, tree), tree)) == {"tests/compat/test_broken.py"}


GATEWAYS = (release("gateway", "2.0.0", "1" * 64), release("gateway", "3.0.0", "2" * 64),
            release("gateway", "3.1.0.dev0", "3" * 64, candidate=True))


def test_deps_hold_while_the_swap_target_and_the_gateway_order_stay() -> None:
    candidate = GATEWAYS[2]
    swapped = Deps(swapped_to=((candidate.label, candidate.sha256),), gateway_order=tuple(r.label for r in GATEWAYS))
    assert deps_hold(swapped, GATEWAYS) and deps_hold(Deps(), GATEWAYS)
    rebuilt = (*GATEWAYS[:2], replace(candidate, sha256="4" * 64))
    assert not deps_hold(swapped, rebuilt), "the candidate a released cell swaps to changed: rerun it"
    assert not deps_hold(swapped, GATEWAYS[:2]), "the release it swapped to left the plan"
    inserted = (GATEWAYS[0], release("gateway", "2.5.0", "5" * 64), *GATEWAYS[1:])
    assert not deps_hold(Deps(gateway_order=tuple(r.label for r in GATEWAYS)), inserted), "a new neighbour"
    assert deps_hold(Deps(swapped_to=((candidate.label, candidate.sha256),)), inserted), "order not read"
    assert Deps.from_dict(swapped.to_dict()) == swapped and Deps.from_dict(None) == Deps()
