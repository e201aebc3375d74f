"""The env cache for real: uv venvs from tiny wheels, reuse, a two-process race, half-built dirs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compat.artifacts.envs import MARKER, EnvCache
from compat.config.cell import Release
from compat.errors import EnvBuildError
from compat.harness.uv import file_sha256

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def build_wheel(root: Path, name: str, version: str, out: Path, deps: tuple[str, ...] = ()) -> Path:
    project = root / f"{name}-{version}"
    (project / name).mkdir(parents=True)
    dependencies = ", ".join(f'"{d}"' for d in deps)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{name}"
        version = "{version}"
        dependencies = [{dependencies}]
        [project.scripts]
        {name} = "{name}:main"
        """)
    )
    (project / name / "__init__.py").write_text(
        f"VERSION = {version!r}\ndef main():\n    print('{name}', VERSION)\n"
    )
    done = subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return next(out.glob(f"{name}-{version}-*.whl"))


def release_of(wheel: Path, role: str = "client") -> Release:
    name, version = wheel.name.split("-")[:2]
    return Release(role, name, version, wheel, file_sha256(wheel))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheels")
    out = root / "wheelhouse"
    build_wheel(root / "src", "tinycore", "1.0.0", out)
    build_wheel(root / "src", "tinyclient", "1.0.0", out, deps=("tinycore>=1",))
    build_wheel(root / "src", "tinyclient", "2.0.0", out)
    return out


