"""A results store as compat wrote it before runs carried their matrix (store schema 1),
written with literal SQL so the migration tests (tests/results/test_store_matrices.py,
tests/results/test_store_postgres.py) open a store the previous schema wrote, not one the
current code made up."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from compat.results.jsonfile import report_dict
from compat.results.model import RunResults

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def v1_ddl(postgres: bool) -> list[str]:
    run_id = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    return [
        "CREATE TABLE compat_schema (version INTEGER NOT NULL)",
        f"""CREATE TABLE compat_runs (
            run_id {run_id},
            recorded_at TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            git_sha TEXT,
            label TEXT,
            matrix_path TEXT NOT NULL,
            cells INTEGER NOT NULL,
            scenarios INTEGER NOT NULL,
            blocking INTEGER NOT NULL,
            document TEXT NOT NULL)""",
        """CREATE TABLE compat_results (
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
        "CREATE INDEX compat_results_cell ON compat_results (cell_id, scenario)",
        "CREATE INDEX compat_results_pair ON compat_results (client_version, gateway_version, venue)",
        "CREATE INDEX compat_runs_label ON compat_runs (label, run_id)",
        "INSERT INTO compat_schema (version) VALUES (1)",
    ]


def write_v1_store(execute: Execute, runs: Sequence[tuple[RunResults, str | None]], *, postgres: bool) -> list[int]:
    """Create the schema-1 tables and record ``runs`` ((results, label), oldest first) the way
    schema 1 did; returns their run ids. ``execute`` runs one statement with ``?`` (SQLite) or
    ``%s`` (PostgreSQL) placeholders, as ``postgres`` says."""
    mark = "%s" if postgres else "?"
    for statement in v1_ddl(postgres):
        execute(statement, ())
    ids = []
    for number, (results, label) in enumerate(runs, 1):
        scenarios = [(c, s) for c in results.cells for s in c.scenarios]
        document = json.dumps(report_dict(results), ensure_ascii=False, separators=(",", ":"))
        row = (
            f"2026-11-2{number}T10:00:00Z", results.started_at, results.finished_at, f"sha{number}", label,
            results.matrix_path, len(results.cells), len(scenarios),
            sum(1 for _, s in scenarios if s.verdict.blocks_release), document,
        )  # fmt: skip
        inserted = execute(
            "INSERT INTO compat_runs (recorded_at, started_at, finished_at, git_sha, label, matrix_path, cells,"
            f" scenarios, blocking, document) VALUES ({', '.join([mark] * 10)}) RETURNING run_id",
            row,
        )
        run_id = int(inserted[0][0])
        ids.append(run_id)
        for cell, scenario in scenarios:
            execute(
                "INSERT INTO compat_results (run_id, venue, cell_id, client_version, gateway_version, candidate,"
                f" scenario, verdict, duration_s, attempts, reason) VALUES ({', '.join([mark] * 11)})",
                (
                    run_id, cell.venue, cell.cell_id, cell.client_version, cell.gateway_version, 0,
                    scenario.scenario, str(scenario.verdict), scenario.duration_s, scenario.attempts, scenario.reason,
                ),
            )  # fmt: skip
    return ids
