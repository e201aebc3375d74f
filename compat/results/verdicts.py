"""Turning pytest's view of one (cell, scenario) phase into a compat verdict.

This is where the verdict taxonomy (``compat.results.model.Verdict``) meets pytest: an
``OperationUnsupported`` raised by the driver becomes n/a, an ``InfrastructureError`` becomes
error (never a break), a failure the matrix declared incompatible becomes expected-fail, and a
pass it declared incompatible becomes stale, which fails the run so the expectation gets cleaned
(``allow_stale``, pytest's ``--compat-allow-stale``: it is reported, and the run does not fail;
the same rule as ``compat gate`` and its ``--allow-stale``). A declared incompatibility that
states how it fails (``fails_with``) and fails otherwise is a break: "fails differently than
declared", naming the declared and the actual failure.
"""

from __future__ import annotations

import re
from typing import Any

from compat.config.expectations import Failure, FailurePattern, declared_failure_matches, describe_patterns
from compat.errors import DriverCallError, InfrastructureError, OperationUnsupported, SwapTargetError
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
        # The capability it lacks, by name: compat.results.capabilities compares it with the
        # version before (a capability lost between releases is a finding, not an n/a).
        return {**_verdict(Verdict.NA, report, reason=reason), "capability": excinfo.value.capability,
                "op": excinfo.value.op}
    if report.skipped:  # pytest.skip() inside the scenario: the pair lacks what it needs
        return _verdict(Verdict.NA, report, reason=_skip_reason(report))
    if excinfo.errisinstance(SwapTargetError):  # the swap's `to` cannot start at all: its fault, named
        return {**_verdict(Verdict.ERROR, report, reason=_first_line(report), message=report.longreprtext),
                "charged_to": excinfo.value.target}
    if excinfo.errisinstance(InfrastructureError):
        return _verdict(Verdict.ERROR, report, reason=_first_line(report), message=report.longreprtext)
    if incompatible:
        assert expectation is not None
        differently = _fails_differently(expectation, excinfo.value, report)
        if differently is not None:
            return differently
        message = report.longreprtext
        report.outcome = "skipped"
        report.wasxfail = f"expected incompatible: {expectation.get('reason')}"
        return _verdict(Verdict.EXPECTED_FAIL, report, reason=str(expectation.get("reason")), message=message)
    return _verdict(Verdict.FAIL, report, reason=_first_line(report), message=report.longreprtext)


def failure_of(exc: BaseException) -> Failure:
    """The facts of the exception that ended a scenario, for matching ``fails_with`` patterns."""
    classes = tuple(cls.__name__ for cls in type(exc).__mro__ if cls not in (object, BaseException, Exception))
    if isinstance(exc, DriverCallError):
        code = None if exc.code is None else str(exc.code)
        return Failure(types=(exc.type, *classes), code=code, text=str(exc))
    code_attribute = getattr(exc, "code", None)
    return Failure(types=classes, code=code_attribute if isinstance(code_attribute, str) else None, text=str(exc))


def _fails_differently(expectation: dict[str, Any], exc: BaseException, report: Any) -> dict[str, Any] | None:
    """A fail verdict when the declared incompatibility names how it fails and this is not it."""
    patterns = [FailurePattern.from_record(p) for p in expectation.get("fails_with") or ()]
    failure = failure_of(exc)
    if declared_failure_matches(patterns, failure):
        return None
    headline = (f"fails differently than declared: matrix.yaml:{expectation.get('line')} declares "
                f"{describe_patterns(patterns)} ({expectation.get('reason')}); it failed with {failure.describe()}")
    # The scenario's own report follows without pytest's "E" marks, so a one-line summary of this
    # verdict (cause_line) is the headline above, not the bare assertion it contains.
    original = "\n".join(("  " + line[1:]) if line.startswith("E ") or line == "E" else line
                          for line in str(report.longreprtext or "").splitlines())
    report.longrepr = f"{headline}\n\n{original}"
    return _verdict(Verdict.FAIL, report, reason=headline, message=report.longrepr)


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
    """The most telling single line of a failure: its cause first, then its context (``cause_line``)."""
    return cause_line(str(report.longreprtext or ""), limit=300)


