"""The results store: every run recorded in a database, SQLite by default, PostgreSQL when a
team shares one.

``open_store(None)`` opens ``.compat/results.db`` (stdlib ``sqlite3``); ``open_store(
"postgresql://user@host/db")`` a shared server (``psycopg`` 3). Both speak the same schema:

- ``compat_schema(version)``: one row, the store schema version (``STORE_SCHEMA``);
- ``compat_runs``: one row per recorded run (sha, label, times, counts, the identity of its
  matrix, and the full JSON report, so any run can be read back as ``RunResults`` losslessly);
- ``compat_results``: one row per (run, venue, cell, scenario) verdict, for the queries that
  span runs (flips, flake rates, durations, the newest run of a pair); a result reused from
  the verdict cache (``cached_from``) has none: it was observed by the run it came from.

Every query that spans runs reads the runs of one matrix (``matrix_id``,
``compat.results.identity``): flips and flake rates of one matrix never see another's runs.
Asked without a matrix, a store holding several refuses and lists them.

A store of an older schema is migrated when opened (``_UPGRADES``), in one transaction:
schema 1 → 2 added ``compat_runs.matrix_id``, filled from each document's ``meta.matrix``
when it has one, else ``legacy``.

Concurrent writers are safe: SQLite runs in WAL mode and writes under ``BEGIN IMMEDIATE``
with a busy timeout; PostgreSQL creates its schema under a transaction-scoped advisory lock
and takes run ids from an identity column. One ``ResultsStore`` object is one connection:
share the URL between processes and threads, not the object.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from filelock import FileLock, Timeout

from compat import timing
from compat.config.versions import same_version
from compat.errors import CompatError, ResultsError
from compat.results.identity import LEGACY, listing, meta_matrix, run_matrix
from compat.results.jsonfile import parse_report, render_json, report_dict
from compat.results.model import CellResult, RunResults

STORE_SCHEMA = 2
DEFAULT_STORE = Path(".compat") / "results.db"
_PG_LOCK_KEY = 0x636F6D706174  # "compat": serialises schema creation between PostgreSQL clients
_BUSY_TIMEOUT_S = 30.0

_RUN_COLUMNS = (
    "run_id, recorded_at, started_at, finished_at, git_sha, label, matrix_path, cells, scenarios, blocking, matrix_id"
)


def _ddl(run_id_column: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE IF NOT EXISTS compat_schema (version INTEGER NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS compat_runs (
            run_id {run_id_column},
            recorded_at TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            git_sha TEXT,
            label TEXT,
            matrix_path TEXT NOT NULL,
            cells INTEGER NOT NULL,
            scenarios INTEGER NOT NULL,
            blocking INTEGER NOT NULL,
            document TEXT NOT NULL,
            matrix_id TEXT NOT NULL DEFAULT 'legacy')""",
        """CREATE TABLE IF NOT EXISTS compat_results (
            run_id BIGINT NOT NULL REFERENCES compat_runs (run_id) ON DELETE CASCADE,
            venue TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            client_version TEXT NOT NULL,
            gateway_version TEXT NOT NULL,
            candidate INTEGER NOT NULL,
            scenario TEXT NOT NULL,
            verdict TEXT NOT NULL,
            duration_s DOUBLE PRECISION NOT NULL,
            attempts INTEGER NOT NULL,
            reason TEXT,
            PRIMARY KEY (run_id, venue, cell_id, scenario))""",
        "CREATE INDEX IF NOT EXISTS compat_results_cell ON compat_results (cell_id, scenario)",
        "CREATE INDEX IF NOT EXISTS compat_results_pair ON compat_results (client_version, gateway_version, venue)",
        "CREATE INDEX IF NOT EXISTS compat_runs_label ON compat_runs (label, run_id)",
        _MATRIX_INDEX,
    )


_MATRIX_INDEX = "CREATE INDEX IF NOT EXISTS compat_runs_matrix ON compat_runs (matrix_id, label, run_id)"


