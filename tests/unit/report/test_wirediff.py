from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import ACK_21, ACK_22, LOGON_IN_21, LOGON_IN_22, LOGON_OUT, ORDER_OUT, cell, sr

from compat.outcome import RunResults, Verdict, WireFrame
from compat.report.errors import ReportError
from compat.report.wirediff import first_divergence, frame_text, nearest_passing, wire_diff

REJECT = WireFrame("in", "Reject", {"reason": "UNKNOWN_FIELD", "seq": 3})


def test_first_divergence_ignores_volatile_fields() -> None:
    # gateway_version and seq differ but are volatile; price_ticks is the real divergence
    assert first_divergence(
        [LOGON_OUT, LOGON_IN_22, ORDER_OUT, ACK_22], [LOGON_OUT, LOGON_IN_21, ORDER_OUT, ACK_21]
    ) == (
        3,
        ACK_22,
        ACK_21,
    )
    assert first_divergence([LOGON_OUT, LOGON_IN_22], [LOGON_OUT, LOGON_IN_21]) is None
    assert first_divergence([LOGON_OUT, LOGON_IN_22], [LOGON_OUT, LOGON_IN_21], ignore=frozenset()) == (
        1,
        LOGON_IN_22,
        LOGON_IN_21,
    )


def test_first_divergence_when_one_side_stops() -> None:
    assert first_divergence([LOGON_OUT], [LOGON_OUT, LOGON_IN_21]) == (1, None, LOGON_IN_21)
    assert first_divergence([LOGON_OUT, LOGON_IN_21, REJECT], [LOGON_OUT, LOGON_IN_21]) == (2, REJECT, None)
    assert first_divergence([], []) is None


def _matrix(*cells_: object) -> RunResults:
    return RunResults(cells=tuple(cells_))  # type: ignore[arg-type]


def test_nearest_passing_prefers_previous_gateway_then_previous_client() -> None:
    bad = cell("2.0.0", "3.0.0", "obx", sr("S04", Verdict.FAIL, wire=(ORDER_OUT, REJECT)))
    prev_gw_fail = cell("2.0.0", "2.10.0", "obx", sr("S04", Verdict.FAIL))
    older_gw_pass = cell("2.0.0", "2.2.0", "obx", sr("S04", Verdict.PASS, duration_s=1.0))
    prev_client_pass = cell("1.1.0", "3.0.0", "obx", sr("S04", Verdict.PASS, duration_s=2.0))
    other_venue = cell("2.0.0", "2.11.0", "tlx", sr("S04", Verdict.PASS, duration_s=3.0))
    results = _matrix(bad, prev_gw_fail, older_gw_pass, prev_client_pass, other_venue)
    found = nearest_passing(results, bad.cell_id, "S04")
    assert found is not None and found.duration_s == 1.0  # 2.2.0 < 2.10.0 < 3.0.0 by Version
    without_gw = _matrix(bad, prev_gw_fail, prev_client_pass, other_venue)
    found = nearest_passing(without_gw, bad.cell_id, "S04")
    assert found is not None and found.duration_s == 2.0
    assert nearest_passing(_matrix(bad, prev_gw_fail, other_venue), bad.cell_id, "S04") is None
    assert nearest_passing(results, bad.cell_id, "S99") is None


def test_nearest_passing_needs_venue_when_cell_id_is_in_two_venues() -> None:
    a = cell("1.0.0", "1.0.0", "obx", sr("S01", Verdict.FAIL))
    b = cell("1.0.0", "1.0.0", "tlx", sr("S01", Verdict.FAIL))
    with pytest.raises(ReportError, match=r"several venues \(obx, tlx\); pass venue="):
        nearest_passing(_matrix(a, b), a.cell_id, "S01")
    assert nearest_passing(_matrix(a, b), a.cell_id, "S01", venue="tlx") is None
    with pytest.raises(ReportError, match="no cell 'nope'"):
        nearest_passing(_matrix(a), "nope", "S01")


def test_wire_diff_sentence_names_the_request_answered() -> None:
    ok = WireFrame("in", "ExecutionReport", {"status": "ACCEPTED"})
    bad = cell(
        "2.0.0", "3.0.0", "obx", sr("S04", Verdict.FAIL, wire=(LOGON_OUT, LOGON_IN_22, ORDER_OUT, REJECT))
    )
    good = cell(
        "2.0.0", "2.1.0", "obx", sr("S04", Verdict.PASS, wire=(LOGON_OUT, LOGON_IN_21, ORDER_OUT, ok))
    )
    results = _matrix(bad, good)
    diff = wire_diff(results, bad, bad.scenarios[0])
    assert diff is not None and diff.index == 3 and diff.baseline_cell is good
    assert diff.summary == (
        "gateway 3.0.0 answered NewOrder with Reject(reason=UNKNOWN_FIELD, seq=3) "
        "where gateway 2.1.0 sent ExecutionReport(status=ACCEPTED)"
    )


def test_wire_diff_sentence_for_a_gateway_that_went_silent() -> None:
    bad = cell("2.1.0", "1.0.0", "obx", sr("S23", Verdict.FAIL, wire=(ORDER_OUT,)))
    good = cell("2.0.0", "1.0.0", "obx", sr("S23", Verdict.PASS, wire=(ORDER_OUT, REJECT)))
    diff = wire_diff(_matrix(bad, good), bad, bad.scenarios[0])
    assert diff is not None
    assert diff.summary == (
        "gateway 1.0.0 sent nothing more at frame 1, "
        "where gateway 1.0.0 sent Reject(reason=UNKNOWN_FIELD, seq=3)"
    )


def test_wire_diff_for_a_client_frame_and_without_logs() -> None:
    other_order = replace(ORDER_OUT, fields={**ORDER_OUT.fields, "price": 100.25})
    bad = cell("2.1.0", "2.0.0", "obx", sr("S12", Verdict.FAIL, wire=(other_order,)))
    good = cell("2.0.0", "2.0.0", "obx", sr("S12", Verdict.PASS, wire=(ORDER_OUT,)))
    diff = wire_diff(_matrix(bad, good), bad, bad.scenarios[0])
    assert diff is not None
    assert diff.summary == "client 2.1.0 sent NewOrder(price=100.25) where client 2.0.0 sent NewOrder()"
    silent = cell("2.1.0", "2.0.0", "obx", sr("S12", Verdict.FAIL))
    assert wire_diff(_matrix(silent, good), silent, silent.scenarios[0]) is None


def test_frame_text_truncates() -> None:
    frame = WireFrame("in", "Big", {"text": "y" * 500})
    text = frame_text(frame, limit=40)
    assert len(text) == 40 and text.endswith("…)")
