"""The artifact commands: `compat lock` (pin the resolved released versions) and `compat
release` (build a product wheel into the wheelhouse, or yank one). Wiring only: the work is in
``compat.artifacts.index``, ``lock`` and ``release``."""

from __future__ import annotations

import argparse
from pathlib import Path

from compat.artifacts.lock import write_lock
from compat.artifacts.release import __doc__ as release_module_doc
from compat.artifacts.release import release, yank
from compat.artifacts.resolve import resolve
from compat.config.matrix import load_matrix
from compat.errors import ReleaseError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_lock(subparsers)
    _register_release(subparsers)


def _register_lock(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lock",
        help="resolve the released versions matrix.yaml selects and pin them in a lock file",
        description="Resolve the version policies of matrix.yaml against the index and write the "
        "released wheels (file name + sha256) to a lock that later runs reuse.",
    )
    parser.add_argument("--matrix", type=Path, default=Path("matrix.yaml"), help="default: matrix.yaml")
    parser.add_argument("--output", type=Path, default=None, help="default: lock.path of matrix.yaml")
    parser.set_defaults(func=_run_lock)


def _run_lock(args: argparse.Namespace) -> int:
    matrix = load_matrix(args.matrix)
    resolved = resolve(matrix, None, matrix.root / ".compat" / "build", include_candidates=False)
    output: Path = args.output if args.output is not None else matrix.lock.path
    write_lock(output, resolved, matrix)
    for role, releases in sorted(resolved.items()):
        versions = ", ".join(r.version + (" (yanked)" if r.yanked else "") for r in releases)
        print(f"{role}: {versions}")
    print(f"wrote {output}")
    return 0


def _run_release(args: argparse.Namespace) -> int:
    wheelhouse = Path(args.wheelhouse)
    if args.yank:
        if args.source_dir:
            raise ReleaseError("give either SOURCE_DIR (release) or --yank WHEEL_FILENAME, not both")
        yank(wheelhouse, args.yank, args.reason or "")
        print(f"yanked {args.yank}: {args.reason}")
        return 0
    if not args.source_dir:
        raise ReleaseError("nothing to do: give SOURCE_DIR to release, or --yank WHEEL_FILENAME --reason TEXT")
    notes = args.notes or ""
    if args.notes_file:
        notes = Path(args.notes_file).read_text(encoding="utf-8")
    wheel = release(Path(args.source_dir), wheelhouse, notes)
    print(f"released {wheel}")
    return 0


def _register_release(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "release",
        help="build a product wheel into the wheelhouse (never overwriting), or yank one",
        description=release_module_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source_dir", nargs="?", help="product source directory with a pyproject.toml")
    parser.add_argument("--wheelhouse", default="wheelhouse", help="released wheels directory")
    parser.add_argument("--notes", help="release notes appended to the product's CHANGELOG.md")
    parser.add_argument("--notes-file", help="read the release notes from this file")
    parser.add_argument("--yank", metavar="WHEEL_FILENAME", help="mark a released wheel yanked")
    parser.add_argument("--reason", help="why the wheel is yanked (required with --yank)")
    parser.set_defaults(func=_run_release)
