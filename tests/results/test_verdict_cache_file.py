"""The verdict cache file: entries round-trip, only clean verdicts go in, concurrent writers are
safe, shards' files merge (a key with two verdicts is dropped), and a bad file is a clear error."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compat.errors import ResultsError
from compat.results.cache_key import Deps
from compat.results.model import Verdict
from compat.results.verdict_cache import CachedResult, VerdictCache, merge

REPORTS: tuple[dict[str, Any], ...] = (
    {"when": "setup", "outcome": "passed", "longrepr": None, "wasxfail": None, "user_properties": []},
    {"when": "call", "outcome": "failed", "longrepr": "E   AssertionError: price", "wasxfail": None,
     "user_properties": [["compat", '{"verdict": "fail", "phase": "call"}']]},
    {"when": "teardown", "outcome": "passed", "longrepr": None, "wasxfail": None,
     "user_properties": [["compat_deps", '{"swapped_to": [], "gateway_order": null}']]},
)


def entry(key: str = "k1", verdict: Verdict = Verdict.FAIL, recorded_at: str = "2026-01-02T03:04:05Z",
          run_id: str = "run-1") -> CachedResult:
    return CachedResult(key=key, cell_id="client-1.0.0--gateway-2.0.0--venue-obx", scenario="price_exact_fill[FLT-0.3]",
                        verdict=verdict, run_id=run_id, recorded_at=recorded_at, duration_s=1.25,
                        deps=Deps(swapped_to=(("3.1.0.dev0+candidate", "ab" * 32),), gateway_order=("1.0.0", "2.0.0")),
                        reports=REPORTS)


def test_an_entry_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "verdicts.db"
    with VerdictCache(path) as cache:
        assert cache.get("k1") is None and len(cache) == 0 and cache.span() is None
        cache.put(entry())
    with VerdictCache(path) as cache:
        assert cache.get("k1") == entry()
        assert len(cache) == 1 and cache.span() == ("2026-01-02T03:04:05Z",) * 2
        cache.put(replace(entry(), verdict=Verdict.PASS, run_id="run-2"))  # the same key, a newer run
        got = cache.get("k1")
        assert got is not None and got.run_id == "run-2" and len(cache) == 1
    assert entry().origin() == {"run_id": "run-1", "date": "2026-01-02T03:04:05Z", "duration_s": 1.25}
    assert sorted(p.name for p in path.parent.iterdir()) == ["verdicts.db"], "one file at rest"


@pytest.mark.parametrize("verdict", [Verdict.ERROR, Verdict.FLAKY, Verdict.STALE])
def test_what_is_not_clean_is_never_cached(tmp_path: Path, verdict: Verdict) -> None:
    with VerdictCache(tmp_path / "verdicts.db") as cache, pytest.raises(ValueError, match="never cached"):
        cache.put(entry(verdict=verdict))


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from test_verdict_cache_file import entry
    from compat.results.verdict_cache import VerdictCache

    with VerdictCache(Path(sys.argv[1])) as cache:
        for n in range(40):
            cache.put(entry(key=f"{sys.argv[2]}-{n}"))
            assert cache.get(f"{sys.argv[2]}-{n}") is not None
""")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """As xdist workers do: several processes writing one file at once."""
    path = tmp_path / "verdicts.db"
    here = str(Path(__file__).parent)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", here]) for n in range(3)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    with VerdictCache(path) as cache:
        assert len(cache) == 120


def test_shards_files_merge_newest_first_and_drop_disagreements(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    with VerdictCache(a) as cache:
        cache.put(entry("same", recorded_at="2026-01-01T00:00:00Z", run_id="old"))
        cache.put(entry("only-a"))
        cache.put(entry("split", verdict=Verdict.PASS))
    with VerdictCache(b) as cache:
        cache.put(entry("same", recorded_at="2026-02-01T00:00:00Z", run_id="new"))
        cache.put(entry("only-b"))
        cache.put(entry("split", verdict=Verdict.FAIL))
    outcome = merge([a, b], out)
    assert outcome.entries == 3 and outcome.conflicts == ("client-1.0.0--gateway-2.0.0--venue-obx "
                                                          "price_exact_fill[FLT-0.3]",)
    with VerdictCache(out) as cache:
        assert {e.key for e in cache.entries()} == {"same", "only-a", "only-b"}
        same = cache.get("same")
        assert same is not None and same.run_id == "new"
    # Merging into one of its own inputs (restore, run, merge back) works too; a file alone holds
    # one verdict per key, so a's "split" is no disagreement there.
    assert merge([out, a], out).entries == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "b.db", "merged.db"], "no scratch file left"


def test_a_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "verdicts.db"
    junk.write_text("not a database, just text that is long enough to have a header\n" * 20)
    with pytest.raises(ResultsError, match=r"verdict cache .*verdicts\.db is not usable"):
        VerdictCache(junk)
    with pytest.raises(ResultsError, match="no verdict cache at"):
        merge([tmp_path / "missing.db"], tmp_path / "out.db")
    newer = tmp_path / "newer.db"
    VerdictCache(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE cache_schema SET version = 99")
    conn.close()
    with pytest.raises(ResultsError, match="has schema 99, this compat reads 1"):
        VerdictCache(newer)


def test_prune_drops_old_entries(tmp_path: Path) -> None:
    with VerdictCache(tmp_path / "verdicts.db") as cache:
        cache.put(entry("old", recorded_at="2025-01-01T00:00:00Z"))
        cache.put(entry("new", recorded_at="2026-06-01T00:00:00Z"))
        assert cache.prune("2026-01-01T00:00:00Z") == 1
        assert [e.key for e in cache.entries()] == ["new"]