def _upgrade_1_to_2(tx: _Writer) -> None:
    """Schema 2: every run carries the identity of its matrix. Existing runs get the one their
    document's ``meta.matrix`` records, else ``legacy``; no row is rewritten otherwise."""
    tx.execute(f"ALTER TABLE compat_runs ADD COLUMN matrix_id TEXT NOT NULL DEFAULT '{LEGACY}'")
    # Only documents that mention a "matrix" key can carry meta.matrix ("matrix_path" does not
    # match): the rest keep legacy without being read.
    mentions = tx.execute("SELECT run_id, document FROM compat_runs WHERE document LIKE ?", ('%"matrix"%',))
    for run_id, document in mentions:
        try:
            meta = json.loads(document).get("meta")
        except (ValueError, AttributeError):
            continue
        ident = meta_matrix(meta)
        if ident != LEGACY:
            tx.execute("UPDATE compat_runs SET matrix_id = ? WHERE run_id = ?", (ident, run_id))
    tx.execute(_MATRIX_INDEX)


# schema version → the step that upgrades a store of that version to the next one
_UPGRADES: dict[int, Callable[[_Writer], None]] = {1: _upgrade_1_to_2}


@dataclass(frozen=True)
class RunInfo:
    """One recorded run, without its cells (``ResultsStore.load(run_id)`` reads those)."""

    run_id: int
    recorded_at: str
    started_at: str
    finished_at: str
    git_sha: str | None
    label: str | None
    matrix_path: str
    cells: int
    scenarios: int
    blocking: int
    matrix: str = LEGACY  # the identity of the run's matrix (compat.results.identity)

    def describe(self) -> str:
        """``run 12 (release, 0123abc, 2026-11-25T16:05:00Z)``."""
        parts = [p for p in (self.label, (self.git_sha or "")[:12], self.recorded_at) if p]
        return f"run {self.run_id} ({', '.join(parts)})"


@dataclass(frozen=True)
class MatrixRuns:
    """The runs of one matrix in a store."""

    matrix: str
    runs: int
    newest_run: int
    newest_at: str

    def describe(self) -> str:
        return f"{self.runs} run{'s' if self.runs != 1 else ''}, newest run {self.newest_run} at {self.newest_at}"


@dataclass(frozen=True)
class HistoryPoint:
    """The verdict of one (venue, cell, scenario) in one recorded run."""

    run_id: int
    recorded_at: str
    label: str | None
    git_sha: str | None
    venue: str
    cell_id: str
    scenario: str
    verdict: str
    duration_s: float


def is_candidate(cell_id: str) -> bool:
    """Cells of a candidate built from the working tree carry ``+candidate`` in their id
    (``Release.label``); their code changes between runs although the version may not."""
    return "candidate" in cell_id


class _Backend(Protocol):
    """What differs between SQLite and PostgreSQL: connecting, placeholders, transactions."""

    where: str  # the store's location for messages, password redacted

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def write(self) -> contextlib.AbstractContextManager[_Writer]: ...

    def close(self) -> None: ...


class _Writer(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


# --- SQLite ---------------------------------------------------------------------------------


class _SqliteWriter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, tuple(params)).fetchall())

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, [tuple(r) for r in rows])


class _Sqlite:
    def __init__(self, path: Path) -> None:
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Switching a file to WAL (and opening one while another process switches it)
            # can fail with "database is locked" without SQLite's busy handler ever waiting,
            # so processes opening the same store take turns here. The sidecar lock file
            # stays: deleting it would race with the next opener.
            with FileLock(f"{path}.lock", timeout=_BUSY_TIMEOUT_S):
                # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE for
                # writers), so two processes never both hold a read lock and then deadlock
                # upgrading it.
                self.conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
                self.conn.execute("PRAGMA foreign_keys = ON")
                self.conn.execute("PRAGMA journal_mode = WAL")
        except Timeout as exc:
            raise ResultsError(
                f"results store {self.where}: another process held {path}.lock for "
                f"{_BUSY_TIMEOUT_S:.0f}s while opening the store"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.where, exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.where, exc) from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[_Writer]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.where, exc) from exc
        try:
            yield _SqliteWriter(self.conn)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.where, exc) from exc

    def close(self) -> None:
        self.conn.close()


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")  # the store's SQL never holds a literal "?"


class _PgWriter:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(_pg_sql(sql), tuple(params))
            return list(cur.fetchall()) if cur.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg_sql(sql), [tuple(r) for r in rows])


