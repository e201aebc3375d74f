"""Copies of a released gateway wheel for the benchmark's acceptance: one slowed, one unchanged.

Built the way ``tests/matrix/mutations`` builds mutants, but from the *released* wheel (the
wheelhouse is never touched): the wheel is unpacked into a private directory, ONE exact text
edit is applied (its anchor must occur exactly once, so a changed product fails the build
loudly instead of yielding a copy identical to the release), the version gets a PEP 440 local
segment (``3.0.0+slow60``, ``3.0.0+same``) in the metadata, the dist-info name and the
package's ``__version__``, RECORD is rewritten, and the files are zipped again as
``refgw-3.0.0+slow60-py3-none-any.whl``.

- ``slowed``: a busy wait of ``busy_us`` microseconds at the start of ``Gateway.insert`` (the
  order path: every order pays it, in the gateway's CPU and in its latency);
- ``unchanged``: only the version differs.

As a script (from the repository root), printing the wheel's path::

    python scripts/slowed_wheel.py slowed /tmp/wheels --busy-us 60
    python scripts/slowed_wheel.py unchanged /tmp/wheels

then ``compat bench --compare gateway=3.0.0,HEAD --candidate gateway=<that wheel> --client 3.0.0``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "wheelhouse" / "refgw-3.0.0-py3-none-any.whl"
INSERT_ANCHOR = '        """Route a validated order (risk checked here); raises Reject."""\n'


class WheelEditError(Exception):
    """The copy cannot be built as specified (anchor missing or ambiguous, not a wheel)."""


@dataclass(frozen=True)
class Edit:
    path: str  # inside the wheel
    anchor: str  # exact text that must occur exactly once
    replacement: str


def busy_wait_edit(busy_us: int) -> Edit:
    spin = (f"        import time as _mutant_time  # MUTANT slow{busy_us}: a busy wait on the order path\n"
            f"        _mutant_until = _mutant_time.perf_counter_ns() + {busy_us * 1000}\n"
            "        while _mutant_time.perf_counter_ns() < _mutant_until:\n"
            "            pass\n")
    return Edit("refgw/core.py", INSERT_ANCHOR, INSERT_ANCHOR + spin)


def slowed(out_dir: Path, busy_us: int = 60, released: Path = RELEASED) -> Path:
    """The released wheel with a ``busy_us`` busy wait per order, as ``<version>+slow<busy_us>``."""
    if busy_us <= 0:
        raise WheelEditError(f"busy_us must be positive, got {busy_us}")
    return copy_wheel(released, out_dir, f"slow{busy_us}", (busy_wait_edit(busy_us),))


def unchanged(out_dir: Path, released: Path = RELEASED) -> Path:
    """The released wheel with only its version changed, as ``<version>+same``."""
    return copy_wheel(released, out_dir, "same", ())


def copy_wheel(released: Path, out_dir: Path, local: str, edits: tuple[Edit, ...]) -> Path:
    name, version, tags = _split_name(released)
    new_version = f"{version}+{local}"
    files = _read(released)
    for edit in edits:
        text = files.get(edit.path)
        if text is None:
            raise WheelEditError(f"{released.name} has no {edit.path}")
        count = text.decode("utf-8").count(edit.anchor)
        if count != 1:
            raise WheelEditError(f"anchor {edit.anchor!r} occurs {count} times in {edit.path} of {released.name} "
                                 "(need exactly 1)")
        files[edit.path] = text.decode("utf-8").replace(edit.anchor, edit.replacement).encode("utf-8")
    files = _retag(files, name, version, new_version)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}-{new_version}-{tags}.whl"
    with (tempfile.NamedTemporaryFile(dir=out_dir, suffix=".part", delete=False) as part,
          zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as wheel):
        for path in sorted(files, key=lambda p: (".dist-info/" in p, p)):  # dist-info last, as wheels do
            # A fixed timestamp: the same copy is the same bytes, so its env (keyed by sha256) is reused.
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            wheel.writestr(info, files[path])
    Path(part.name).replace(target)
    return target


def _split_name(wheel: Path) -> tuple[str, str, str]:
    match = re.fullmatch(r"([A-Za-z0-9_.]+)-([^-]+)-(.+)\.whl", wheel.name)
    if match is None:
        raise WheelEditError(f"{wheel} is not a wheel file name")
    return match.group(1), match.group(2), match.group(3)


def _read(wheel: Path) -> dict[str, bytes]:
    if not wheel.is_file():
        raise WheelEditError(f"{wheel}: no such wheel")
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def _retag(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    """The new version in METADATA, ``__version__`` and the dist-info name; RECORD rewritten."""
    old_info, new_info = f"{name}-{old}.dist-info", f"{name}-{new}.dist-info"
    result: dict[str, bytes] = {}
    for path, data in files.items():
        if path == f"{old_info}/RECORD":
            continue
        if path == f"{old_info}/METADATA":
            data = _replace_once(data, f"\nVersion: {old}\n", f"\nVersion: {new}\n", path)
        elif path.endswith("/__init__.py") and path.count("/") == 1 and b"__version__" in data:
            data = _replace_once(data, f'__version__ = "{old}"', f'__version__ = "{new}"', path)
        result[path.replace(f"{old_info}/", f"{new_info}/", 1)] = data
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in sorted(result.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([path, f"sha256={digest}", len(data)])
    writer.writerow([f"{new_info}/RECORD", "", ""])
    result[f"{new_info}/RECORD"] = record.getvalue().encode()
    return result


def _replace_once(data: bytes, old: str, new: str, path: str) -> bytes:
    text = data.decode("utf-8")
    if text.count(old) != 1:
        raise WheelEditError(f"{path}: {old!r} occurs {text.count(old)} times (need exactly 1)")
    return text.replace(old, new).encode("utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("slowed", "unchanged"))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--busy-us", type=int, default=60, help="slowed: microseconds of busy wait per order")
    parser.add_argument("--wheel", type=Path, default=RELEASED, help="the released wheel to copy")
    args = parser.parse_args(argv)
    wheel = (slowed(args.out_dir, args.busy_us, args.wheel) if args.kind == "slowed"
             else unchanged(args.out_dir, args.wheel))
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
