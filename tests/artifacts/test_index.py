"""Resolving wheels for real: a pypiserver on loopback (PEP 503), a find-links dir, `uv build`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from compat.artifacts.candidate import build_candidate
from compat.artifacts.index import WheelRef, fetch, list_wheels
from compat.artifacts.resolve import resolve
from compat.config.matrix import IndexSpec, load_matrix
from compat.errors import ArtifactError, CandidateBuildError, ConfigError, WheelNotFound
from compat.harness.uv import file_sha256

pytestmark = pytest.mark.integration

VERSIONS = ("1.0.0", "1.1.0", "2.0.0")
START_TIMEOUT_S = 20.0


def make_project(root: Path, name: str, version: str, body: str = "") -> Path:
    project = root / f"{name}-{version}"
    (project / name).mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{name}"
        version = "{version}"
        """)
    )
    (project / name / "__init__.py").write_text(f"VERSION = {version!r}\n{body}")
    return project


def build_wheel(project: Path, out: Path) -> Path:
    done = subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return next(out.glob(f"{project.name.rsplit('-', 1)[0]}-{project.name.rsplit('-', 1)[1]}-*.whl"))


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("index")
    out = root / "wheelhouse"
    for version in VERSIONS:
        for name in ("tinygw", "tinycl"):
            build_wheel(make_project(root / "src", name, version), out)
    return out


def _listening_port(pid: int, deadline: float) -> int:
    """The port the server process listens on; it was started with port 0, so we ask the OS."""
    process = psutil.Process(pid)
    while time.monotonic() < deadline:
        for conn in process.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr:
                return int(conn.laddr.port)
        if process.status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.05)  # polling the OS for the socket, bounded by the deadline
    raise AssertionError(f"pypiserver (pid {pid}) did not listen within {START_TIMEOUT_S}s")


