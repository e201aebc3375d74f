"""matrix.yaml's bench section: the --gate thresholds per measure, and its errors with their lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat.config.bench import DEFAULT_GATE
from compat.config.matrix import Matrix, load_matrix
from compat.errors import MatrixError

VALID = """\
products:
  gateway:
    package: refgw
    launch:
      - argv: "{bin}/refgw --listen {listen_host}:0 --exchange {exchange}"
  client:
    package: refclient
    adapter: adapter.py
versions:
  gateway: {candidate: false}
  client: {candidate: false}
"""


def load(tmp_path: Path, text: str) -> Matrix:
    (tmp_path / "adapter.py").write_text("class Adapter: ...\n")
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return load_matrix(path)


def error(tmp_path: Path, text: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        load(tmp_path, text)
    return info.value


def test_without_a_bench_section_the_defaults_decide(tmp_path: Path) -> None:
    spec = load(tmp_path, VALID).bench
    assert dict(spec.gate) == dict(DEFAULT_GATE) and not spec.declared


def test_percentages_fractions_and_globs(tmp_path: Path) -> None:
    spec = load(tmp_path, VALID + "bench:\n  gate:\n    cpu.*: 10%\n    cpu.gateway: 0.03\n    p99: 25 %\n").bench
    assert spec.declared
    assert dict(spec.gate) == {"cpu.gateway": 0.03, "cpu.exchange": 0.10, "cpu.client": 0.10, "p99": 0.25}


BENCH_LINE = VALID.count("\n") + 1  # where the appended section starts


@pytest.mark.parametrize(("section", "line", "words"), [
    ("bench:\n  gate:\n    cpu.relay: 5%\n", 2, ["'cpu.relay' names no measure", "cpu.gateway"]),
    ("bench:\n  gate:\n    p50: 5\n", 2, ["percentage such as 5%", "got '5'"]),
    ("bench:\n  gate:\n    p50: 150%\n", 2, ["between 0% and 100%"]),
    ("bench:\n  gates:\n    p50: 5%\n", 1, ["unknown key 'gates'", "did you mean 'gate'"]),
    ("bench:\n  gate: {}\n", 1, ["names no measure"]),
])
def test_mistakes_name_their_line(tmp_path: Path, section: str, line: int, words: list[str]) -> None:
    found: MatrixError = error(tmp_path, VALID + section)
    assert f"matrix.yaml:{BENCH_LINE + line}:" in str(found), str(found)
    for word in words:
        assert word in str(found), str(found)
