"""Atomic file writes: a reader sees the old file or the whole new one, never half of it.

Write into a temporary file beside the target, then ``os.replace`` it onto the target (one
rename on the same file system). On an exception the temporary file is removed and the
target is left as it was. The lock, fetched wheels and every report are written this way.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; moved onto ``path`` when the block ends cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    """``path.write_text(text)`` (UTF-8), but a reader never sees half of it."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


__all__ = ["atomic_path", "write_text_atomically"]
