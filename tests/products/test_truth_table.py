"""The declared truth table (docs/reference-system.md §3) holds for every released pair.

Each cell's six probes (see ``pairs.py``) run the released client (its venv, compat's driver,
the refclient adapter) against the released gateway (its venv) on a real exchange. The
expected outcomes below are the table's cells in probe form; a change in any of them is
either a regression or a truth-table edit that must be made in the docs too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pairs import PROBES, observe, render
from procs import Proc

OK6 = ("ok v{v}", "ok", "ok", "ok", "ok", "ok")
NOT = "OrderRejected:PRICE_NOT_ON_TICK"  # G1.x exact float on-tick check (99.99 and 0.3 fail)
NEG = "OrderRejected:INVALID_PRICE"  # G2.2: odd tick counts arrive negative
REFUSED = ("ProtocolVersionError",)


def _row(*cells: str) -> dict[str, str]:
    return dict(zip(PROBES, cells, strict=False))


EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    # gateway 1.0: v1, no capabilities; an unknown message type disconnects (BRK c).
    ("1.0.0", "1.0.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", NOT),
    ("1.1.0", "1.0.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", NOT),
    ("2.0.0", "1.0.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", NOT),
    ("2.1.0", "1.0.0"): _row("ok v1", "ok", "n/a", "n/a", "SessionLost", "SessionLost"),
    ("3.0.0", "1.0.0"): _row(*REFUSED),
    # gateway 1.1: v1 with capabilities; unknown types get a Reject without request_id.
    ("1.0.0", "1.1.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", NOT),
    ("1.1.0", "1.1.0"): _row("ok v1", "ok", NOT, "n/a", "n/a", NOT),
    ("2.0.0", "1.1.0"): _row("ok v1", "ok", NOT, "n/a", "n/a", NOT),
    ("2.1.0", "1.1.0"): _row("ok v1", "ok", NOT, "n/a", "ClientError", NOT),
    ("3.0.0", "1.1.0"): _row(*REFUSED),
    # gateway 2.0: v1-2, ticks, tolerant double check.
    ("1.0.0", "2.0.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", "ok"),
    ("1.1.0", "2.0.0"): _row("ok v1", "ok", "ok", "n/a", "n/a", "ok"),
    ("2.0.0", "2.0.0"): _row("ok v2", "ok", "ok", "n/a", "n/a", "ok"),
    ("2.1.0", "2.0.0"): _row("ok v2", "ok", "ok", "n/a", "ClientError", "ok"),
    ("3.0.0", "2.0.0"): _row("ok v2", "ok", "ok", "n/a", "n/a", "ok"),
    # gateway 2.1: amend, mass cancel, FOK, THROTTLED.
    ("1.0.0", "2.1.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", "ok"),
    ("1.1.0", "2.1.0"): _row("ok v1", "ok", "ok", "n/a", "n/a", "ok"),
    ("2.0.0", "2.1.0"): _row("ok v2", "ok", "ok", "n/a", "n/a", "ok"),
    ("2.1.0", "2.1.0"): _row(*[c.format(v=2) for c in OK6]),
    ("3.0.0", "2.1.0"): _row(*[c.format(v=2) for c in OK6]),
    # gateway 2.2 (yanked): sint64 ticks; v1 clients unaffected, v2 clients corrupted.
    ("1.0.0", "2.2.0"): _row("ok v1", "ok", "n/a", "n/a", "n/a", "ok"),
    ("1.1.0", "2.2.0"): _row("ok v1", "ok", "ok", "n/a", "n/a", "ok"),
    ("2.0.0", "2.2.0"): _row("ok v2", NEG, NEG, "n/a", "n/a", NEG),
    ("2.1.0", "2.2.0"): _row("ok v2", NEG, NEG, "ok", "ok", NEG),
    ("3.0.0", "2.2.0"): _row("ok v2", NEG, NEG, "ok", "ok", NEG),
    # gateway 3.0: v2-3, doubles removed.
    ("1.0.0", "3.0.0"): _row("LogonRejected:UNKNOWN(15)"),
    ("1.1.0", "3.0.0"): _row(*REFUSED),
    ("2.0.0", "3.0.0"): _row("ok v2", "ok", "ok", "n/a", "n/a", "ok"),
    ("2.1.0", "3.0.0"): _row(*[c.format(v=2) for c in OK6]),
    ("3.0.0", "3.0.0"): _row(*[c.format(v=3) for c in OK6]),
}


@pytest.mark.slow
def test_every_released_pair_matches_the_truth_table(exchange: Proc, tmp_path: Path) -> None:
    observed = observe(exchange, tmp_path / "venvs", tmp_path)
    assert set(observed) == set(EXPECTED), "the wheelhouse and the table name different releases"
    wrong = {pair: got for pair, got in observed.items() if got != EXPECTED[pair]}
    assert not wrong, "cells that differ from the truth table:\n" + render(wrong)
