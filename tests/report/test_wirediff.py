from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from compat.errors import ResultsError
from compat.report.wirediff import first_divergence, frame_text, nearest_passing, wire_diff
from compat.results.model import RunResults, Verdict, WireFrame

REJECT = WireFrame("in", "Reject", {"reason": "UNKNOWN_FIELD", "seq": 3})

if TYPE_CHECKING:
    from sample_results import Literals


def test_first_divergence_ignores_volatile_fields(lit: Literals) -> None:
    # gateway_version and seq differ but are volatile; price_ticks is the real divergence
    assert first_divergence(
        [lit.LOGON_OUT, lit.LOGON_IN_22, lit.ORDER_OUT, lit.ACK_22],
        [lit.LOGON_OUT, lit.LOGON_IN_21, lit.ORDER_OUT, lit.ACK_21],
    ) == (
        3,
        lit.ACK_22,
        lit.ACK_21,
    )
    assert first_divergence([lit.LOGON_OUT, lit.LOGON_IN_22], [lit.LOGON_OUT, lit.LOGON_IN_21]) is None
    assert first_divergence(
        [lit.LOGON_OUT, lit.LOGON_IN_22], [lit.LOGON_OUT, lit.LOGON_IN_21], ignore=frozenset()
    ) == (
        1,
        lit.LOGON_IN_22,
        lit.LOGON_IN_21,
    )


def test_first_divergence_when_one_side_stops(lit: Literals) -> None:
    assert first_divergence([lit.LOGON_OUT], [lit.LOGON_OUT, lit.LOGON_IN_21]) == (1, None, lit.LOGON_IN_21)
    assert first_divergence([lit.LOGON_OUT, lit.LOGON_IN_21, REJECT], [lit.LOGON_OUT, lit.LOGON_IN_21]) == (
        2,
        REJECT,
        None,
    )
    assert first_divergence([], []) is None


def _matrix(*cells_: object) -> RunResults:
    return RunResults(cells=tuple(cells_))  # type: ignore[arg-type]


def test_nearest_passing_prefers_previous_gateway_then_previous_client(lit: Literals) -> None:
    bad = lit.cell("2.0.0", "3.0.0", "obx", lit.sr("S04", Verdict.FAIL, wire=(lit.ORDER_OUT, REJECT)))
    prev_gw_fail = lit.cell("2.0.0", "2.10.0", "obx", lit.sr("S04", Verdict.FAIL))
    older_gw_pass = lit.cell("2.0.0", "2.2.0", "obx", lit.sr("S04", Verdict.PASS, duration_s=1.0))
    prev_client_pass = lit.cell("1.1.0", "3.0.0", "obx", lit.sr("S04", Verdict.PASS, duration_s=2.0))
    other_venue = lit.cell("2.0.0", "2.11.0", "tlx", lit.sr("S04", Verdict.PASS, duration_s=3.0))
    results = _matrix(bad, prev_gw_fail, older_gw_pass, prev_client_pass, other_venue)
    found = nearest_passing(results, bad.cell_id, "S04")
    assert found is not None and found.duration_s == 1.0  # 2.2.0 < 2.10.0 < 3.0.0 by Version
    without_gw = _matrix(bad, prev_gw_fail, prev_client_pass, other_venue)
    found = nearest_passing(without_gw, bad.cell_id, "S04")
    assert found is not None and found.duration_s == 2.0
    assert nearest_passing(_matrix(bad, prev_gw_fail, other_venue), bad.cell_id, "S04") is None
    assert nearest_passing(results, bad.cell_id, "S99") is None


def test_nearest_passing_needs_venue_when_cell_id_is_in_two_venues(lit: Literals) -> None:
    a = lit.cell("1.0.0", "1.0.0", "obx", lit.sr("S01", Verdict.FAIL))
    b = lit.cell("1.0.0", "1.0.0", "tlx", lit.sr("S01", Verdict.FAIL))
    with pytest.raises(ResultsError, match=r"several venues \(obx, tlx\); pass venue="):
        nearest_passing(_matrix(a, b), a.cell_id, "S01")
    assert nearest_passing(_matrix(a, b), a.cell_id, "S01", venue="tlx") is None
    with pytest.raises(ResultsError, match="no cell 'nope'"):
        nearest_passing(_matrix(a), "nope", "S01")


def test_wire_diff_sentence_names_the_request_answered(lit: Literals) -> None:
    ok = WireFrame("in", "ExecutionReport", {"status": "ACCEPTED"})
    bad = lit.cell(
        "2.0.0",
        "3.0.0",
        "obx",
        lit.sr("S04", Verdict.FAIL, wire=(lit.LOGON_OUT, lit.LOGON_IN_22, lit.ORDER_OUT, REJECT)),
    )
    good = lit.cell(
        "2.0.0",
        "2.1.0",
        "obx",
        lit.sr("S04", Verdict.PASS, wire=(lit.LOGON_OUT, lit.LOGON_IN_21, lit.ORDER_OUT, ok)),
    )
    results = _matrix(bad, good)
    diff = wire_diff(results, bad, bad.scenarios[0])
    assert diff is not None and diff.index == 3 and diff.baseline_cell is good
    assert diff.summary == (
        "gateway 3.0.0 answered NewOrder with Reject(reason=UNKNOWN_FIELD, seq=3) "
        "where gateway 2.1.0 sent ExecutionReport(status=ACCEPTED)"
    )


def test_wire_diff_sentence_for_a_gateway_that_went_silent(lit: Literals) -> None:
    bad = lit.cell("2.1.0", "1.0.0", "obx", lit.sr("S23", Verdict.FAIL, wire=(lit.ORDER_OUT,)))
    good = lit.cell("2.0.0", "1.0.0", "obx", lit.sr("S23", Verdict.PASS, wire=(lit.ORDER_OUT, REJECT)))
    diff = wire_diff(_matrix(bad, good), bad, bad.scenarios[0])
    assert diff is not None
    assert diff.summary == (
        "gateway 1.0.0 sent nothing more at frame 1, "
        "where gateway 1.0.0 sent Reject(reason=UNKNOWN_FIELD, seq=3)"
    )


def test_wire_diff_for_a_client_frame_and_without_logs(lit: Literals) -> None:
    other_order = replace(lit.ORDER_OUT, fields={**lit.ORDER_OUT.fields, "price": 100.25})
    bad = lit.cell("2.1.0", "2.0.0", "obx", lit.sr("S12", Verdict.FAIL, wire=(other_order,)))
    good = lit.cell("2.0.0", "2.0.0", "obx", lit.sr("S12", Verdict.PASS, wire=(lit.ORDER_OUT,)))
    diff = wire_diff(_matrix(bad, good), bad, bad.scenarios[0])
    assert diff is not None
    assert diff.summary == "client 2.1.0 sent NewOrder(price=100.25) where client 2.0.0 sent NewOrder()"
    silent = lit.cell("2.1.0", "2.0.0", "obx", lit.sr("S12", Verdict.FAIL))
    assert wire_diff(_matrix(silent, good), silent, silent.scenarios[0]) is None


def test_frame_text_truncates() -> None:
    frame = WireFrame("in", "Big", {"text": "y" * 500})
    text = frame_text(frame, limit=40)
    assert len(text) == 40 and text.endswith("…)")
