"""The results store against a real PostgreSQL server, started by the test on 127.0.0.1.

A throwaway cluster (``initdb`` + ``pg_ctl``) in a temp directory, on a free port, run as the
``postgres`` user when the test runs as root (PostgreSQL refuses to run as root), stopped and
removed afterwards. Skipped, naming what is missing, when the server binaries or psycopg are
absent (Debian: ``apt-get install -y postgresql``; Python: ``pip install 'psycopg[binary]'``).
"""

from __future__ import annotations

import contextlib
import glob
import multiprocessing
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from store_v1 import write_v1_store

from compat.errors import ResultsError
from compat.report.demo import demo_results
from compat.results.evidence import prune_evidence
from compat.results.model import Verdict
from compat.results.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _pg_bin(name: str) -> str | None:
    """PATH first, then Debian's versioned directory (/usr/lib/postgresql/N/bin is not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="compat-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run the server as")
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.skip("running as root and runuser (util-linux) is missing")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = [runuser, "-u", "postgres", "--"]

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *argv], capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> str:
        done = self._run(self.initdb, "-D", str(self.data), "-U", "compat", "--auth=trust", "--no-sync", "-E", "UTF8")
        assert done.returncode == 0, f"initdb failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        for _ in range(5):  # a free port can be taken between probing and binding: retry on another
            self.port = _free_port()
            options = f"-k {self.root} -p {self.port} -h 127.0.0.1 -c fsync=off"
            # -w: pg_ctl itself waits until the server accepts connections (or -t expires)
            done = self._run(
                self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
            )
            if done.returncode == 0:
                return f"postgresql://compat@127.0.0.1:{self.port}/postgres"
            if "Address already in use" not in self.log.read_text(errors="replace"):
                break
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]) if self.log.exists() else ""
        raise AssertionError(f"pg_ctl start failed (exit {done.returncode}): {done.stderr}\nserver log:\n{tail}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            done = self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
            assert done.returncode == 0, f"pg_ctl stop failed: {done.stderr}"
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        missing = " and ".join(n for n, p in (("initdb", initdb), ("pg_ctl", pg_ctl)) if p is None)
        pytest.skip(f"PostgreSQL server binaries missing ({missing}): apt-get install -y postgresql")
    cluster = PgCluster(initdb, pg_ctl)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _writer(url: str, rounds: int) -> list[int]:
    small = demo_results(2, 2, ("obx",))
    with open_store(url) as store:
        return [store.record(small, git_sha=f"w{os.getpid()}", label=None) for _ in range(rounds)]


def test_postgres_store_records_reads_back_and_answers_queries(pg_url: str) -> None:
    full = demo_results(3, 3, ("obx", "tlx"))
    with open_store(pg_url) as store:
        assert store.postgres and "***" not in store.where
        first = store.record(full, git_sha="aaa111", label="release")
        cell = full.cells[0]
        broken = replace(
            full,
            cells=(replace(cell, scenarios=(replace(cell.scenarios[0], verdict=Verdict.FAIL, duration_s=2.0),)),),
        )
        second = store.record(broken, git_sha="bbb222")
        assert second > first
        assert store.load(first) == prune_evidence(full)  # the store keeps evidence where it explains
        assert [r.run_id for r in store.runs()] == [second, first]
        assert [r.run_id for r in store.runs(label="release")] == [first]
        info = store.run(first)
        assert (info.label, info.git_sha, info.cells, info.scenarios) == ("release", "aaa111", 18, 108)

        found = store.latest_for_pair(cell.client_version, cell.gateway_version, cell.venue)
        assert found is not None and found[0].run_id == second
        assert [s.verdict for s in found[1][0].scenarios] == [Verdict.FAIL]
        assert store.latest_for_pair("9.9", "9.9") is None

        history = store.cell_history(cell.cell_id, cell.scenarios[0].scenario)
        assert [(p.run_id, p.venue, p.verdict) for p in history] == [
            (first, "obx", "pass"),
            (first, "tlx", "pass"),
            (second, "obx", "fail"),
        ]
        durations = store.durations()
        assert len(durations) == 9  # cell ids are shared by the two venues in the demo
        assert durations[cell.cell_id] > 0


@pytest.mark.parametrize("database", ["fresh", "postgres"])
def test_postgres_store_takes_concurrent_writers_from_separate_processes(pg_url: str, database: str) -> None:
    """Four processes open the store at once (on a fresh database they race to create the
    schema) and record 5 runs each: 20 distinct run ids, every run complete."""
    import psycopg

    if database == "fresh":
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE fresh")
    url = pg_url.rsplit("/", 1)[0] + "/" + database
    with open_store(url) if database != "fresh" else _nothing() as store:
        before = len(store.runs()) if store is not None else 0
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        ids = [i for chunk in pool.starmap(_writer, [(url, 5)] * 4) for i in chunk]
    assert len(set(ids)) == 20
    with open_store(url) as reader:
        runs = reader.runs()
        assert len(runs) == before + 20
        assert all(r.scenarios == 24 for r in runs if r.run_id in ids)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield None


def test_postgres_store_of_the_previous_schema_is_migrated_and_keeps_each_matrix_apart(pg_url: str) -> None:
    """A database the previous schema (1) wrote: opening it adds the matrix identity, from each
    document's meta.matrix, else legacy; every row stays; the matrices' queries stay apart."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE v1")
    url = pg_url.rsplit("/", 1)[0] + "/v1"
    small = demo_results(2, 2, ("obx",))
    named = replace(small, meta={**small.meta, "matrix": {"id": "nightly", "path": "ci/nightly.yaml", "sha256": ""}})
    with psycopg.connect(url, autocommit=True) as conn:

        def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            cur = conn.execute(sql.encode(), tuple(params))  # bytes: no LiteralString check on test SQL
            return list(cur.fetchall()) if cur.description is not None else []

        ids = write_v1_store(execute, [(small, "release"), (named, None)], postgres=True)
        rows = execute("SELECT COUNT(*) FROM compat_results", ())[0][0]

    with open_store(url) as store:
        assert [(r.run_id, r.matrix, r.label) for r in store.runs()] == [
            (ids[1], "nightly", None),
            (ids[0], "legacy", "release"),
        ]
        assert store.load(ids[0]) == prune_evidence(small) and store.load(ids[1]) == prune_evidence(named)
        assert len(store.observations(matrix="legacy")) + len(store.observations(matrix="nightly")) == rows
        with pytest.raises(ResultsError, match=r"holds runs of 2 matrices: nightly .* legacy "):
            store.observations()
        broken = replace(small, cells=tuple(replace(c, scenarios=c.scenarios[:1]) for c in small.cells))
        newest = store.record(replace(broken, meta=named.meta))
        found = store.latest_for_pair(small.cells[0].client_version, small.cells[0].gateway_version, matrix="legacy")
        assert found is not None and found[0].run_id == ids[0]  # nightly's newer run is not legacy's
        found = store.latest_for_pair(small.cells[0].client_version, small.cells[0].gateway_version, matrix="nightly")
        assert found is not None and found[0].run_id == newest
        assert set(store.durations(matrix="nightly")) == {c.cell_id for c in small.cells}
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM compat_schema").fetchall() == [(2,)]
        assert conn.execute("SELECT COUNT(*) FROM compat_results").fetchall() == [(rows + len(small.cells),)]


def test_postgres_store_reports_an_unreachable_server_clearly() -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'")
    port = _free_port()  # nothing listens there
    with pytest.raises(ResultsError, match=r"cannot connect to the PostgreSQL results store postgresql://u:\*\*\*@"):
        open_store(f"postgresql://u:secret@127.0.0.1:{port}/db")
