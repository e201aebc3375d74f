"""matrix.yaml ``known_issues``: declarations of findings of released versions, each error
with its file and line, and which (role, version, finding) a declaration covers."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat.config.known_issues import KnownIssue, find, from_meta
from compat.config.matrix import load_matrix
from compat.errors import MatrixError

from .test_matrix import VALID, write

ISSUES = """\
known_issues:
  - client: ">=2.0,<3.1.dev0"
    finding: memory-growth
    reason: keeps every order for the session's lifetime
    ticket: CLI-88
  - gateway: "*"
    finding: memory-growth
    reason: the journal index grows
"""


def _with(text: str) -> str:
    return VALID.replace("settings:\n", text + "settings:\n", 1)


def test_known_issues_are_read_with_their_line(tmp_path: Path) -> None:
    matrix = load_matrix(write(tmp_path, _with(ISSUES)))
    first, second = matrix.known_issues
    assert (first.role, str(first.versions), first.finding, first.ticket) == (
        "client", "<3.1.dev0,>=2.0", "memory-growth", "CLI-88")
    assert first.line == VALID.count("\n", 0, VALID.index("settings:\n")) + 2
    assert first.where.endswith(f"matrix.yaml line {first.line}")
    assert first.describe().startswith("client <3.1.dev0,>=2.0 memory-growth: keeps every order")
    assert (second.role, str(second.versions), second.subject()) == ("gateway", "", "gateway, every released version")
    assert load_matrix(write(tmp_path, VALID)).known_issues == ()


def test_a_declaration_covers_released_versions_of_its_role_only(tmp_path: Path) -> None:
    issues = load_matrix(write(tmp_path, _with(ISSUES))).known_issues
    client = issues[0]
    assert client.covers("client", "2.0.0", "memory-growth")
    assert client.covers("client", "3.0.0", "memory-growth")
    assert not client.covers("client", "1.1.0", "memory-growth")
    assert not client.covers("client", "3.1.0", "memory-growth")
    assert not client.covers("gateway", "2.0.0", "memory-growth")
    # a candidate is never a released version, whatever the range says
    assert not issues[1].covers("gateway", "3.1.0.dev0+candidate", "memory-growth")
    assert not client.covers("client", "2.1.0+mutant.x.candidate", "memory-growth")
    assert find(issues, "gateway", "2.2.0", "memory-growth") is issues[1]
    assert find(issues, "client", "1.0.0", "memory-growth") is None


def test_declarations_survive_the_json_report(tmp_path: Path) -> None:
    issues = load_matrix(write(tmp_path, _with(ISSUES))).known_issues
    again = from_meta({"known_issues": [i.to_dict() for i in issues] + [{"role": "exchange"}, "junk"]})
    assert again == issues
    assert from_meta({}) == () and KnownIssue.from_dict({"role": "client", "finding": "nope"}) is None


@pytest.mark.parametrize(
    ("entry", "line_offset", "words"),
    [
        ("  - finding: memory-growth\n    reason: x\n", 1, ["known_issues[0] must name exactly one product role",
                                                          "none of gateway, client"]),
        ('  - client: "2.0"\n    gateway: "2.0"\n    finding: memory-growth\n    reason: x\n', 1,
         ["exactly one product role", "gateway and client"]),
        ('  - client: "2.0"\n    finding: memory-leak\n    reason: x\n', 2,
         ["known_issues[0].finding must be one of memory-growth, got 'memory-leak'"]),
        ('  - client: "two"\n    finding: memory-growth\n    reason: x\n', 1,
         ["known_issues[0].client 'two' is not a version specifier"]),
        ('  - client: "2.0"\n    finding: memory-growth\n', 1, ["missing the required key 'reason'"]),
        ('  - client: "2.0"\n    finding: memory-growth\n    reason: ""\n', 3,
         ["known_issues[0].reason must not be empty"]),
        ('  - client: "2.0"\n    finding: memory-growth\n    reason: x\n    expires: 2027-01-01\n', 4,
         ["unknown key 'expires' in known_issues[0]"]),
    ],
)
def test_bad_declarations_name_file_and_line(tmp_path: Path, entry: str, line_offset: int, words: list[str]) -> None:
    first = VALID.count("\n", 0, VALID.index("settings:\n")) + 1  # the line of "known_issues:"
    with pytest.raises(MatrixError) as info:
        load_matrix(write(tmp_path, _with("known_issues:\n" + entry)))
    err = info.value
    assert err.line == first + line_offset, str(err)
    assert str(err).startswith(f"{err.path}:{err.line}: ")
    for word in words:
        assert word in err.message, str(err)


def test_known_issues_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="known_issues must be a list"):
        load_matrix(write(tmp_path, _with("known_issues: {client: '2.0'}\n")))
