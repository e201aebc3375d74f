"""The architecture is checked by a machine: import-linter's contracts in pyproject.toml (layers,
pytest only under compat.plugin, subprocess only in compat.harness.command, no cycles, products
never importing compat), and the products' files outside their packages (the adapter)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT_SOURCES = (ROOT / "gateways" / "refgw" / "src", ROOT / "clients" / "refclient" / "src")


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint_imports).exists():
        pytest.skip("lint-imports is missing: install compat with the dev extra (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in PRODUCT_SOURCES)}
    outcome = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
    assert outcome.returncode == 0, outcome.stdout[-4000:] + outcome.stderr[-2000:]
    assert "0 broken" in outcome.stdout
    assert "Contracts: 5 kept" in outcome.stdout, outcome.stdout[-2000:]


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_product_file_imports_compat() -> None:
    """Also the files import-linter cannot see: adapters and scripts outside the packages."""
    files = sorted((ROOT / "gateways").rglob("*.py")) + sorted((ROOT / "clients").rglob("*.py"))
    assert any(f.name == "compat_adapter.py" for f in files)
    offenders = [str(f.relative_to(ROOT)) for f in files if "compat" in _imported_roots(f)]
    assert offenders == []
