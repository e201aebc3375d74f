"""A wheel rewritten: another version, some files replaced, everything else byte for byte.

Used where a variant of a built wheel is needed without its source tree: a protocol mutant of
a candidate (``compat coverage``: its generated ``*_pb2.py`` and ``*.desc`` replaced, a local
version ``+mutant.…``), or a released wheel republished as a patch release that changes nothing
but its version (the live-swap tests). The version is set where an installer and the product
read it: the ``.dist-info`` directory's name, ``METADATA``'s ``Version:``, the wheel's file name,
and a top-level ``__version__ = "…"`` line in the package's modules that carries the old
version. ``RECORD`` is written anew (sha256 and size of every file).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

from compat.artifacts.atomic import atomic_path
from compat.errors import ArtifactError


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def rewrite_wheel(wheel: Path, out_dir: Path, *, version: str | None = None,
                  replace: Mapping[str, bytes] | None = None) -> Path:
    """``wheel`` with ``version`` (None: unchanged) and the archive members in ``replace`` (path →
    new bytes; each must exist in the wheel) swapped in, written to ``out_dir``; returns its path."""
    try:
        name, old_version, build, tags = parse_wheel_filename(wheel.name)
    except Exception as exc:  # packaging's InvalidWheelFilename, named so the user sees which file
        raise ArtifactError(f"{wheel}: not a wheel file name ({exc})") from exc
    new_version = old_version
    if version is not None:
        try:
            new_version = Version(version)
        except InvalidVersion:
            raise ArtifactError(f"rewriting {wheel.name}: {version!r} is not a PEP 440 version") from None
    replacements = dict(replace or {})
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [(info, archive.read(info)) for info in archive.infolist() if not info.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{wheel}: cannot read the wheel ({exc})") from exc
    names = {info.filename for info, _ in members}
    unknown = sorted(set(replacements) - names)
    if unknown:
        raise ArtifactError(f"rewriting {wheel.name}: it has no member {', '.join(unknown)}")
    dist_info = next((n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")
                      and n.endswith("/METADATA")), None)
    if dist_info is None:
        raise ArtifactError(f"{wheel}: no *.dist-info/METADATA in the wheel")
    new_dist_info = f"{dist_info.removesuffix('.dist-info').rsplit('-', 1)[0]}-{new_version}.dist-info"
    old_text, new_text = str(old_version), str(new_version)
    version_line = re.compile(rf'(?m)^(__version__\s*=\s*)(["\']){re.escape(old_text)}\2')
    files: list[tuple[str, bytes]] = []
    for info, data in members:
        path = info.filename
        if path == f"{dist_info}/RECORD":
            continue
        data = replacements.get(path, data)
        if new_text != old_text:
            if path == f"{dist_info}/METADATA":
                data = re.sub(rb"(?m)^Version: .*$", f"Version: {new_text}".encode(), data, count=1)
            elif path.endswith(".py") and not path.startswith(dist_info):
                text = data.decode("utf-8", errors="surrogateescape")
                data = version_line.sub(lambda m: f"{m.group(1)}{m.group(2)}{new_text}{m.group(2)}", text) \
                    .encode("utf-8", errors="surrogateescape")
            if path.startswith(dist_info + "/"):
                path = new_dist_info + path[len(dist_info):]
        files.append((path, data))
    record_path = f"{new_dist_info}/RECORD"
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files) + f"{record_path},,\n"
    files.append((record_path, record.encode("utf-8")))
    build_tag = f"-{build[0]}{build[1]}" if build else ""
    tag_text = ".".join(sorted({t.interpreter for t in tags})) + "-" + ".".join(sorted({t.abi for t in tags})) \
        + "-" + ".".join(sorted({t.platform for t in tags}))
    target = out_dir / f"{name.replace('-', '_')}-{new_version}{build_tag}-{tag_text}.whl"
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(_zip(files))
    return target


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
