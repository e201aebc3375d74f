"""The verdict cache: one SQLite file of reusable (cell, scenario) results, keyed by content.

Each entry is one result, under the key ``compat.results.cache_key.result_key`` computed from
everything that could change it, with what is needed to replay it as if it ran: the verdict,
where and when it was produced (the run id and date every report shows as ``cached_from``),
how long it took, the inputs it turned out to depend on (``Deps``) and the pytest reports of its
final attempt (outcome, longrepr, user_properties: the verdict payload, log tails, wire).

Only *clean* results are stored (``CACHEABLE``): never ``error`` (infrastructure) nor ``flaky``
(not settled), nor ``stale`` (its pytest outcome depends on ``--compat-allow-stale``, and it is
meant to be fixed in matrix.yaml, which changes its key anyway).

The file travels: a CI cache step saves and restores it, and ``merge`` unions the files of
several shards like ``compat merge`` unions their reports (``compat verdict-cache merge``).
Concurrent writers (xdist workers, shards on one machine) are safe: SQLite serialises them under
``BEGIN IMMEDIATE`` with a busy timeout, in rollback-journal mode, so the cache is one file at
rest (no ``-wal`` beside it to forget in a CI cache step).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from compat.errors import ResultsError
from compat.results.cache_key import Deps
from compat.results.model import Verdict

CACHE_SCHEMA = 1
DEFAULT_NAME = "verdicts.db"  # under the cache dir (--compat-cache-dir, default .compat)
CACHEABLE: frozenset[Verdict] = frozenset({Verdict.PASS, Verdict.FAIL, Verdict.EXPECTED_FAIL, Verdict.NA})
_BUSY_TIMEOUT_S = 60.0
_DDL = (
    "CREATE TABLE IF NOT EXISTS cache_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS verdicts (
        key TEXT PRIMARY KEY,
        cell_id TEXT NOT NULL,
        scenario TEXT NOT NULL,
        verdict TEXT NOT NULL,
        run_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        duration_s REAL NOT NULL,
        deps TEXT NOT NULL,
        reports BLOB NOT NULL)""",
)
_COLUMNS = "key, cell_id, scenario, verdict, run_id, recorded_at, duration_s, deps, reports"


@dataclass(frozen=True)
class CachedResult:
    """One reusable result. ``reports``: the final attempt's pytest reports as plain dicts
    (``when``, ``outcome``, ``longrepr``, ``wasxfail``, ``user_properties``)."""

    key: str
    cell_id: str
    scenario: str
    verdict: Verdict
    run_id: str
    recorded_at: str
    duration_s: float
    deps: Deps
    reports: tuple[dict[str, Any], ...]

    def origin(self) -> dict[str, Any]:
        """``cached_from`` of the reports: the run that produced it, when, and what it took then."""
        return {"run_id": self.run_id, "date": self.recorded_at, "duration_s": round(self.duration_s, 6)}

    def _row(self) -> tuple[Any, ...]:
        packed = zlib.compress(json.dumps(list(self.reports), separators=(",", ":")).encode("utf-8"))
        return (self.key, self.cell_id, self.scenario, str(self.verdict), self.run_id, self.recorded_at,
                float(self.duration_s), json.dumps(self.deps.to_dict(), separators=(",", ":")), packed)

    @staticmethod
    def _from_row(row: Sequence[Any], where: str) -> CachedResult:
        key, cell_id, scenario, verdict, run_id, recorded_at, duration_s, deps, reports = row
        try:
            return CachedResult(str(key), str(cell_id), str(scenario), Verdict(verdict), str(run_id),
                                str(recorded_at), float(duration_s), Deps.from_dict(json.loads(deps)),
                                tuple(json.loads(zlib.decompress(reports).decode("utf-8"))))
        except (ValueError, TypeError, zlib.error) as exc:
            raise ResultsError(f"verdict cache {where}: entry {str(key)[:16]} of {cell_id} {scenario} is "
                               f"unreadable ({exc}); delete the file, the next run rebuilds it") from None


@dataclass(frozen=True)
class MergeOutcome:
    entries: int  # in the merged file
    conflicts: tuple[str, ...]  # "cell scenario" of keys recorded with two different verdicts (dropped)


