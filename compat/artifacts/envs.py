"""One virtual environment per (package, version, wheel sha256), built with uv and cached by content.

An N x M matrix needs N+M environments, not N x M: a release's env is shared by every cell
that uses it, across runs and across xdist workers.

How a build stays safe when several workers want the same env at once:

- a ``filelock`` per env key serialises builders; whoever gets it second finds the finished
  env and reuses it (``built=False``), so an env is never built twice;
- the env is built in a temporary directory beside the cache and renamed into place in one
  step, with a completion marker written *before* the rename. A directory without the
  marker (a crash mid-build from an older layout, a manual copy) is deleted and rebuilt,
  never reused;
- venvs are created ``--relocatable`` so the rename does not break their scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from packaging.utils import canonicalize_name
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from compat import timing
from compat.config.cell import Release
from compat.config.matrix import IndexSpec
from compat.errors import EnvBuildError
from compat.harness.uv import run_uv, tail

MARKER = "compat-env.json"
DEFAULT_ROOT = Path(".compat/envs")
BUILD_TIMEOUT_S = 600.0
PARALLEL_BUILDS = 2  # the machines this runs on are small; uv itself is parallel inside


@dataclass(frozen=True)
class Env:
    release: Release
    path: Path
    python: Path
    bin_dir: Path
    built: bool  # False when an existing env was reused
    seconds: float  # time ensure() took (build, or waiting for another worker's build)


class EnvCache:
    """Content-addressed venvs under ``root`` (default ``.compat/envs``)."""

    def __init__(
        self,
        root: Path = DEFAULT_ROOT,
        progress: Callable[[str], None] | None = None,
        *,
        index: IndexSpec | None = None,
        python: str | None = None,
        timeout_s: float = BUILD_TIMEOUT_S,
    ) -> None:
        self.root = root.resolve()
        self.progress = progress
        self.index = index  # where the product's own dependencies may come from, besides PyPI
        self.python = python or sys.executable
        self.timeout_s = timeout_s
        # A failed build is remembered: every cell needing that env gets the same ERROR at once,
        # instead of each re-running uv (the wheel is immutable, so the retry would fail again).
        self._failed: dict[str, str] = {}

    # --- one env ------------------------------------------------------------------------------
    def key(self, release: Release) -> str:
        """Directory name: package, version, interpreter and the wheel's content hash."""
        py = f"py{sys.version_info.major}{sys.version_info.minor}"
        return f"{canonicalize_name(release.package)}-{release.version}-{py}-{release.sha256[:16]}"

    def path_for(self, release: Release) -> Path:
        return self.root / self.key(release)

    def ensure(self, release: Release) -> Env:
        """The env of ``release``, built now if no complete one exists. Raises EnvBuildError."""
        started = timing.monotonic()
        path = self.path_for(release)
        if (path / MARKER).is_file():
            return self._env(release, path, built=False, started=started)
        if path.name in self._failed:
            raise EnvBuildError(self._failed[path.name])
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / f"{path.name}.lock"))
        try:
            with lock.acquire(timeout=self.timeout_s + 60.0):
                if (path / MARKER).is_file():  # another worker built it while we waited
                    return self._env(release, path, built=False, started=started)
                self._say(f"env {release}: building")
                try:
                    self._build(release, path)
                except EnvBuildError as exc:
                    self._failed[path.name] = str(exc)
                    raise
        except Timeout:
            raise EnvBuildError(
                f"env of {release}: waited {self.timeout_s + 60:.0f}s for {lock.lock_file}, held by another "
                "build; if no compat run is active, delete that file"
            ) from None
        return self._env(release, path, built=True, started=started)

    def _env(self, release: Release, path: Path, *, built: bool, started: float) -> Env:
        bin_dir = path / "bin"
        return Env(release, path, bin_dir / "python", bin_dir, built, timing.monotonic() - started)

    def _build(self, release: Release, path: Path) -> None:
        """Build into a scratch dir, mark complete, rename into place (we hold the lock)."""
        if path.exists():
            shutil.rmtree(path)  # half-built: no marker, never reused
        for stale in self.root.glob(f".tmp-{path.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a crashed build of this key (we hold its lock)
        scratch = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=self.root))
        try:
            venv = scratch / "venv"
            self._uv(release, ["venv", "--relocatable", "--quiet", "--python", self.python, str(venv)])
            self._uv(
                release,
                [
                    "pip",
                    "install",
                    "--python",
                    str(venv / "bin" / "python"),
                    *self._sources(release),
                    str(release.wheel),
                ],
            )
            marker = {
                "role": release.role,
                "package": release.package,
                "version": release.version,
                "wheel": str(release.wheel),
                "sha256": release.sha256,
                "python": self.python,
                "built_at": timing.utc_timestamp(),
            }
            (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            os.rename(venv, path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _sources(self, release: Release) -> list[str]:
        """Dependencies: the wheel's own directory and the matrix's index first, then PyPI."""
        args = ["--find-links", str(release.wheel.parent)]
        if self.index is not None and self.index.find_links is not None:
            args += ["--find-links", str(self.index.find_links)]
        if self.index is not None and self.index.url is not None:
            args += ["--extra-index-url", self.index.url]
        return args

    def _uv(self, release: Release, args: list[str]) -> None:
        if not release.wheel.is_file() and args[0] == "pip":
            raise EnvBuildError(f"env of {release}: wheel {release.wheel} does not exist")
        outcome = run_uv(args, name=f"uv-{release.name}", timeout_s=self.timeout_s)
        if outcome.returncode != 0:
            raise EnvBuildError(
                f"env of {release} failed: `uv {' '.join(args[:2])}` exited {outcome.returncode} after "
                f"{outcome.duration_s:.1f}s; wheel {release.wheel}; uv said:\n"
                f"{tail(outcome.stderr or outcome.stdout)}"
            )

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    # --- many envs ----------------------------------------------------------------------------
    def build_all(self, releases: Iterable[Release]) -> dict[Release, Env | EnvBuildError]:
        """Ensure every env; a failure is recorded for its release, the others still build."""
        unique = list(dict.fromkeys(releases))
        results: dict[Release, Env | EnvBuildError] = {}
        with _Display(len(unique), self.progress) as display:

            def one(release: Release) -> None:
                display.started(release)
                try:
                    env = self.ensure(release)
                except EnvBuildError as exc:
                    results[release] = exc
                    display.finished(release, f"FAILED ({str(exc).splitlines()[0]})")
                else:
                    results[release] = env
                    display.finished(release, f"built in {env.seconds:.1f}s" if env.built else "reused")

            with ThreadPoolExecutor(max_workers=PARALLEL_BUILDS) as pool:
                list(pool.map(one, unique))
        return {release: results[release] for release in unique}

    def ensure_all(self, releases: Iterable[Release]) -> list[Env]:
        """Every env, in order; raises the first EnvBuildError after trying them all."""
        results = self.build_all(releases)
        failures = [r for r in results.values() if isinstance(r, EnvBuildError)]
        if failures:
            raise failures[0]
        return [r for r in results.values() if isinstance(r, Env)]


class _Display:
    """A rich progress bar on a terminal, plain lines otherwise (CI logs, captured output)."""

    def __init__(self, total: int, plain: Callable[[str], None] | None) -> None:
        self.total = total
        self.done = 0
        self.plain = plain or _stderr_line
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Display:
        if self.total and sys.stderr.isatty():
            self._progress = Progress(
                TextColumn("compat envs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total)
        elif self.total:
            self.plain(f"compat: ensuring {self.total} envs (one per release)")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def started(self, release: Release) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=str(release))

    def finished(self, release: Release, what: str) -> None:
        with self._lock:
            self.done += 1
            if self._progress is not None and self._task is not None:
                self._progress.console.print(f"env {release}: {what}")
                self._progress.update(self._task, advance=1)
            else:
                self.plain(f"compat: [{self.done}/{self.total}] env {release}: {what}")


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
