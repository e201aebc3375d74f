"""Which matrix a run belongs to, so the results store never mixes two matrices' runs.

The identity of a matrix is that of its *file*, not of its content: an edit of matrix.yaml
keeps the identity, so a verdict that changed because the file changed is history of that
matrix like any other flip, while two different matrix files never share one:

- ``settings.matrix_name`` in the file, when set (rename or move the file and keep its
  history; give two repositories that share one store distinct names);
- else the file's resolved path relative to its project: the work tree holding it (the
  nearest directory with a ``.git``), else ``root`` (the pytest rootdir, the current
  directory for the CLI), e.g. ``matrix.yaml`` or ``tests/matrix/matrix.yaml``; the same in
  every checkout, on every machine;
- else its absolute path.

The plugin stamps the identity into the run (``meta.matrix``: ``{"id", "path", "sha256"}``)
when it collects the results, so the JSON report carries it and ``compat history add``
records the run under the same identity. A run without ``meta.matrix`` (recorded before
compat knew identities, or built by hand) is ``legacy``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from compat.errors import ConfigError, ResultsError
from compat.results.model import RunResults

META_KEY = "matrix"  # RunResults.meta key: {"id": identity, "path": as identified, "sha256": of the file}
NAME_SETTING = "matrix_name"  # settings.matrix_name in matrix.yaml names the matrix explicitly
LEGACY = "legacy"  # the identity of runs that carry none
DEFAULT_MATRIX = Path("matrix.yaml")


def _project_root(path: Path, root: Path) -> Path | None:
    for folder in path.parents:
        if (folder / ".git").exists():
            return folder
    return root.resolve() if path.is_relative_to(root.resolve()) else None


def _name(settings: object, where: str, strict: bool) -> str | None:
    if not isinstance(settings, Mapping):
        return None
    value = settings.get(NAME_SETTING)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        if not strict:
            return None
        raise ConfigError(f"{where} settings.{NAME_SETTING}: expected a non-empty name, got {value!r}")
    return str(value).strip()


def matrix_meta(path: str | Path, root: Path | None = None, *, strict: bool = True) -> dict[str, Any]:
    """``meta.matrix`` of a run of the matrix file ``path`` (relative paths are relative to
    ``root``, default the current directory): ``{"id", "path", "sha256"}``. A file that cannot
    be read is identified by its path, without a sha256. An unusable ``settings.matrix_name``
    is a ConfigError (``strict=False``: ignored, the path identifies the matrix)."""
    base = root if root is not None else Path.cwd()
    given = Path(path)
    full = (given if given.is_absolute() else base / given).resolve()
    project = _project_root(full, base)
    shown = full.relative_to(project).as_posix() if project is not None else full.as_posix()
    try:
        data = full.read_bytes()
    except OSError:
        return {"id": shown, "path": shown, "sha256": ""}
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError:
        document = None
    name = _name(document.get("settings") if isinstance(document, Mapping) else None, str(given), strict)
    return {"id": name or shown, "path": shown, "sha256": hashlib.sha256(data).hexdigest()}


def matrix_identity(path: str | Path, root: Path | None = None) -> str:
    """The identity of the matrix file ``path`` (see the module docstring)."""
    return str(matrix_meta(path, root)["id"])


def with_matrix_meta(results: RunResults, root: Path | None = None) -> RunResults:
    """The results with ``meta.matrix`` stamped from their ``matrix_path`` (kept when already
    there; unchanged when the run names no matrix file). Never raises on a bad matrix name:
    the plugin stamps every run it collects."""
    if not results.matrix_path or isinstance(results.meta.get(META_KEY), Mapping):
        return results
    return replace(results, meta={**results.meta, META_KEY: matrix_meta(results.matrix_path, root, strict=False)})


def meta_matrix(meta: object) -> str:
    """The identity stamped in a run's meta (``meta.matrix.id``), else ``legacy``."""
    stamped = meta.get(META_KEY) if isinstance(meta, Mapping) else None
    if isinstance(stamped, Mapping):
        ident = stamped.get("id")
        if isinstance(ident, str) and ident.strip():
            return ident.strip()
    return LEGACY


def run_matrix(results: RunResults) -> str:
    """The identity a run was stamped with, else ``legacy``."""
    return meta_matrix(results.meta)


def listing(known: Mapping[str, str]) -> str:
    """``a (3 runs, newest run 9), b (1 run, newest run 4)`` for messages."""
    return "; ".join(f"{ident} ({about})" for ident, about in known.items()) or "none"


def choose_matrix(
    requested: str | None,
    known: Mapping[str, str],
    *,
    where: str,
    own: str | None = None,
    cwd: Path | None = None,
    must_exist: bool = True,
) -> str | None:
    """Which matrix's runs a command reads. ``known``: identity → description, of every matrix
    the store (or history directory) holds.

    ``requested`` (``--matrix``) is an identity the store holds, or a matrix file (identified as
    the plugin identifies it). Without it: the run's ``own`` identity (flips of a given results
    file), else ``./matrix.yaml``'s when the store holds runs of it, else the store's only
    matrix. A store holding several, none of them chosen, is an error listing them: the runs of
    two matrices are never mixed. None: the store holds no run at all. ``must_exist=False``
    accepts a requested matrix the store holds no run of yet (its queries answer nothing)."""
    here = cwd if cwd is not None else Path.cwd()
    if requested is not None and requested.strip():
        wanted = requested.strip()
        if wanted not in known and (here / wanted).is_file():
            wanted = matrix_identity(here / wanted, here)
        if must_exist and known and wanted not in known:
            raise ResultsError(
                f"{where} holds no run of matrix {wanted!r}"
                + (f" (from {requested})" if wanted != requested.strip() else "")
                + f"; it holds runs of: {listing(known)}; pass one of those to --matrix"
            )
        return wanted
    if own is not None and own != LEGACY:
        return own
    local = here / DEFAULT_MATRIX
    if local.is_file():
        try:
            ident = matrix_identity(local, here)
        except ConfigError:
            ident = ""
        if ident in known:
            return ident
    if len(known) <= 1:
        return next(iter(known), None)
    raise ResultsError(
        f"{where} holds runs of {len(known)} matrices and none was chosen: {listing(known)}; "
        "say which with --matrix ID (or run from the directory of its matrix.yaml): the runs of "
        "different matrices are never mixed"
    )


def file_matrices(runs: Sequence[RunResults]) -> dict[str, str]:
    """identity → description over runs read from files (the file-per-run history)."""
    counts: dict[str, int] = {}
    for results in runs:
        ident = run_matrix(results)
        counts[ident] = counts.get(ident, 0) + 1
    return {ident: f"{n} run{'s' if n != 1 else ''}" for ident, n in counts.items()}


def edit_note(before: RunResults, after: RunResults) -> str | None:
    """A line saying the matrix file changed between two runs of it (their ``meta.matrix``
    sha256 differ), so flips between them may come from the edit; None otherwise."""
    shas = []
    for results in (before, after):
        stamped = results.meta.get(META_KEY)
        sha = stamped.get("sha256") if isinstance(stamped, Mapping) else None
        if not isinstance(sha, str) or not sha:
            return None
        shas.append(sha)
    if shas[0] == shas[1]:
        return None
    return (
        f"  the matrix file changed between the two runs (sha256 {shas[0][:12]} → {shas[1][:12]}): "
        "a flip may come from the edit"
    )