class _Postgres:
    def __init__(self, url: str) -> None:
        self.where = redact(url)
        try:
            import psycopg
        except ModuleNotFoundError as exc:
            raise ResultsError(
                f"results store {self.where} is PostgreSQL, but psycopg is not installed; "
                "install it with `pip install 'psycopg[binary]'` (compat-matrix[dev] has it)"
            ) from exc
        self._error: type[Exception] = psycopg.Error
        try:
            # autocommit: every read and write below runs in its own explicit transaction block
            self.conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
        except psycopg.Error as exc:
            raise ResultsError(
                f"cannot connect to the PostgreSQL results store {self.where}: {_first(exc)}; "
                "check that the server runs, the URL (host, port, database) and the credentials"
            ) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.conn.transaction():
                return _PgWriter(self.conn).execute(sql, params)
        except self._error as exc:
            raise _unusable(self.where, exc) from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[_Writer]:
        try:
            with self.conn.transaction():
                yield _PgWriter(self.conn)
        except self._error as exc:
            raise _unusable(self.where, exc) from exc

    def close(self) -> None:
        self.conn.close()


def redact(url: str) -> str:
    """The URL without its password, for messages: ``postgresql://u:***@h/db``."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _unusable(where: str, exc: BaseException) -> ResultsError:
    return ResultsError(
        f"results store {where}: {type(exc).__name__}: {_first(exc)}; if the file is not a compat "
        "results store, pass another --store (or move the file away)"
    )


# --- the store ------------------------------------------------------------------------------


class ResultsStore:
    """Records runs and answers questions across them. Open with :func:`open_store`."""

    def __init__(self, backend: _Backend, postgres: bool) -> None:
        self._db = backend
        self.postgres = postgres
        self._migrate()

    @property
    def where(self) -> str:
        return self._db.where

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _installed_version(self, run: Callable[[str], list[tuple[Any, ...]]]) -> int | None:
        if self.postgres:
            # a scan of pg_tables, not to_regclass(): that reads the backend's name cache, which
            # can still say "absent" after another session committed the schema
            exists = bool(
                run(
                    "SELECT 1 FROM pg_catalog.pg_tables"
                    " WHERE schemaname = current_schema() AND tablename = 'compat_schema'"
                )
            )
        else:
            exists = bool(run("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'compat_schema'"))
        if not exists:
            return None
        rows = run("SELECT version FROM compat_schema")
        return int(rows[0][0]) if rows else None

    def _migrate(self) -> None:
        # DDL runs only on a store without the schema, or of an older one: even CREATE INDEX IF
        # NOT EXISTS locks an existing table before it looks, and that deadlocks against
        # concurrent writers. So: read first, and check again once the migration lock is held
        # (another process may have created or upgraded the schema while this one waited).
        version = self._installed_version(self._db.query)
        if version is None or version in _UPGRADES:
            run_id = (
                "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
                if self.postgres
                else "INTEGER PRIMARY KEY AUTOINCREMENT"
            )
            with self._db.write() as tx:  # SQLite: BEGIN IMMEDIATE is the migration lock
                if self.postgres:
                    tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
                version = self._installed_version(tx.execute)
                if version is None:
                    for statement in _ddl(run_id):
                        tx.execute(statement)
                    tx.execute("INSERT INTO compat_schema (version) VALUES (?)", (STORE_SCHEMA,))
                    version = STORE_SCHEMA
                # one transaction: a failed upgrade leaves the store as it was
                while version in _UPGRADES:
                    _UPGRADES[version](tx)
                    version += 1
                    tx.execute("UPDATE compat_schema SET version = ?", (version,))
        if version != STORE_SCHEMA:
            raise ResultsError(
                f"results store {self.where} has schema version {version}, this compat reads "
                f"version {STORE_SCHEMA}; use the compat version that wrote it, or another store"
            )

    # --- writing ---------------------------------------------------------------------------

    def record(
        self, results: RunResults, *, git_sha: str | None = None, label: str | None = None, matrix: str | None = None
    ) -> int:
        """Store one run (all its cells and scenarios) and return its run id. ``matrix``: the
        identity of its matrix; default the one stamped in the run (``meta.matrix``), else legacy."""
        matrix_id = (matrix or "").strip() or run_matrix(results)
        document = _compact_json(results)
        scenarios = [(c, s) for c in results.cells for s in c.scenarios]
        rows = [
            (
                c.venue,
                c.cell_id,
                c.client_version,
                c.gateway_version,
                int(is_candidate(c.cell_id)),
                s.scenario,
                str(s.verdict),
                float(s.duration_s),
                int(s.attempts),
                s.reason,
            )
            for c, s in scenarios
            # A result reused from the verdict cache is not an observation of this run: it
            # stays in the run's document (cached_from) but not in the rows flips, flake rates,
            # durations and "the newest run that tested a pair" are computed from.
            if s.cached_from is None
        ]
        seen: set[tuple[str, str, str]] = set()
        for row in rows:
            key = (row[0], row[1], row[5])
            if key in seen:
                raise ResultsError(
                    f"cannot record: venue {key[0]} cell {key[1]} scenario {key[2]} appears twice "
                    "in the results; merge shards with compat.report.merge before recording"
                )
            seen.add(key)
        with self._db.write() as tx:
            inserted = tx.execute(
                "INSERT INTO compat_runs (recorded_at, started_at, finished_at, git_sha, label, matrix_path,"
                " cells, scenarios, blocking, document, matrix_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING run_id",
                (
                    timing.utc_timestamp(),
                    results.started_at,
                    results.finished_at,
                    git_sha if git_sha is not None else results.meta.get("git_sha"),
                    label,
                    results.matrix_path,
                    len(results.cells),
                    len(scenarios),
                    sum(1 for _, s in scenarios if s.verdict.blocks_release),
                    document,
                    matrix_id,
                ),
            )
            run_id = int(inserted[0][0])
            tx.executemany(
                "INSERT INTO compat_results (run_id, venue, cell_id, client_version, gateway_version,"
                " candidate, scenario, verdict, duration_s, attempts, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, *row) for row in rows],
            )
        return run_id

    # --- reading ---------------------------------------------------------------------------

    def matrices(self) -> list[MatrixRuns]:
        """The matrices the store holds runs of, the most recently run first."""
        rows = self._db.query(
            "SELECT matrix_id, COUNT(*), MAX(run_id) FROM compat_runs GROUP BY matrix_id ORDER BY MAX(run_id) DESC"
        )
        newest = {
            int(run_id): str(at)
            for run_id, at in self._db.query(
                "SELECT run_id, recorded_at FROM compat_runs WHERE run_id IN"
                " (SELECT MAX(run_id) FROM compat_runs GROUP BY matrix_id)"
            )
        }
        return [MatrixRuns(str(m), int(n), int(last), newest.get(int(last), "")) for m, n, last in rows]

    def _one_matrix(self, matrix: str | None) -> str | None:
        """The matrix a query spanning runs reads: ``matrix`` when given; without one, the
        store's only matrix (None: no filter needed), never a mix of several."""
        if matrix is not None:
            return matrix
        known = self.matrices()
        if len(known) <= 1:
            return None
        raise ResultsError(
            f"results store {self.where} holds runs of {len(known)} matrices: "
            f"{listing({m.matrix: m.describe() for m in known})}; say which (--matrix ID): the runs of "
            "different matrices are never mixed"
        )

    def runs(self, *, label: str | None = None, limit: int | None = None, matrix: str | None = None) -> list[RunInfo]:
        """Recorded runs, newest first; only those with ``label``, of ``matrix``, when given
        (None: the runs of every matrix, each ``RunInfo`` names its own)."""
        sql = f"SELECT {_RUN_COLUMNS} FROM compat_runs"
        where: list[str] = []
        params: list[Any] = []
        if label is not None:
            where.append("label = ?")
            params.append(label)
        if matrix is not None:
            where.append("matrix_id = ?")
            params.append(matrix)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_run_info(row) for row in self._db.query(sql, params)]

    def run(self, run_id: int) -> RunInfo:
        rows = self._db.query(f"SELECT {_RUN_COLUMNS} FROM compat_runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise ResultsError(f"results store {self.where} holds no run {run_id}; "
                               "list runs with `compat history list`")
        return _run_info(rows[0])

    def load(self, run_id: int) -> RunResults:
        """The run exactly as recorded (every field of the JSON report)."""
        rows = self._db.query("SELECT document FROM compat_runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise ResultsError(f"results store {self.where} holds no run {run_id}; "
                               "list runs with `compat history list`")
        return parse_report(json.loads(rows[0][0]), source=f"{self.where} run {run_id}")

    def latest_for_pair(
        self,
        client: str,
        gateway: str,
        venue: str | None = None,
        *,
        include_candidates: bool = False,
        matrix: str | None = None,
    ) -> tuple[RunInfo, list[CellResult]] | None:
        """The newest run of ``matrix`` that tested the pair (and venue), with that pair's cells.

        Versions compare by PEP 440 (``2.0`` is ``2.0.0``). Candidate cells are left out unless
        asked for: a candidate carries the version of the tree, not of a released wheel.
        """
        chosen = self._one_matrix(matrix)
        only, only_params = _of_matrix(chosen, "WHERE")
        pairs = self._db.query(
            "SELECT DISTINCT client_version, gateway_version FROM compat_results r" + only, only_params
        )
        scope, scope_params = _of_matrix(chosen)
        matching = [(c, g) for c, g in pairs if same_version(c, client) and same_version(g, gateway)]
        if not matching:
            return None
        best: int | None = None
        for c, g in matching:
            sql = "SELECT MAX(run_id) FROM compat_results r WHERE client_version = ? AND gateway_version = ?" + scope
            params: list[Any] = [c, g, *scope_params]
            if venue is not None:
                sql += " AND venue = ?"
                params.append(venue)
            if not include_candidates:
                sql += " AND candidate = 0"
            found = self._db.query(sql, params)[0][0]
            if found is not None and (best is None or int(found) > best):
                best = int(found)
        if best is None:
            return None
        cells = [
            cell
            for cell in self.load(best).cells
            if same_version(cell.client_version, client)
            and same_version(cell.gateway_version, gateway)
            and (venue is None or cell.venue == venue)
            and (include_candidates or not is_candidate(cell.cell_id))
        ]
        return self.run(best), cells

    def cell_history(
        self, cell_id: str, scenario: str | None = None, *, matrix: str | None = None
    ) -> list[HistoryPoint]:
        """Every recorded verdict of a cell (one scenario, or all) in the runs of ``matrix``,
        oldest run first."""
        scope, scope_params = _of_matrix(self._one_matrix(matrix))
        sql = _POINTS + " WHERE r.cell_id = ?" + scope
        params: list[Any] = [cell_id, *scope_params]
        if scenario is not None:
            sql += " AND r.scenario = ?"
            params.append(scenario)
        sql += " ORDER BY r.run_id, r.venue, r.scenario"
        return [_point(row) for row in self._db.query(sql, params)]

    def observations(self, *, last_runs: int | None = None, matrix: str | None = None) -> list[HistoryPoint]:
        """Every recorded verdict of the newest ``last_runs`` runs of ``matrix`` (all its runs:
        None), oldest first."""
        chosen = self._one_matrix(matrix)
        runs = "SELECT run_id FROM compat_runs" + (" WHERE matrix_id = ?" if chosen is not None else "")
        params: list[Any] = [chosen] if chosen is not None else []
        if last_runs is not None:
            runs += " ORDER BY run_id DESC LIMIT ?"
            params.append(int(last_runs))
        sql = _POINTS + (f" WHERE r.run_id IN ({runs})" if params else "")
        sql += " ORDER BY r.run_id, r.venue, r.cell_id, r.scenario"
        return [_point(row) for row in self._db.query(sql, params)]

    def durations(self, *, last_runs: int = 20, matrix: str | None = None) -> dict[str, float]:
        """Mean wall duration per cell id (sum of its scenarios, averaged over the newest
        ``last_runs`` runs of ``matrix`` that ran it), rounded to milliseconds so the same store
        gives the same figures on every machine (shard balancing must agree between CI jobs)."""
        only, params = _of_matrix(self._one_matrix(matrix), "WHERE")
        rows = self._db.query(
            "SELECT cell_id, run_id, SUM(duration_s) FROM compat_results r" + only
            + " GROUP BY cell_id, run_id ORDER BY cell_id, run_id DESC",
            params,
        )
        per_cell: dict[str, list[float]] = {}
        for cell_id, _, total in rows:
            runs = per_cell.setdefault(str(cell_id), [])
            if len(runs) < last_runs:
                runs.append(float(total))
        return {cell: round(sum(v) / len(v), 3) for cell, v in sorted(per_cell.items())}


