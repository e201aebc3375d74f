"""Atomic writes: the target holds the old content or the whole new one, and no temp file is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat.artifacts.atomic import atomic_path, write_text_atomically


def test_write_text_atomically_creates_parents_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "report.md"
    write_text_atomically(target, "one\n")
    write_text_atomically(target, "two ✓\n")
    assert target.read_text(encoding="utf-8") == "two ✓\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.md"]


def test_a_failed_write_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "compat.lock"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="checksum"), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".compat.lock.")
        tmp.write_text("half of the new")
        raise RuntimeError("checksum mismatch")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compat.lock"]
