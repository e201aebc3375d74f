"""A hermetic fake product line for plugin tests: two tiny wheels per product, built once per session."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

VERSIONS = ("1.0.0", "2.0.0")


def _build_wheel(work: Path, package: str, version: str, out: Path, body: str = "") -> None:
    project = work / f"{package}-{version}"
    (project / "src" / package).mkdir(parents=True)
    (project / "src" / package / "__init__.py").write_text(f'__version__ = "{version}"\n{body}')
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{package}"
        version = "{version}"
        [tool.hatch.build.targets.wheel]
        packages = ["src/{package}"]
    """))
    subprocess.run(["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
                   check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def fake_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fake-products")
    out = work / "wheelhouse"
    for package in ("fakegw", "fakeclient"):
        for version in VERSIONS:
            _build_wheel(work, package, version, out)
    (work / "adapter.py").write_text("class Adapter:\n    def __init__(self, ctx):\n        self.ctx = ctx\n")
    return out


@pytest.fixture(scope="session")
def build_fake_wheel(tmp_path_factory: pytest.TempPathFactory) -> object:
    """``build(package, version, body="") -> wheel``: a fake product wheel of its own (a new
    ``body`` gives a new sha256 for the same version: a candidate rebuilt after an edit)."""

    def build(package: str, version: str, body: str = "") -> Path:
        work = tmp_path_factory.mktemp(f"{package}-{version}")
        _build_wheel(work, package, version, work / "dist", body)
        [wheel] = (work / "dist").glob("*.whl")
        return wheel

    return build


@pytest.fixture
def write_matrix() -> object:
    return _write_matrix


def _write_matrix(directory: Path, wheelhouse: Path, expectations: str = "[]", versions: str = "") -> Path:
    adapter = wheelhouse.parent / "adapter.py"
    text = textwrap.dedent(f"""\
        schema: 1
        products:
          gateway:
            package: fakegw
            source: {wheelhouse.parent}
            launch:
              - argv: "{{bin}}/fakegw --port {{listen_port}}"
          client:
            package: fakeclient
            source: {wheelhouse.parent}
            adapter: {adapter}
        index:
          find_links: {wheelhouse}
        versions:
          gateway: {{candidate: false{versions}}}
          client: {{candidate: false}}
        venues: [obx, tlx]
        """) + f"expectations: {expectations}\n"
    path = directory / "matrix.yaml"
    path.write_text(text)
    return path


# A gateway from the fake product's venv: its python runs a one-liner that listens and prints a
# bare READY line, so a cell's stack is real processes without any exchange.
LISTENER_GATEWAY = (
    '      - argv: ["{python}", "-c", "import socket,time; s=socket.socket(); s.bind((\'127.0.0.1\', 0)); '
    's.listen(); print(\'READY 127.0.0.1:%d\' % s.getsockname()[1], flush=True); time.sleep(600)"]\n'
    '    stop: [TERM, KILL]\n')


@pytest.fixture
def listener_project(pytester: pytest.Pytester, fake_wheelhouse: Path) -> Callable[[str], pytest.Pytester]:
    """``make(scenarios)``: a pytester project with ``exchange: none``, the listener gateway above
    and ``scenarios`` as its test module."""

    def make(scenarios: str) -> pytest.Pytester:
        path = _write_matrix(pytester.path, fake_wheelhouse)
        text = path.read_text()
        text = re.sub(r'      - argv: "\{bin\}/fakegw --port \{listen_port\}"\n', lambda _: LISTENER_GATEWAY, text)
        path.write_text(text.replace("venues: [obx, tlx]\n", "exchange: none\n"))
        pytester.makepyfile(test_scenarios=scenarios)
        return pytester

    return make