def _of_matrix(matrix: str | None, lead: str = "AND") -> tuple[str, list[Any]]:
    """`` AND <the row's run is of matrix>`` (or ``WHERE``) for a query over ``compat_results r``;
    nothing for None."""
    if matrix is None:
        return "", []
    return f" {lead} r.run_id IN (SELECT run_id FROM compat_runs WHERE matrix_id = ?)", [matrix]


_POINTS = (
    "SELECT r.run_id, u.recorded_at, u.label, u.git_sha, r.venue, r.cell_id, r.scenario, r.verdict,"
    " r.duration_s FROM compat_results r JOIN compat_runs u ON u.run_id = r.run_id"
)


def _compact_json(results: RunResults) -> str:
    """The JSON report without indentation: the C encoder, several times faster than
    ``render_json`` on a large run, and read back by the same ``parse_report``."""
    try:
        return json.dumps(report_dict(results), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return render_json(results)  # raises the ResultsError that names the offending field


def _run_info(row: tuple[Any, ...]) -> RunInfo:
    run_id, recorded, started, finished, sha, label, matrix_path, cells, scenarios, blocking, matrix = row
    return RunInfo(
        int(run_id), str(recorded), str(started), str(finished), sha, label, str(matrix_path),
        int(cells), int(scenarios), int(blocking), str(matrix),
    )  # fmt: skip


def _point(row: tuple[Any, ...]) -> HistoryPoint:
    run_id, recorded, label, sha, venue, cell_id, scenario, verdict, duration = row
    return HistoryPoint(
        int(run_id), str(recorded), label, sha, str(venue), str(cell_id), str(scenario), str(verdict),
        float(duration),
    )  # fmt: skip


def open_store(url_or_path: str | Path | None = None, *, create: bool = True) -> ResultsStore:
    """``None``/``""``: ``.compat/results.db``; ``postgresql://…`` or ``postgres://…``: a shared
    PostgreSQL database; ``sqlite:///abs/path.db``, ``sqlite:rel.db`` or a plain path: SQLite.
    ``create=False`` (for commands that only read) refuses a SQLite file that does not exist."""
    text = str(url_or_path or "") or str(DEFAULT_STORE)
    if text.startswith(("postgresql://", "postgres://")):
        return ResultsStore(_Postgres(text), postgres=True)
    if "://" in text and not text.startswith("sqlite:"):
        raise ResultsError(
            f"results store {redact(text)}: unknown scheme; use a path (SQLite), sqlite:PATH or postgresql://..."
        )
    path = Path(text.removeprefix("sqlite://") if text.startswith("sqlite://") else text.removeprefix("sqlite:"))
    if not create and not path.is_file():
        raise ResultsError(
            f"no results store at {path}: runs are recorded there by `pytest -m compat` (--compat-store) "
            "or `compat history add`; pass --store to read another one"
        )
    return ResultsStore(_Sqlite(path), postgres=False)


def record_run(
    results: RunResults,
    store: str | Path | None,
    default: Path = DEFAULT_STORE,
    *,
    label: str | None = None,
    root: Path | None = None,
) -> str:
    """Record a finished run (the plugin calls this on the controller) and return one line for
    the terminal. ``store`` "none" skips recording; a store that cannot be written is reported
    in the line, never raised: the run's own verdicts matter more than its bookkeeping."""
    if store is not None and str(store).lower() == "none":
        return ""
    from compat.results.history import git_head_sha

    sha = str(results.meta.get("git_sha") or "") or git_head_sha(root or Path.cwd())
    try:
        with open_store(store or default) as opened:
            run_id = opened.record(results, git_sha=sha, label=label)
            return f"compat store: recorded run {run_id} of matrix {run_matrix(results)} in {opened.where}" + (
                f" (label {label})" if label else ""
            )
    except CompatError as exc:
        return f"compat store: run NOT recorded: {exc}"