class VerdictCache:
    """One connection to a cache file (created on first use). Share the path, not the object."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ResultsError(f"no verdict cache at {self.path}: `pytest -m compat` writes one there "
                               "(--compat-verdict-cache)")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA journal_mode = DELETE")  # one file at rest, for CI cache steps
            self._ensure_schema()
        except sqlite3.DatabaseError as exc:
            raise ResultsError(f"verdict cache {self.path} is not usable: {exc} (not a cache written by "
                               "compat? delete it or pass another --compat-verdict-cache)") from None

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _ensure_schema(self) -> None:
        with self._write() as tx:
            for statement in _DDL:
                tx.execute(statement)
            rows = tx.execute("SELECT version FROM cache_schema").fetchall()
            if not rows:
                tx.execute("INSERT INTO cache_schema (version) VALUES (?)", (CACHE_SCHEMA,))
                return
        version = int(rows[0][0])
        if version != CACHE_SCHEMA:
            raise ResultsError(f"verdict cache {self.path} has schema {version}, this compat reads {CACHE_SCHEMA}; "
                               "delete it (it only saves time) or use the compat that wrote it")

    # --- entries ---------------------------------------------------------------------------

    def get(self, key: str) -> CachedResult | None:
        try:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM verdicts WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise ResultsError(f"verdict cache {self.path}: cannot read: {exc}") from None
        return CachedResult._from_row(row, str(self.path)) if row is not None else None

    def put(self, entry: CachedResult) -> None:
        if entry.verdict not in CACHEABLE:
            raise ValueError(f"a {entry.verdict} result is never cached ({entry.cell_id} {entry.scenario})")
        try:
            with self._write() as tx:
                tx.execute(f"INSERT OR REPLACE INTO verdicts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           entry._row())
        except sqlite3.Error as exc:  # locked beyond the busy timeout, a full disk, a read-only file
            raise ResultsError(f"verdict cache {self.path}: cannot record {entry.cell_id} {entry.scenario}: "
                               f"{exc}") from None

    def past_durations(self, exclude_run: str) -> dict[tuple[str, str], float]:
        """The latest recorded duration of each (cell id, scenario), leaving out the entries of run
        ``exclude_run``: what a run can weigh its cells by before recording anything of its own."""
        try:
            rows = self._conn.execute("SELECT cell_id, scenario, duration_s FROM verdicts WHERE run_id != ? "
                                      "ORDER BY recorded_at", (exclude_run,)).fetchall()
        except sqlite3.Error as exc:
            raise ResultsError(f"verdict cache {self.path}: cannot read: {exc}") from None
        return {(str(cell), str(scenario)): float(seconds) for cell, scenario, seconds in rows}

    def entries(self) -> Iterator[CachedResult]:
        for row in self._conn.execute(f"SELECT {_COLUMNS} FROM verdicts ORDER BY key"):
            yield CachedResult._from_row(row, str(self.path))

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def span(self) -> tuple[str, str] | None:
        """(oldest, newest) ``recorded_at`` of the entries; None when empty."""
        low, high = self._conn.execute("SELECT MIN(recorded_at), MAX(recorded_at) FROM verdicts").fetchone()
        return (str(low), str(high)) if low is not None else None

    def prune(self, before: str) -> int:
        """Delete the entries recorded before ``before`` (an ISO timestamp); how many went."""
        with self._write() as tx:
            removed = tx.execute("DELETE FROM verdicts WHERE recorded_at < ?", (before,)).rowcount
        self._conn.execute("VACUUM")
        return int(removed)


def merge(sources: Iterable[Path], output: Path) -> MergeOutcome:
    """Union the cache files ``sources`` into ``output`` (which may be one of them): per key the
    newest entry; a key recorded with two different verdicts (a result that is not
    deterministic) is dropped, so it runs again. Written to a scratch file and moved in place."""
    chosen: dict[str, CachedResult] = {}
    conflicted: dict[str, str] = {}
    for source in sources:
        with VerdictCache(source, create=False) as cache:
            for entry in cache.entries():
                if entry.key in conflicted:
                    continue
                seen = chosen.get(entry.key)
                if seen is not None and seen.verdict != entry.verdict:
                    conflicted[entry.key] = f"{entry.cell_id} {entry.scenario}"
                    del chosen[entry.key]
                elif seen is None or entry.recorded_at > seen.recorded_at:
                    chosen[entry.key] = entry
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{output.name}-", suffix=".tmp", dir=output.parent)
    os.close(handle)
    os.unlink(scratch)  # sqlite creates it
    try:
        with VerdictCache(Path(scratch)) as merged, merged._write() as tx:
            tx.executemany(f"INSERT INTO verdicts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [entry._row() for entry in chosen.values()])
        os.replace(scratch, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
    return MergeOutcome(entries=len(chosen), conflicts=tuple(sorted(conflicted.values())))
