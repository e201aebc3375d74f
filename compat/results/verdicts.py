"""Turning pytest's view of one (cell, scenario) phase into a compat verdict.

This is where the verdict taxonomy (``compat.results.model.Verdict``) meets pytest: an
``OperationUnsupported`` raised by the driver becomes n/a, an ``InfrastructureError`` becomes
error (never a break), a failure the matrix declared incompatible becomes expected-fail, and a
pass it declared incompatible becomes stale, which fails the run so the expectation gets cleaned
(``allow_stale``, pytest's ``--compat-allow-stale``: it is reported, and the run does not fail;
the same rule as ``compat gate`` and its ``--allow-stale``).
"""

from __future__ import annotations

from typing import Any

from compat.errors import InfrastructureError, OperationUnsupported
from compat.results.model import Verdict

PROPERTY = "compat"  # user_properties key carrying the verdict payload (JSON)
DETAILS = "compat_details"  # user_properties key carrying log tails and wire logs (JSON)


def judge(
    report: Any, call: Any, expectation: dict[str, Any] | None, *, allow_stale: bool = False
) -> dict[str, Any] | None:
    """The verdict payload of one phase, adjusting ``report``'s outcome to match; None if undecided."""
    incompatible = expectation is not None and expectation.get("kind") == "incompatible"
    if report.when == "setup":
        if report.skipped:
            return _verdict(Verdict.NA, report, reason=_skip_reason(report))
        if report.failed:
            return _verdict(Verdict.ERROR, report, reason=_first_line(report), message=report.longreprtext)
        return None
    if report.when == "teardown":
        if report.failed:
            return _verdict(Verdict.ERROR, report, reason="teardown: " + _first_line(report),
                            message=report.longreprtext)
        return None
    excinfo = call.excinfo
    if excinfo is None:
        if incompatible:
            assert expectation is not None
            if allow_stale:
                reason = f"declared incompatible but passed: {expectation.get('reason')}"
                return _verdict(Verdict.STALE, report, reason=reason)
            report.outcome = "failed"
            report.longrepr = (
                f"stale expectation (matrix.yaml:{expectation.get('line')}): declared incompatible "
                f"({expectation.get('reason')}) but the scenario passed; remove or narrow it"
            )
            reason = f"declared incompatible but passed: {expectation.get('reason')}"
            return _verdict(Verdict.STALE, report, reason=reason)
        return _verdict(Verdict.PASS, report)
    if excinfo.errisinstance(OperationUnsupported):
        reason = f"n/a: {excinfo.value}"
        report.outcome = "skipped"
        report.longrepr = (str(report.location[0]), (report.location[1] or 0) + 1, reason)
        return _verdict(Verdict.NA, report, reason=reason)
    if report.skipped:  # pytest.skip() inside the scenario: the pair lacks what it needs
        return _verdict(Verdict.NA, report, reason=_skip_reason(report))
    if excinfo.errisinstance(InfrastructureError):
        return _verdict(Verdict.ERROR, report, reason=_first_line(report), message=report.longreprtext)
    if incompatible:
        assert expectation is not None
        message = report.longreprtext
        report.outcome = "skipped"
        report.wasxfail = f"expected incompatible: {expectation.get('reason')}"
        return _verdict(Verdict.EXPECTED_FAIL, report, reason=str(expectation.get("reason")), message=message)
    return _verdict(Verdict.FAIL, report, reason=_first_line(report), message=report.longreprtext)


def _verdict(verdict: Verdict, report: Any, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    return {"verdict": verdict.value, "phase": report.when, "reason": reason, "message": message,
            "duration_s": round(float(report.duration), 6)}


def _skip_reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text.removeprefix("Skipped: ")
    return _first_line(report)


def _first_line(report: Any) -> str:
    """The most telling single line of a failure: the exception line pytest marks with 'E'."""
    text = str(report.longreprtext or "")
    for line in text.splitlines():
        if line.startswith("E "):
            return line[1:].strip()[:300]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""
