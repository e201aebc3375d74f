"""The resolved-versions lock: round trip, staleness, malformed files, resolving from it, `compat lock`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat.artifacts.lock import read_lock, resolution_fingerprint, write_lock
from compat.artifacts.resolve import resolve
from compat.cli import main as cli_main
from compat.config.matrix import Matrix, load_matrix
from compat.errors import LockError, WheelNotFound

MATRIX = """\
products:
  gateway:
    package: refgw
    source: gw
    launch: [{argv: ["{bin}/refgw"]}]
  client:
    package: refclient
    source: cl
    adapter: adapter.py
versions:
  gateway: {latest_minors: 2, candidate: false}
  client: {candidate: false}
venues: [obx]
expectations:
  - client: "<2"
    expect: unsupported
    reason: old
"""


def setup(tmp_path: Path, text: str = MATRIX) -> Matrix:
    write(tmp_path, text)
    return load_matrix(tmp_path / "matrix.yaml")


def write(tmp_path: Path, text: str) -> None:
    """A find-links dir of wheel-named files: resolution only reads names and bytes."""
    house = tmp_path / "wheelhouse"
    house.mkdir(exist_ok=True)
    for name, version in [
        ("refgw", "1.0.0"),
        ("refgw", "1.1.0"),
        ("refgw", "2.0.0"),
        ("refclient", "1.0.0"),
        ("refclient", "2.0.0"),
    ]:
        (house / f"{name}-{version}-py3-none-any.whl").write_bytes(f"{name} {version}".encode())
    (tmp_path / "adapter.py").write_text("")
    (tmp_path / "matrix.yaml").write_text(text)


def test_round_trip_and_resolve_from_lock(tmp_path: Path) -> None:
    matrix = setup(tmp_path)
    resolved = resolve(matrix, None, tmp_path / "build")
    write_lock(tmp_path / "compat.lock.json", resolved, matrix)
    data = json.loads((tmp_path / "compat.lock.json").read_text())
    assert data["compat_lock"] == 1 and data["matrix_sha256"] == matrix.sha256
    assert [e["version"] for e in data["releases"]["gateway"]] == ["1.1.0", "2.0.0"]
    lock = read_lock(tmp_path / "compat.lock.json", matrix)
    assert [w.filename for w in lock.releases["gateway"]] == [
        "refgw-1.1.0-py3-none-any.whl",
        "refgw-2.0.0-py3-none-any.whl",
    ]
    # A newer release appears; the lock keeps the run on what was locked.
    (tmp_path / "wheelhouse" / "refgw-2.1.0-py3-none-any.whl").write_bytes(b"new")
    assert [r.version for r in resolve(matrix, None, tmp_path / "build")["gateway"]] == ["2.0.0", "2.1.0"]
    from_lock = resolve(matrix, None, tmp_path / "build", lock=lock)
    assert from_lock == resolved


def test_changing_expectations_keeps_the_lock_valid(tmp_path: Path) -> None:
    matrix = setup(tmp_path)
    write_lock(tmp_path / "l.json", resolve(matrix, None, tmp_path / "b"), matrix)
    edited = setup(tmp_path, MATRIX.replace("reason: old", "reason: too old"))
    assert edited.sha256 != matrix.sha256
    assert resolution_fingerprint(edited) == resolution_fingerprint(matrix)
    read_lock(tmp_path / "l.json", edited)


def test_changing_a_policy_makes_the_lock_stale(tmp_path: Path) -> None:
    matrix = setup(tmp_path)
    write_lock(tmp_path / "l.json", resolve(matrix, None, tmp_path / "b"), matrix)
    changed = setup(tmp_path, MATRIX.replace("latest_minors: 2", "latest_minors: 3"))
    with pytest.raises(LockError, match=r"stale.*run `compat lock`"):
        read_lock(tmp_path / "l.json", changed)


def test_a_changed_wheel_is_refused(tmp_path: Path) -> None:
    matrix = setup(tmp_path)
    write_lock(tmp_path / "l.json", resolve(matrix, None, tmp_path / "b"), matrix)
    (tmp_path / "wheelhouse" / "refgw-2.0.0-py3-none-any.whl").write_bytes(b"tampered")
    with pytest.raises(LockError, match="changed since `compat lock`"):
        resolve(matrix, None, tmp_path / "b", lock=read_lock(tmp_path / "l.json", matrix))


def test_a_locked_wheel_that_vanished(tmp_path: Path) -> None:
    matrix = setup(tmp_path)
    write_lock(tmp_path / "l.json", resolve(matrix, None, tmp_path / "b"), matrix)
    (tmp_path / "wheelhouse" / "refgw-1.1.0-py3-none-any.whl").unlink()
    with pytest.raises(
        WheelNotFound, match=r"locked to refgw-1.1.0-py3-none-any.whl.*versions found: 1.0.0, 2.0.0"
    ):
        resolve(matrix, None, tmp_path / "b", lock=read_lock(tmp_path / "l.json", matrix))


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"compat_lock": 7}', "not a compat lock of format 1"),
        ("[]", "not a compat lock"),
    ],
)
def test_malformed_lock(tmp_path: Path, content: str, words: str) -> None:
    matrix = setup(tmp_path)
    (tmp_path / "l.json").write_text(content)
    with pytest.raises(LockError, match=words):
        read_lock(tmp_path / "l.json", matrix)


def test_malformed_entries(tmp_path: Path) -> None:
    matrix = setup(tmp_path)
    base = {"compat_lock": 1, "resolution_sha256": resolution_fingerprint(matrix)}
    cases: list[tuple[dict[str, object], str]] = [
        (
            {"releases": {"gateway": [{"package": "refgw"}]}},
            "releases.gateway\\[0\\] lacks the text field 'version'",
        ),
        ({"releases": {"exchange": []}}, "must map roles"),
        ({"releases": {"gateway": {}}}, "releases.gateway must be a list"),
        ({"releases": {"gateway": ["x"]}}, "must be an object"),
    ]
    for extra, words in cases:
        (tmp_path / "l.json").write_text(json.dumps({**base, **extra}))
        with pytest.raises(LockError, match=words):
            read_lock(tmp_path / "l.json", matrix)


def test_missing_lock_file(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="cannot read the lock"):
        read_lock(tmp_path / "nope.json", setup(tmp_path))


def test_compat_lock_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        tmp_path,
        MATRIX.replace("gateway: {latest_minors: 2, candidate: false}", "gateway: {latest_minors: 2}"),
    )
    assert cli_main(["lock", "--matrix", str(tmp_path / "matrix.yaml")]) == 0
    out = capsys.readouterr().out
    assert "gateway: 1.1.0, 2.0.0" in out and "client: 1.0.0, 2.0.0" in out
    data = json.loads((tmp_path / "compat.lock.json").read_text())  # default: lock.path of the matrix
    assert [e["version"] for e in data["releases"]["client"]] == ["1.0.0", "2.0.0"]  # no candidate locked
    assert (
        cli_main(["lock", "--matrix", str(tmp_path / "matrix.yaml"), "--output", str(tmp_path / "o.json")])
        == 0
    )
    assert (tmp_path / "o.json").is_file()


def test_compat_lock_reports_a_bad_matrix_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, MATRIX.replace("venues: [obx]", "venues: obx"))
    assert cli_main(["lock", "--matrix", str(tmp_path / "matrix.yaml")]) == 1
    err = capsys.readouterr().err
    assert "matrix.yaml:13: venues must be a list" in err and "Traceback" not in err