LIMIT = 160  # the one-liner of every report listing (grid.one_line's default)
_TAIL = re.compile(r"\(last \d+ lines below\)\s*$")
_LOG = re.compile(r";\s*log: \S+\s*$")  # the log's path: in the report's log tails already
_DIFF_HEADS = ("Differing items:", "Differing attributes:")
_NOISE = re.compile(r"^(Use -v to get more diff|Full diff:|Omitting \d+ identical items|\+ *where\b|\+ *and\b)")


def _exception_block(text: str) -> list[str]:
    """The lines of the last exception pytest marks with ``E`` (each without the mark)."""
    blocks: list[list[str]] = []
    previous_was_e = False
    for line in text.splitlines():
        is_e = line.startswith("E ") or line == "E"
        if is_e:
            if not previous_was_e:
                blocks.append([])
            blocks[-1].append(line[2:] if len(line) > 1 else "")
        previous_was_e = is_e
    return blocks[-1] if blocks else []


def _short_type(line: str) -> str:
    """``compat.errors.ProcessStartError: x`` → ``ProcessStartError: x``."""
    head, sep, rest = line.partition(": ")
    if sep and re.fullmatch(r"[\w.]+", head) and "." in head:
        return f"{head.rsplit('.', 1)[1]}: {rest}"
    return line


def split_cause(text: str | None) -> tuple[str, str]:
    """``(cause, context)`` of a failure text (a pytest longrepr, or an exception message).

    - a process that died or never got ready (StartError: ``...; log: PATH (last N lines below)``
      and the log tail): the cause is the tail's last line (its argparse error, its traceback's
      last line), the context the message's head;
    - an assertion on two values: the fields that differ (pytest's "Differing items/attributes"
      and "Drill down" lines), the context the assertion line;
    - any other exception of several lines (a remote traceback): its last line, in the context
      of its first;
    - otherwise the exception line itself (context empty).
    """
    if not text:
        return "", ""
    block = [line.rstrip() for line in _exception_block(text)]
    if not block:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # not a pytest longrepr (an exception's message, a recorded reason): all of it when it
        # carries a log tail, else its first line
        block = lines if any(_TAIL.search(line) for line in lines) else lines[:1]
    lines = [line.strip() for line in block if line.strip()]
    if not lines:
        return "", ""
    head = _short_type(lines[0])
    for index, line in enumerate(lines):
        if _TAIL.search(line):  # a StartError: the message head, then the log tail
            context = _short_type(" ".join(lines[: index + 1]))
            context = _LOG.sub("", _TAIL.sub("", context)).rstrip("; ").rstrip()
            tail = [t for t in lines[index + 1 :] if not _NOISE.match(t)]
            return (tail[-1] if tail else "(the log is empty)"), context
    if head.startswith(("AssertionError", "assert ")):
        differing = _differing(lines)
        if differing:
            return "differs: " + "; ".join(differing), head
        message = [t for t in lines if not _NOISE.match(t)]
        return head, " ".join(message[1:2])
    rest = [t for t in lines[1:] if not _NOISE.match(t)]
    if rest:
        return _short_type(rest[-1]), head
    return head, ""


def _differing(lines: list[str]) -> list[str]:
    """pytest's explanation of ``assert a == b``: the differing fields, as ``name: a != b``."""
    found: list[str] = []
    drill = next((i for i, t in enumerate(lines) if t.startswith("Drill down into differing attribute")), None)
    drilled = [t for t in lines[drill + 1 :] if " != " in t and not _NOISE.match(t)] if drill is not None else []
    if drilled:  # dataclasses and attrs: "Drill down into differing attribute price:", "price: 1 != 2"
        return drilled
    inside = False
    for line in lines:
        if line in _DIFF_HEADS:
            inside = True
            continue
        if inside:
            if line.endswith(":") or _NOISE.match(line):
                inside = False
                continue
            found.append(line)
    return found


def cause_line(text: str | None, limit: int = LIMIT) -> str:
    """One line of at most ``limit`` characters: the cause whole, then as much context as fits.

    The cause is never cut for the context's sake: ``"... before it could report ready (expected a…"``
    (the context) gives way to ``"refgw: error: unrecognized arguments: --venue obx"`` (the cause).
    """
    cause, context = split_cause(text)
    line = f"{cause} — {context}" if cause and context and context != cause else cause
    return line if len(line) <= limit else line[: limit - 1] + "…"
