"""Where wheels come from: a find-links directory or a PEP 503 simple index, plus the candidate.

- :func:`list_wheels` lists the released versions of a package (one wheel per version, the
  best one this interpreter can install; the source archive when a version has no wheel), with
  yank status: ``wheelhouse/yanked.json`` for a directory, the ``data-yanked`` attribute
  (PEP 592) for an index;
- :func:`fetch` copies or downloads one wheel and checks its sha256 when the index gives one;

Building the candidate is ``compat.artifacts.candidate``; choosing the releases of a run is
``compat.artifacts.resolve``.

``wheelhouse/yanked.json`` is either a list of wheel file names or a mapping of file name to
the reason it was yanked (``{"refgw-2.2.0-py3-none-any.whl": "corrupts prices"}``).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO

from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from compat.artifacts.atomic import atomic_path
from compat.config.matrix import IndexSpec
from compat.errors import ArtifactError, ConfigError, WheelNotFound
from compat.harness.uv import file_sha256

YANKED_FILE = "yanked.json"
SDIST_SUFFIXES = (".tar.gz", ".zip")
BUILD_TIMEOUT_S = 600.0
HTTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WheelRef:
    """One wheel (or, for a version released without one, source archive) an index offers."""

    package: str
    version: Version
    filename: str
    location: str  # a local path (find-links) or a URL (index)
    yanked: bool
    yank_reason: str | None
    sha256: str | None = None  # from the index URL's #sha256= fragment, when given

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(SDIST_SUFFIXES)

    @property
    def is_remote(self) -> bool:
        return urllib.parse.urlsplit(self.location).scheme in ("http", "https")


# --- listing ---------------------------------------------------------------------------------


def list_wheels(index: IndexSpec, package: str) -> list[WheelRef]:
    """The versions of ``package`` the index offers, oldest first: one installable wheel each, or
    the source archive of a version published without a wheel this interpreter can install."""
    if index.url is not None:
        refs = _list_url(index.url, package)
    elif index.find_links is not None:
        refs = _list_dir(index.find_links, package)
    else:
        raise ConfigError("the index names neither a find-links directory nor a URL")
    return _best_per_version(refs)


def _list_dir(directory: Path, package: str) -> list[WheelRef]:
    if not directory.is_dir():
        raise WheelNotFound(
            f"find-links directory {directory} does not exist; create it, or set index.find_links or "
            "index.url in matrix.yaml"
        )
    yanked = _read_yanked(directory / YANKED_FILE)
    refs: list[WheelRef] = []
    for path in sorted(p for p in directory.iterdir() if p.name.endswith((".whl", *SDIST_SUFFIXES))):
        parsed = _parse(path.name, package)
        if parsed is None:
            continue
        reason = yanked.get(path.name)
        refs.append(WheelRef(package, parsed, path.name, str(path), path.name in yanked, reason or None))
    return refs


def _read_yanked(path: Path) -> dict[str, str]:
    """File name → reason ('' when none given)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: cannot read the yanked list: {exc}") from None
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return dict.fromkeys(data, "")
    if isinstance(data, dict) and all(isinstance(k, str) for k in data):
        return {k: v if isinstance(v, str) else "" for k, v in data.items()}
    raise ArtifactError(f"{path}: expected a list of wheel file names or a mapping of file name to reason")


def _parse(filename: str, package: str) -> Version | None:
    """The version of a wheel or sdist of ``package``, or None for another package, another
    kind of file or a broken name."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith(SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return version if name == canonicalize_name(package) else None


_TAG_RANK: dict[Tag, int] = {}


def _rank(filename: str) -> int | None:
    """Lower is better; None when this interpreter cannot install the wheel. A source archive
    ranks below every installable wheel: it is used only for a version that has none."""
    if not _TAG_RANK:
        _TAG_RANK.update({tag: i for i, tag in enumerate(sys_tags())})
    if filename.endswith(SDIST_SUFFIXES):
        return len(_TAG_RANK)
    _name, _version, _build, tags = parse_wheel_filename(filename)
    ranks = [_TAG_RANK[t] for t in tags if t in _TAG_RANK]
    return min(ranks) if ranks else None


def _best_per_version(refs: Sequence[WheelRef]) -> list[WheelRef]:
    best: dict[Version, tuple[int, WheelRef]] = {}
    for ref in refs:
        rank = _rank(ref.filename)
        if rank is None:
            continue
        if ref.version not in best or rank < best[ref.version][0]:
            best[ref.version] = (rank, ref)
    return [best[v][1] for v in sorted(best)]


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def _list_url(base: str, package: str) -> list[WheelRef]:
    page = urllib.parse.urljoin(base, canonicalize_name(package) + "/")
    html = _get_text(page)
    if html is None:
        return []  # the index does not know the package: no versions
    parser = _Anchors()
    parser.feed(html)
    refs: list[WheelRef] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url = urllib.parse.urljoin(page, href)
        split = urllib.parse.urlsplit(url)
        filename = urllib.parse.unquote(split.path.rsplit("/", 1)[-1])
        version = _parse(filename, package)
        if version is None:
            continue
        sha256 = None
        if split.fragment.startswith("sha256="):
            sha256 = split.fragment.partition("=")[2]
        yanked = "data-yanked" in attrs
        reason = attrs.get("data-yanked") or None
        location = urllib.parse.urlunsplit(split._replace(fragment=""))
        refs.append(WheelRef(package, version, filename, location, yanked, reason, sha256))
    return refs


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("localhost", "::1") or host.startswith("127."):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never proxied
    return urllib.request.build_opener()


def _get_text(url: str) -> str | None:
    """The page at ``url``, or None on 404. A file:// directory serves its index.html."""
    split = urllib.parse.urlsplit(url)
    if split.scheme == "file":
        path = Path(urllib.parse.unquote(split.path))
        page = path / "index.html" if path.is_dir() else path
        return page.read_text(encoding="utf-8") if page.is_file() else None
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with _opener(url).open(request, timeout=HTTP_TIMEOUT_S) as response:
            data: bytes = response.read()
            return data.decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise ArtifactError(f"index {url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ArtifactError(f"cannot reach index {url}: {reason}; check index.url in matrix.yaml") from None


# --- fetching ----------------------------------------------------------------------------------


def fetch(ref: WheelRef, dest: Path) -> Path:
    """``dest/<filename>``: copied from a directory or downloaded, sha256-checked when known."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / ref.filename
    if target.exists():
        expected = ref.sha256 or (None if ref.is_remote else file_sha256(local_path(ref)))
        if expected is not None and file_sha256(target) == expected:
            return target  # already there and identical
    with atomic_path(target) as tmp:
        with tmp.open("wb") as out:
            if ref.is_remote:
                _download(ref.location, out)
            else:
                with local_path(ref).open("rb") as source:
                    shutil.copyfileobj(source, out)
        if ref.sha256 is not None:
            actual = file_sha256(tmp)
            if actual != ref.sha256:
                raise ArtifactError(
                    f"{ref.filename} from {ref.location} has sha256 {actual}, but the index says "
                    f"{ref.sha256}; the download is corrupt or the index is wrong"
                )
    return target


def local_path(ref: WheelRef) -> Path:
    split = urllib.parse.urlsplit(ref.location)
    if split.scheme == "file":
        return Path(urllib.parse.unquote(split.path))
    return Path(ref.location)


def _download(url: str, out: IO[bytes]) -> None:
    try:
        with _opener(url).open(url, timeout=HTTP_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ArtifactError(f"cannot download {url}: {reason}") from None
