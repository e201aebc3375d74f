"""`compat release`: build a product's wheel into the wheelhouse, record it, never overwrite.

    compat release SOURCE_DIR [--wheelhouse wheelhouse] [--notes TEXT | --notes-file PATH]
    compat release --yank WHEEL_FILENAME --reason TEXT [--wheelhouse wheelhouse]

A release reads the distribution name and version from SOURCE_DIR/pyproject.toml, refuses
if the wheelhouse already holds a wheel of that name and version (released wheels are
immutable), builds the wheel with ``uv build --wheel`` into a scratch directory, moves it into
the wheelhouse and appends ``## VERSION (date)`` plus the notes to SOURCE_DIR/CHANGELOG.md.

A yank records ``{"FILENAME": {"reason": ..., "yanked_at": ...}}`` in
``wheelhouse/yanked.json``. The wheel stays in the wheelhouse, so a test can still target it
while the version policy skips it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat.errors import ReleaseError
from compat.harness.command import Command, run

YANKED_FILE = "yanked.json"
_BUILD_LEFTOVERS = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache")
BUILD_TIMEOUT_S = 300.0

# Builds the wheel of SOURCE_DIR into OUT_DIR; injectable so the refusal logic is unit-testable.
WheelBuilder = Callable[[Path, Path], None]


@dataclass(frozen=True)
class Project:
    name: str
    version: str

    @property
    def wheel_stem(self) -> str:
        """The ``name-version`` prefix of the wheel file name (PEP 427 normalisation)."""
        return f"{re.sub(r'[-_.]+', '_', self.name).lower()}-{self.version}"


def read_project(source_dir: Path) -> Project:
    pyproject = source_dir / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project = data["project"]
        return Project(name=str(project["name"]), version=str(project["version"]))
    except FileNotFoundError:
        raise ReleaseError(f"{pyproject} not found: SOURCE_DIR must be a product with a pyproject.toml") from None
    except (KeyError, tomllib.TOMLDecodeError) as exc:
        raise ReleaseError(f"{pyproject}: cannot read [project] name and version ({exc})") from None


def existing_wheels(wheelhouse: Path, project: Project) -> list[Path]:
    if not wheelhouse.is_dir():
        return []
    return sorted(p for p in wheelhouse.glob(f"{project.wheel_stem}-*.whl"))


# uv reaches the package index for the build backend: it needs the machine's TLS trust and
# proxy settings, which the harness's minimal child environment leaves out on purpose.
_NETWORK_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def _build_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _NETWORK_VARIABLES or k.startswith("UV_")}


def uv_build_wheel(source_dir: Path, out_dir: Path) -> None:
    command = Command(
        argv=("uv", "build", "--wheel", "--out-dir", str(out_dir), str(source_dir)),
        name="uv-build",
        env=_build_environment(),
    )
    outcome = run(command, timeout_s=BUILD_TIMEOUT_S)
    if outcome.returncode != 0:
        raise ReleaseError(
            f"uv build of {source_dir} failed with exit code {outcome.returncode}:\n{outcome.stderr.strip()[-2000:]}"
        )


def release(
    source_dir: Path,
    wheelhouse: Path,
    notes: str,
    builder: WheelBuilder = uv_build_wheel,
    today: dt.date | None = None,
) -> Path:
    """Build, store and record one release; returns the wheel's path in the wheelhouse."""
    project = read_project(source_dir)
    clash = existing_wheels(wheelhouse, project)
    if clash:
        raise ReleaseError(
            f"{project.name} {project.version} is already released ({clash[0]}); released wheels are "
            f"immutable: bump the version in {source_dir / 'pyproject.toml'} and release again"
        )
    with tempfile.TemporaryDirectory(prefix="compat-release-") as tmp:
        # Build from a clean copy: a stale build/ or *.egg-info left in the source tree by an
        # earlier build can carry modules the release no longer has into its wheel.
        clean = Path(tmp) / "src"
        shutil.copytree(source_dir, clean, ignore=_BUILD_LEFTOVERS)
        out = Path(tmp) / "out"
        out.mkdir()
        try:
            builder(clean, out)
        except ReleaseError as exc:
            raise ReleaseError(f"building {source_dir} (from a clean copy): {exc}") from None
        built = sorted(out.glob("*.whl"))
        if len(built) != 1 or not built[0].name.startswith(project.wheel_stem + "-"):
            raise ReleaseError(
                f"expected one wheel named {project.wheel_stem}-*.whl from {source_dir}, got {[p.name for p in built]}"
            )
        wheelhouse.mkdir(parents=True, exist_ok=True)
        target = wheelhouse / built[0].name
        shutil.move(str(built[0]), target)
    _append_changelog(source_dir / "CHANGELOG.md", project, notes, today or dt.date.today())
    return target


def _append_changelog(path: Path, project: Project, notes: str, day: dt.date) -> None:
    existing = path.read_text(encoding="utf-8") if path.exists() else f"# Changelog of {project.name}\n"
    entry = f"\n## {project.version} ({day.isoformat()})\n\n{notes.strip() or '(no notes)'}\n"
    path.write_text(existing.rstrip("\n") + "\n" + entry, encoding="utf-8")


def load_yanked(wheelhouse: Path) -> dict[str, dict[str, str]]:
    path = wheelhouse / YANKED_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"{path} is not valid JSON ({exc}); fix or restore it from git") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"{path} must hold a JSON object keyed by wheel file name")
    return data


def yank(wheelhouse: Path, filename: str, reason: str, now: dt.datetime | None = None) -> None:
    """Mark a released wheel yanked; it stays in the wheelhouse."""
    if not (wheelhouse / filename).is_file():
        raise ReleaseError(f"cannot yank {filename}: no such wheel in {wheelhouse}")
    if not reason.strip():
        raise ReleaseError("a yank needs a --reason saying why the release must not be used")
    yanked = load_yanked(wheelhouse)
    if filename in yanked:
        raise ReleaseError(f"{filename} is already yanked ({yanked[filename]['reason']})")
    stamp = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    yanked[filename] = {"reason": reason.strip(), "yanked_at": stamp}
    path = wheelhouse / YANKED_FILE
    path.write_text(json.dumps(yanked, indent=2, sort_keys=True) + "\n", encoding="utf-8")
