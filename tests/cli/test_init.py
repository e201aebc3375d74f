"""`compat init` end to end: scaffold a project for two products built here from nothing (a TCP
server with a console script and a client library, two releases each), then run the generated
project's matrix as a user would and find every pair green; plus its refusals."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compat.cli.init import scaffold
from compat.errors import ConfigError

pytestmark = pytest.mark.integration

SERVER = '''\
import socket, sys

def main() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print("booting", flush=True)
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.close()
'''


def _wheel(work: Path, name: str, version: str, out: Path, server: bool) -> None:
    project = work / f"{name}-{version}"
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text(f"__version__ = {version!r}\n" + (SERVER if server else ""))
    scripts = f'\n[project.scripts]\n{name} = "{name}:main"\n' if server else ""
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{name}"
        version = "{version}"
        """) + scripts)
    subprocess.run(["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
                   check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("firm")
    out = work / "wheelhouse"
    for version in ("1.0.0", "1.1.0"):
        _wheel(work, "acme_gw", version, out, server=True)
        _wheel(work, "acme_client", version, out, server=False)
    return out


def _args(directory: Path, wheelhouse: Path, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "directory": str(directory), "gateway": "acme_gw", "client": "acme_client", "client_module": None,
        "find_links": str(wheelhouse), "index_url": None, "gateway_argv": "{bin}/acme_gw",
        "ready": r"^listening on (?P<host>\S+):(?P<port>\d+)$", "latest_minors": 3,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_the_generated_project_runs_green_against_real_products(wheelhouse: Path, tmp_path: Path) -> None:
    project = tmp_path / "acme-compat"
    init = subprocess.run(
        [sys.executable, "-m", "compat.cli", "init", str(project), "--gateway", "acme_gw", "--client",
         "acme_client", "--find-links", str(wheelhouse), "--gateway-argv", "{bin}/acme_gw",
         "--ready", r"^listening on (?P<host>\S+):(?P<port>\d+)$"],
        capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert "pytest -m compat -n auto --compat-report-dir report" in init.stdout
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == [
        "README.md", "compat_adapter.py", "matrix.yaml", "tests/compat/test_sample.py"]

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "compat", "-p", "no:randomly", "-q", "--compat-report-dir", "report",
         "--compat-cache-dir", str(tmp_path / "cache")],
        cwd=project, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    report = json.loads((project / "report" / "matrix.json").read_text())
    verdicts = {(c["cell_id"], s["scenario"]): s["verdict"] for c in report["cells"] for s in c["scenarios"]}
    assert verdicts == {
        (f"client-{c}--gateway-{g}", "connects"): "pass"
        for c in ("1.0.0", "1.1.0") for g in ("1.0.0", "1.1.0")
    }


def test_init_never_overwrites_and_writes_nothing_on_refusal(wheelhouse: Path, tmp_path: Path) -> None:
    (tmp_path / "matrix.yaml").write_text("mine\n")
    with pytest.raises(ConfigError, match=r"never overwrites.*matrix\.yaml"):
        scaffold(_args(tmp_path, wheelhouse))
    assert (tmp_path / "matrix.yaml").read_text() == "mine\n"
    assert not (tmp_path / "compat_adapter.py").exists()


@pytest.mark.parametrize(("override", "message"), [
    ({"gateway": "not a name"}, "--gateway 'not a name' is not a distribution name"),
    ({"find_links": "/nowhere/wheels"}, "--find-links /nowhere/wheels: no such directory"),
    ({"gateway_argv": "acme_gw --port 0"}, "names no placeholder"),
])
def test_unusable_arguments_are_refused_before_writing(wheelhouse: Path, tmp_path: Path,
                                                       override: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scaffold(_args(tmp_path / "p", wheelhouse, **override))
    assert not (tmp_path / "p").exists()


def test_a_bad_ready_regex_leaves_nothing_half_made(wheelhouse: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ready"):
        scaffold(_args(tmp_path, wheelhouse, ready="^(unclosed"))
    assert list(tmp_path.rglob("*.py")) == [] and not (tmp_path / "matrix.yaml").exists()
