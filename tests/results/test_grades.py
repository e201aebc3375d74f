"""A grid slot's grade (compat.results.grid.grade): one per kind of cell, and the precedence."""

from __future__ import annotations

import pytest

from compat.results.grid import Grade, grade, venue_grids
from compat.results.model import RunResults, Verdict

P, F, X, S, N, E, K = (
    Verdict.PASS,
    Verdict.FAIL,
    Verdict.EXPECTED_FAIL,
    Verdict.STALE,
    Verdict.NA,
    Verdict.ERROR,
    Verdict.FLAKY,
)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([P] * 37, Grade.PASS),
        ([P] * 36 + [X], Grade.DEGRADED),  # one declared degradation, the rest passes
        ([P] * 30 + [N] * 7, Grade.DEGRADED),  # capabilities the pair lacks
        ([X] * 40, Grade.DECLARED),  # refused at logon: declared not to work
        ([X] * 20 + [N] * 20, Grade.DECLARED),
        ([N] * 3, Grade.DECLARED),  # nothing the pair can do
        ([P] * 36 + [F], Grade.BREAK),
        ([P] * 36 + [E], Grade.ERROR),
        ([X] * 36 + [S], Grade.STALE),
        ([P] * 36 + [K], Grade.FLAKY),
    ],
)
def test_each_grade_from_literal_verdicts(verdicts: list[Verdict], expected: Grade) -> None:
    assert grade(verdicts) is expected


def test_precedence_break_error_stale_outrank_the_rest() -> None:
    everything = [P, X, N, K, S, E, F]
    assert grade(everything) is Grade.BREAK
    assert grade([v for v in everything if v is not F]) is Grade.ERROR
    assert grade([P, X, N, K, S]) is Grade.STALE
    assert grade([P, X, N, K]) is Grade.FLAKY
    assert grade([X, N]) is Grade.DECLARED
    assert grade([P, N]) is Grade.DEGRADED
    assert grade([]) is None


def test_a_degraded_slot_no_longer_looks_like_a_refused_one(lit) -> None:  # type: ignore[no-untyped-def]
    degraded = lit.cell("1.0.0", "2.0.0", "obx", *(lit.sr(f"S{i:02}", P) for i in range(36)), lit.sr("S99", X))
    refused = lit.cell("1.0.0", "3.0.0", "obx", *(lit.sr(f"S{i:02}", X) for i in range(40)))
    (grid,) = venue_grids(RunResults(cells=(degraded, refused)))
    slots = [grid.slot("1.0.0", "2.0.0"), grid.slot("1.0.0", "3.0.0")]
    assert [s.grade for s in slots if s] == [Grade.DEGRADED, Grade.DECLARED]
    assert [s.symbol for s in slots if s] == ["≈", "x"]
    assert len({g.symbol for g in Grade}) == len(Grade)  # every grade has its own symbol


def test_a_cached_slot_is_graded_cached_unless_something_blocks_or_flakes() -> None:
    assert grade([P, X, N], cached=True) is Grade.CACHED
    assert grade([X] * 3, cached=True) is Grade.CACHED  # cached outranks declared and degraded
    assert grade([P, F], cached=True) is Grade.BREAK
    assert grade([P, K], cached=True) is Grade.FLAKY
    assert grade([], cached=True) is None


def test_one_cached_result_makes_the_slot_cached(lit) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    origin = {"run_id": "r1", "date": "2026-01-01T00:00:00Z", "duration_s": 1.0}
    mixed = lit.cell("1.0.0", "2.0.0", "obx", lit.sr("S01", P), replace(lit.sr("S02", P), cached_from=origin))
    (grid,) = venue_grids(RunResults(cells=(mixed,)))
    slot = grid.slot("1.0.0", "2.0.0")
    assert slot is not None and (slot.grade, slot.symbol, slot.cached) == (Grade.CACHED, "↺", 1)
