"""`compat release`: refuses to overwrite a released version, records yanks (builder faked)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from compat.artifacts.release import load_yanked, release, yank
from compat.errors import ReleaseError


def _product(tmp_path: Path, version: str) -> Path:
    src = tmp_path / "prod"
    src.mkdir(exist_ok=True)
    (src / "pyproject.toml").write_text(f'[project]\nname = "my-prod"\nversion = "{version}"\n')
    return src


def _fake_builder(source_dir: Path, out_dir: Path) -> None:
    text = (source_dir / "pyproject.toml").read_text()
    version = text.split('version = "')[1].split('"')[0]
    with zipfile.ZipFile(out_dir / f"my_prod-{version}-py3-none-any.whl", "w") as zf:
        zf.writestr("my_prod/__init__.py", f"__version__ = {version!r}\n")


def test_release_stores_wheel_and_appends_changelog(tmp_path: Path) -> None:
    src = _product(tmp_path, "1.0.0")
    wheel = release(src, tmp_path / "wh", "first cut", builder=_fake_builder)
    assert wheel == tmp_path / "wh" / "my_prod-1.0.0-py3-none-any.whl"
    assert wheel.is_file()
    changelog = (src / "CHANGELOG.md").read_text()
    assert "## 1.0.0 (" in changelog and "first cut" in changelog


def test_release_refuses_to_overwrite_an_existing_version(tmp_path: Path) -> None:
    src = _product(tmp_path, "1.0.0")
    wheelhouse = tmp_path / "wh"
    first = release(src, wheelhouse, "one", builder=_fake_builder)
    before = first.read_bytes()
    with pytest.raises(ReleaseError, match=r"my-prod 1\.0\.0 is already released"):
        release(src, wheelhouse, "again", builder=_fake_builder)
    assert first.read_bytes() == before
    assert (src / "CHANGELOG.md").read_text().count("## 1.0.0") == 1
    # A new version is fine.
    (src / "pyproject.toml").write_text('[project]\nname = "my-prod"\nversion = "1.1.0"\n')
    assert release(src, wheelhouse, "two", builder=_fake_builder).name == "my_prod-1.1.0-py3-none-any.whl"


def test_yank_records_reason_and_keeps_the_wheel(tmp_path: Path) -> None:
    src = _product(tmp_path, "2.2.0")
    wheelhouse = tmp_path / "wh"
    wheel = release(src, wheelhouse, "trap", builder=_fake_builder)
    yank(wheelhouse, wheel.name, "sint64 corrupts price_ticks")
    data = json.loads((wheelhouse / "yanked.json").read_text())
    assert data[wheel.name]["reason"] == "sint64 corrupts price_ticks"
    assert data[wheel.name]["yanked_at"]
    assert wheel.is_file()
    assert load_yanked(wheelhouse) == data
    with pytest.raises(ReleaseError, match="already yanked"):
        yank(wheelhouse, wheel.name, "again")
    with pytest.raises(ReleaseError, match="no such wheel"):
        yank(wheelhouse, "nope-1.0.0-py3-none-any.whl", "why")