def run_in(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_build_then_reuse(wheels: Path, tmp_path: Path) -> None:
    release = release_of(next(wheels.glob("tinyclient-2.0.0-*.whl")))
    lines: list[str] = []
    cache = EnvCache(tmp_path / "envs", lines.append)
    first = cache.ensure(release)
    assert first.built and first.path == cache.path_for(release) and first.path.parent == tmp_path / "envs"
    assert release.sha256[:16] in first.path.name and "tinyclient-2.0.0" in first.path.name
    assert run_in(first.python, "import tinyclient; print(tinyclient.VERSION)") == "2.0.0"
    assert json.loads((first.path / MARKER).read_text())["sha256"] == release.sha256
    # console scripts work after the rename from the scratch dir (the venv is relocatable)
    script = subprocess.run([str(first.bin_dir / "tinyclient")], capture_output=True, text=True, timeout=60)
    assert script.stdout.strip() == "tinyclient 2.0.0", script.stderr
    second = EnvCache(tmp_path / "envs").ensure(release)
    assert not second.built and second.path == first.path
    assert lines == [f"env {release}: building"]
    assert not list((tmp_path / "envs").glob(".tmp-*"))


def test_dependencies_come_from_the_wheels_directory(wheels: Path, tmp_path: Path) -> None:
    env = EnvCache(tmp_path / "envs").ensure(release_of(next(wheels.glob("tinyclient-1.0.0-*.whl"))))
    assert run_in(env.python, "import tinycore; print(tinycore.VERSION)") == "1.0.0"


def test_same_version_different_wheel_gets_its_own_env(wheels: Path, tmp_path: Path) -> None:
    original = next(wheels.glob("tinyclient-2.0.0-*.whl"))
    rebuilt_dir = tmp_path / "rebuilt"
    rebuilt_dir.mkdir()
    rebuilt = rebuilt_dir / original.name
    rebuilt.write_bytes(original.read_bytes() + b"\0")  # trailing byte: still a valid zip, new sha256
    cache = EnvCache(tmp_path / "envs")
    a, b = cache.ensure(release_of(original)), cache.ensure(release_of(rebuilt))
    assert a.path != b.path and a.built and b.built


def test_half_built_env_is_rebuilt(wheels: Path, tmp_path: Path) -> None:
    release = release_of(next(wheels.glob("tinyclient-2.0.0-*.whl")))
    cache = EnvCache(tmp_path / "envs")
    half = cache.path_for(release)
    (half / "bin").mkdir(parents=True)
    (half / "junk-from-a-crash").write_text("x")
    stale_scratch = tmp_path / "envs" / f".tmp-{half.name}-dead"
    stale_scratch.mkdir()
    env = cache.ensure(release)
    assert env.built
    assert not (half / "junk-from-a-crash").exists() and (half / MARKER).is_file()
    assert not stale_scratch.exists()
    assert run_in(env.python, "import tinyclient; print(tinyclient.VERSION)") == "2.0.0"


def test_broken_wheel_raises_env_build_error_with_uv_message(tmp_path: Path) -> None:
    broken = tmp_path / "tinyclient-9.0.0-py3-none-any.whl"
    broken.write_bytes(b"this is not a zip file")
    release = release_of(broken)
    lines: list[str] = []
    cache = EnvCache(tmp_path / "envs", lines.append)
    with pytest.raises(EnvBuildError) as info:
        cache.ensure(release)
    with pytest.raises(EnvBuildError) as again:  # the next cell needing it: same error, no second uv run
        cache.ensure(release)
    assert str(again.value) == str(info.value) and lines == [f"env {release}: building"]
    message = str(info.value)
    assert "`uv pip install` exited 1" in message and str(broken) in message, message
    assert "uv said:" in message and "Failed to read from zip file" in message, message  # uv's own words
    assert not cache.path_for(release).exists()
    assert not list((tmp_path / "envs").glob(".tmp-*"))


RACER = """
import json, sys
from pathlib import Path
from compat.config.cell import Release
from compat.artifacts.envs import EnvCache
release = Release(**{**json.loads(sys.argv[1]), "wheel": Path(json.loads(sys.argv[1])["wheel"])})
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
env = EnvCache(Path(sys.argv[2])).ensure(release)
print(json.dumps({"built": env.built, "path": str(env.path)}), flush=True)
"""


def test_two_processes_race_and_build_once(wheels: Path, tmp_path: Path) -> None:
    release = release_of(next(wheels.glob("tinyclient-2.0.0-*.whl")))
    spec = json.dumps(
        {
            "role": release.role,
            "package": release.package,
            "version": release.version,
            "wheel": str(release.wheel),
            "sha256": release.sha256,
        }
    )
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, spec, str(tmp_path / "envs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={
                "PYTHONPATH": str(REPO),
                "PATH": "/usr/bin:/bin:" + str(Path(sys.executable).parent),
                "HOME": str(Path.home()),
            },
        )
        for _ in range(2)
    ]
    try:
        for racer in racers:  # both are imported and waiting: release them together
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        results = []
        for racer in racers:
            out, err = racer.communicate(timeout=120)
            assert racer.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    assert sorted(r["built"] for r in results) == [False, True]  # exactly one build
    assert results[0]["path"] == results[1]["path"]


def test_build_all_isolates_failures_and_dedupes(wheels: Path, tmp_path: Path) -> None:
    good = release_of(next(wheels.glob("tinyclient-2.0.0-*.whl")))
    broken_wheel = tmp_path / "tinyclient-9.0.0-py3-none-any.whl"
    broken_wheel.write_bytes(b"junk")
    broken = release_of(broken_wheel)
    lines: list[str] = []
    results = EnvCache(tmp_path / "envs", lines.append).build_all([good, broken, good])
    assert list(results) == [good, broken]
    assert not isinstance(results[good], EnvBuildError) and results[good].built  # type: ignore[union-attr]
    assert isinstance(results[broken], EnvBuildError)
    assert lines[0] == "compat: ensuring 2 envs (one per release)"
    assert any(line.startswith("compat: [") and "tinyclient 9.0.0: FAILED" in line for line in lines)
    with pytest.raises(EnvBuildError):
        EnvCache(tmp_path / "envs").ensure_all([good, broken])
    assert [e.built for e in EnvCache(tmp_path / "envs").ensure_all([good])] == [False]