@pytest.fixture(scope="module")
def index_url(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    served = tmp_path_factory.mktemp("served")
    for wheel in wheelhouse.glob("*.whl"):
        shutil.copy(wheel, served)
    log = (tmp_path_factory.mktemp("log") / "pypiserver.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "-p",
            "0",
            "-i",
            "127.0.0.1",
            "--disable-fallback",
            "--hash-algo",
            "sha256",
            str(served),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        port = _listening_port(server.pid, deadline)
        url = f"http://127.0.0.1:{port}/simple/"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:  # the socket is bound; wait until the app answers
            try:
                with opener.open(url, timeout=2) as response:
                    assert response.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def write_matrix(
    root: Path,
    index: str,
    gateway_policy: str,
    client_policy: str = "{candidate: false}",
    gateway_source: str = "src/tinygw",
) -> Path:
    (root / "adapter.py").write_text("class Adapter: ...\n")
    path = root / "matrix.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        products:
          gateway:
            package: tinygw
            source: {gateway_source}
            launch: [{{argv: ["{{bin}}/tinygw"]}}]
          client:
            package: tinycl
            source: src/tinycl
            adapter: adapter.py
        index: {index}
        versions:
          gateway: {gateway_policy}
          client: {client_policy}
        venues: [obx]
        """)
    )
    return path


# --- PEP 503 over a real pypiserver --------------------------------------------------------------


def test_list_wheels_over_pep503(index_url: str, wheelhouse: Path) -> None:
    refs = list_wheels(IndexSpec(find_links=None, url=index_url), "tinygw")
    assert [str(r.version) for r in refs] == list(VERSIONS)
    assert all(r.location.startswith(index_url.rsplit("/simple/", 1)[0]) for r in refs)
    local = {w.name: file_sha256(w) for w in wheelhouse.glob("tinygw-*.whl")}
    assert {r.filename: r.sha256 for r in refs} == local  # the index's #sha256= fragments
    assert not any(r.yanked for r in refs)


def test_fetch_downloads_and_verifies(index_url: str, tmp_path: Path) -> None:
    ref = list_wheels(IndexSpec(None, index_url), "tinycl")[-1]
    path = fetch(ref, tmp_path / "dl")
    assert path == tmp_path / "dl" / ref.filename
    assert file_sha256(path) == ref.sha256
    assert fetch(ref, tmp_path / "dl") == path  # already there: reused
    assert [p.name for p in (tmp_path / "dl").iterdir()] == [ref.filename]  # no temp files left


def test_fetch_rejects_a_wrong_sha(index_url: str, tmp_path: Path) -> None:
    ref = list_wheels(IndexSpec(None, index_url), "tinycl")[0]
    bad = WheelRef(ref.package, ref.version, ref.filename, ref.location, False, None, "0" * 64)
    with pytest.raises(ArtifactError, match="sha256"):
        fetch(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_package_has_no_versions(index_url: str) -> None:
    assert list_wheels(IndexSpec(None, index_url), "nothing-here") == []


def test_resolve_over_url(index_url: str, tmp_path: Path) -> None:
    matrix = load_matrix(
        write_matrix(tmp_path, f"{{url: {index_url!r}}}", "{latest_minors: 2, candidate: false}")
    )
    resolved = resolve(matrix, None, tmp_path / "build")
    assert [r.version for r in resolved["gateway"]] == ["1.1.0", "2.0.0"]
    assert [r.version for r in resolved["client"]] == list(VERSIONS)
    for release in resolved["gateway"]:
        assert release.wheel.parent == tmp_path / "build" / "wheels"
        assert file_sha256(release.wheel) == release.sha256 and not release.candidate


def test_missing_version_names_the_url_and_versions_found(index_url: str, tmp_path: Path) -> None:
    policy = '{list: ["1.0.0", "9.9.9"], candidate: false}'
    matrix = load_matrix(write_matrix(tmp_path, f"{{url: {index_url!r}}}", policy))
    with pytest.raises(WheelNotFound) as info:
        resolve(matrix, None, tmp_path / "build")
    message = str(info.value)
    assert "gateway tinygw 9.9.9" in message
    assert index_url in message
    assert "versions found: 1.0.0, 1.1.0, 2.0.0" in message
    assert "matrix.yaml:12" in message


def test_unreachable_index_is_an_artifact_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nobody listens there
    url = f"http://127.0.0.1:{port}/simple/"
    with pytest.raises(ArtifactError, match=f"cannot reach index {url}tinygw/"):
        list_wheels(IndexSpec(None, url), "tinygw")


# --- a static PEP 503 page (file://): PEP 592 data-yanked and sha fragments ------------------------


def test_data_yanked_from_a_simple_page(wheelhouse: Path, tmp_path: Path) -> None:
    page = tmp_path / "simple" / "tinygw"
    page.mkdir(parents=True)
    links = []
    for wheel in sorted(wheelhouse.glob("tinygw-*.whl")):
        yanked = ' data-yanked="sint64 corrupts prices"' if "2.0.0" in wheel.name else ""
        links.append(f'<a href="{wheel.as_uri()}#sha256={file_sha256(wheel)}"{yanked}>{wheel.name}</a>')
    links.append('<a href="tinygw-0.1.tar.gz">a version released only as an sdist</a>')
    links.append('<a href="tinygw-1.0.0.tar.gz">the sdist of a version with a wheel: the wheel wins</a>')
    (page / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>")
    refs = list_wheels(IndexSpec(None, (tmp_path / "simple").as_uri() + "/"), "tinygw")
    first = refs[0]
    assert (str(first.version), first.yanked, first.yank_reason, first.is_sdist) == ("0.1", False, None, True)
    refs = [r for r in refs if not r.is_sdist]
    assert [(str(r.version), r.yanked, r.yank_reason) for r in refs] == [
        ("1.0.0", False, None),
        ("1.1.0", False, None),
        ("2.0.0", True, "sint64 corrupts prices"),
    ]
    assert fetch(refs[0], tmp_path / "out").read_bytes() == (wheelhouse / refs[0].filename).read_bytes()


# --- find-links ------------------------------------------------------------------------------------


def test_find_links_with_yanked_json(wheelhouse: Path, tmp_path: Path) -> None:
    links = tmp_path / "wheelhouse"
    shutil.copytree(wheelhouse, links)
    yanked = next(links.glob("tinygw-2.0.0-*.whl")).name
    (links / "yanked.json").write_text(f'{{"{yanked}": "broken journal"}}')
    refs = list_wheels(IndexSpec(links, None), "tinygw")
    assert [(str(r.version), r.yanked, r.yank_reason) for r in refs][-1] == ("2.0.0", True, "broken journal")
    matrix = load_matrix(write_matrix(tmp_path, "{find_links: wheelhouse}", "{candidate: false}"))
    resolved = resolve(matrix, None, tmp_path / "build")
    assert [r.version for r in resolved["gateway"]] == ["1.0.0", "1.1.0"]  # yanked skipped
    assert resolved["gateway"][0].wheel == links / resolved["gateway"][0].wheel.name  # used in place


def test_find_links_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(WheelNotFound, match=r"find-links directory .*nope does not exist"):
        list_wheels(IndexSpec(tmp_path / "nope", None), "tinygw")


def test_policy_selecting_nothing_names_the_versions_found(wheelhouse: Path, tmp_path: Path) -> None:
    shutil.copytree(wheelhouse, tmp_path / "wheelhouse")
    matrix = load_matrix(write_matrix(tmp_path, "{}", "{specifier: '>=5', candidate: false}"))
    with pytest.raises(WheelNotFound, match=r"specifier >=5.*versions found: 1.0.0, 1.1.0, 2.0.0"):
        resolve(matrix, None, tmp_path / "build")


# --- the candidate ---------------------------------------------------------------------------------


def test_candidate_built_from_source(wheelhouse: Path, tmp_path: Path) -> None:
    shutil.copytree(wheelhouse, tmp_path / "wheelhouse")
    make_project(tmp_path / "src", "tinygw", "2.1.0.dev0").rename(tmp_path / "src" / "tinygw")
    matrix = load_matrix(write_matrix(tmp_path, "{}", "{latest_minors: 1}"))
    resolved = resolve(matrix, None, tmp_path / "build")
    released, candidate = resolved["gateway"]
    assert (released.version, released.candidate) == ("2.0.0", False)
    assert (candidate.version, candidate.candidate, candidate.label) == (
        "2.1.0.dev0",
        True,
        "2.1.0.dev0+candidate",
    )
    assert candidate.wheel.parent.parent == tmp_path / "build" / "candidates" / "gateway"
    assert file_sha256(candidate.wheel) == candidate.sha256
    # An unchanged tree reuses its wheel (same sha256, hence the same env); a change rebuilds.
    again = resolve(matrix, None, tmp_path / "build")["gateway"][-1]
    assert (again.wheel, again.sha256) == (candidate.wheel, candidate.sha256)
    (tmp_path / "src" / "tinygw" / "CHANGED.txt").write_text("edit\n")
    changed = resolve(matrix, None, tmp_path / "build")["gateway"][-1]
    assert changed.wheel.parent != candidate.wheel.parent
    assert not resolve(matrix, None, tmp_path / "b2", include_candidates=False)["gateway"][-1].candidate


def test_a_fresh_checkout_of_the_same_source_builds_the_same_wheel(tmp_path: Path) -> None:
    """A CI runner checks the tree out afresh (new mtimes); the candidate's sha256 must not change
    with them, or its env and its cached verdicts would never be reused across runners. refgw
    builds with setuptools, whose wheels record mtimes unless SOURCE_DATE_EPOCH pins them."""
    source = Path(__file__).resolve().parents[2] / "gateways" / "refgw"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    first, second = tmp_path / "a" / "refgw", tmp_path / "b" / "refgw"
    shutil.copytree(source, first, ignore=ignore)
    shutil.copytree(source, second, ignore=ignore)
    later = time.time() + 3600
    for path in second.rglob("*"):
        os.utime(path, (later, later))
    wheels = [build_candidate(tree, tmp_path / f"out-{tree.parent.name}", "gateway") for tree in (first, second)]
    assert file_sha256(wheels[0]) == file_sha256(wheels[1])


def test_candidate_given_as_a_wheel(wheelhouse: Path, tmp_path: Path) -> None:
    shutil.copytree(wheelhouse, tmp_path / "wheelhouse")
    deployed = build_wheel(make_project(tmp_path / "deploy", "tinygw", "3.0.0"), tmp_path / "deployed")
    matrix = load_matrix(write_matrix(tmp_path, "{}", "{latest_minors: 1}", gateway_source="does/not/exist"))
    resolved = resolve(matrix, {"gateway": str(deployed)}, tmp_path / "build")
    assert [(r.version, r.candidate) for r in resolved["gateway"]] == [("2.0.0", False), ("3.0.0", True)]
    assert resolved["gateway"][-1].wheel == deployed
    other = next(wheelhouse.glob("tinycl-1.0.0-*.whl"))
    with pytest.raises(ConfigError, match="this is a wheel of tinycl, but the gateway is tinygw"):
        resolve(matrix, {"gateway": other}, tmp_path / "build")
    with pytest.raises(ConfigError, match="unknown role exchange"):
        resolve(matrix, {"exchange": other}, tmp_path / "build")
    with pytest.raises(CandidateBuildError, match=r"has no pyproject\.toml"):
        resolve(matrix, None, tmp_path / "build")  # source does not exist and no wheel given


def test_candidate_build_failure_carries_uv_stderr(tmp_path: Path) -> None:
    project = make_project(tmp_path, "broken", "1.0.0")
    (project / "pyproject.toml").write_text("[project]\nname = 'broken'\nversion = 'not a version'\n")
    with pytest.raises(CandidateBuildError) as info:
        build_candidate(project, tmp_path / "out", "gateway")
    message = str(info.value)
    assert "`uv build --wheel" in message and "exited 2" in message and "uv said:" in message
    # ... and every way out: not building a candidate, or giving one as a wheel.
    assert "candidate: false in versions.gateway" in message and "--compat-no-candidate" in message
    assert "--compat-candidate gateway=path/to.whl" in message
    assert "'not a version'" in message  # uv's own diagnosis, quoted from its stderr
    assert not list((tmp_path / "out").glob("*.whl"))


# --- releases published only as source archives -------------------------------------------------


def build_sdist(project: Path, out: Path) -> Path:
    done = subprocess.run(["uv", "build", "--sdist", "--quiet", "--out-dir", str(out), str(project)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return next(out.glob(f"{project.name}.tar.gz"))


def test_a_source_only_release_is_built_once_and_pinned_by_its_sdist(wheelhouse: Path, tmp_path: Path) -> None:
    from compat.artifacts.lock import read_lock, write_lock
    from compat.run.plan import Plan

    house = tmp_path / "wheelhouse"
    shutil.copytree(wheelhouse, house)
    sdist = build_sdist(make_project(tmp_path / "old", "tinygw", "0.9.0"), house)  # no wheel of 0.9.0
    build_sdist(make_project(tmp_path / "dup", "tinygw", "2.0.0"), house)  # 2.0.0 has a wheel too: the wheel wins
    matrix = load_matrix(write_matrix(tmp_path, "{}", "{specifier: '<2.1', candidate: false}"))

    refs = {str(r.version): r for r in list_wheels(matrix.index, "tinygw")}
    assert refs["0.9.0"].is_sdist and not refs["2.0.0"].is_sdist

    first = {r.version: r for r in resolve(matrix, None, tmp_path / "build")["gateway"]}
    old = first["0.9.0"]
    assert (old.source_archive, old.source_sha256) == (sdist.name, file_sha256(sdist))
    assert old.wheel.name.startswith("tinygw-0.9.0-") and old.wheel.suffix == ".whl"
    assert file_sha256(old.wheel) == old.sha256
    assert first["2.0.0"].source_archive is None
    built_at = old.wheel.stat().st_mtime_ns
    again = {r.version: r for r in resolve(matrix, None, tmp_path / "build")["gateway"]}["0.9.0"]
    assert (again.wheel, again.sha256, again.wheel.stat().st_mtime_ns) == (old.wheel, old.sha256, built_at)

    resolved = resolve(matrix, None, tmp_path / "build")
    lock_path = tmp_path / "compat.lock"
    write_lock(lock_path, resolved, matrix)
    lock = read_lock(lock_path, matrix)
    pinned = {e.version: e for e in lock.releases["gateway"]}["0.9.0"]
    assert (pinned.filename, pinned.sha256) == (sdist.name, file_sha256(sdist))
    locked = {r.version: r for r in resolve(matrix, None, tmp_path / "build", lock=lock)["gateway"]}
    assert locked["0.9.0"].sha256 == old.sha256

    plan = Plan(matrix, {role: tuple(rs) for role, rs in resolved.items()}, cells=())
    assert "wheels built from source archives: gateway 0.9.0" in plan.header()


def test_a_source_archive_that_does_not_build_names_itself(tmp_path: Path) -> None:
    house = tmp_path / "wheelhouse"
    project = make_project(tmp_path / "src", "tinygw", "1.0.0")
    (project / "pyproject.toml").write_text("[build-system]\nrequires = ['hatchling']\nbuild-backend = 'nope.backend'\n"
                                            "[project]\nname = 'tinygw'\nversion = '1.0.0'\n")
    sdist = house / "tinygw-1.0.0.tar.gz"
    house.mkdir()
    shutil.make_archive(str(house / "tinygw-1.0.0"), "gztar", root_dir=project.parent, base_dir=project.name)
    matrix = load_matrix(write_matrix(tmp_path, "{}", "{candidate: false}"))
    with pytest.raises(ArtifactError, match=rf"{sdist.name} is released only as a source archive.*uv build"):
        resolve(matrix, None, tmp_path / "build")
