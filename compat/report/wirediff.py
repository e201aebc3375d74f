"""Wire diff: where a failing exchange first departs from the nearest passing one.

Turns "cell red" into "gateway 3.0.0 answered NewOrder with Reject(reason=UNKNOWN_FIELD)".
Fields that legitimately differ between any two runs (ids, sequence numbers, the peer's own
version string, timestamps) are ignored when frames are compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from compat.errors import ResultsError
from compat.results.evidence import nearest_passing_in
from compat.results.model import CellResult, RunResults, ScenarioResult, WireFrame

# Values that differ run to run, or by construction between two versions.
VOLATILE_FIELDS: frozenset[str] = frozenset(
    {
        "t_ns",
        "timestamp",
        "transact_time",
        "session_id",
        "request_id",
        "seq",
        "next_outbound_seq",
        "gateway_order_id",
        "exchange_order_id",
        "order_id",
        "trade_id",
        "gateway_version",
        "client_version",
        "heartbeat_ms",
    }
)


def _comparable(frame: WireFrame, ignore: frozenset[str]) -> tuple[str, str, dict[str, Any]]:
    return (
        frame.direction,
        frame.msg_type,
        {k: v for k, v in frame.fields.items() if k not in ignore},
    )


def first_divergence(
    failing: Sequence[WireFrame],
    passing: Sequence[WireFrame],
    ignore: frozenset[str] = VOLATILE_FIELDS,
) -> tuple[int, WireFrame | None, WireFrame | None] | None:
    """The first index where the exchanges differ, with the frame of each side there.

    A side that ended earlier contributes None at that index. None when the exchanges are
    the same (after ignoring volatile fields).
    """
    for index in range(max(len(failing), len(passing))):
        left = failing[index] if index < len(failing) else None
        right = passing[index] if index < len(passing) else None
        if left is None or right is None or _comparable(left, ignore) != _comparable(right, ignore):
            return index, left, right
    return None


# --- finding the nearest passing cell ---------------------------------------------------------


def _find_cell(results: RunResults, cell_id: str, venue: str | None) -> CellResult:
    matches = [c for c in results.cells if c.cell_id == cell_id and (venue is None or c.venue == venue)]
    if not matches:
        raise ResultsError(f"no cell {cell_id!r}{_venue_text(venue)} in these results")
    if len(matches) > 1:
        venues = ", ".join(sorted(c.venue for c in matches))
        raise ResultsError(f"cell {cell_id!r} exists in several venues ({venues}); pass venue=")
    return matches[0]


def _venue_text(venue: str | None) -> str:
    return f" in venue {venue!r}" if venue is not None else ""


def nearest_passing_cell(
    results: RunResults, cell_id: str, scenario: str, venue: str | None = None
) -> tuple[CellResult, ScenarioResult] | None:
    """The nearest cell (and its result) where ``scenario`` passed: the rule of
    ``compat.results.evidence.nearest_passing_in``, which also decides whose wire capture the
    reports keep."""
    return nearest_passing_in(results, _find_cell(results, cell_id, venue), scenario)


def nearest_passing(
    results: RunResults, cell_id: str, scenario: str, venue: str | None = None
) -> ScenarioResult | None:
    """The passing run of ``scenario`` in the nearest cell: same client with the previous
    gateway, else same gateway with the previous client (packaging.Version order)."""
    found = nearest_passing_cell(results, cell_id, scenario, venue)
    return found[1] if found is not None else None


# --- describing the divergence -----------------------------------------------------------------


def frame_text(frame: WireFrame, only: Iterable[str] | None = None, limit: int = 120) -> str:
    """``Reject(reason=UNKNOWN_FIELD, code=3)``; ``only`` restricts to the named fields."""
    keys = list(frame.fields) if only is None else [k for k in frame.fields if k in set(only)]
    inner = ", ".join(f"{k}={_value_text(frame.fields[k])}" for k in keys)
    text = f"{frame.msg_type}({inner})"
    return text if len(text) <= limit else text[: limit - 2] + "…)"


def _value_text(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def _changed_fields(a: WireFrame, b: WireFrame, ignore: frozenset[str]) -> list[str]:
    keys = [k for k in dict.fromkeys([*a.fields, *b.fields]) if k not in ignore]
    return [k for k in keys if a.fields.get(k, _MISSING) != b.fields.get(k, _MISSING)]


_MISSING = object()


def _request_before(frames: Sequence[WireFrame], index: int) -> WireFrame | None:
    return next((f for f in reversed(frames[:index]) if f.direction == "out"), None)


@dataclass(frozen=True)
class WireDiff:
    """A located divergence, ready to render."""

    index: int
    failing: WireFrame | None
    passing: WireFrame | None
    baseline_cell: CellResult
    summary: str  # one sentence
    failing_frames: tuple[WireFrame, ...]
    passing_frames: tuple[WireFrame, ...]


def describe(
    cell: CellResult,
    failing_frames: Sequence[WireFrame],
    baseline: CellResult,
    passing_frames: Sequence[WireFrame],
    ignore: frozenset[str] = VOLATILE_FIELDS,
) -> WireDiff | None:
    found = first_divergence(failing_frames, passing_frames, ignore)
    if found is None:
        return None
    index, bad, good = found
    summary = _sentence(cell, failing_frames, baseline, index, bad, good, ignore)
    return WireDiff(index, bad, good, baseline, summary, tuple(failing_frames), tuple(passing_frames))


def _peer(cell: CellResult, direction: str) -> str:
    """Who produced a frame of this direction in this cell."""
    return f"gateway {cell.gateway_version}" if direction == "in" else f"client {cell.client_version}"


def _sentence(
    cell: CellResult,
    frames: Sequence[WireFrame],
    baseline: CellResult,
    index: int,
    bad: WireFrame | None,
    good: WireFrame | None,
    ignore: frozenset[str],
) -> str:
    where = f"at frame {index}"
    if bad is None:
        assert good is not None
        return (
            f"{_peer(cell, good.direction)} sent nothing more {where}, where "
            f"{_peer(baseline, good.direction)} sent {frame_text(good)}"
        )
    shown = frame_text(bad)
    if good is not None and good.msg_type == bad.msg_type and good.direction == bad.direction:
        changed = _changed_fields(bad, good, ignore)
        shown = frame_text(bad, only=changed)
        versus = f" where {_peer(baseline, good.direction)} sent {frame_text(good, only=changed)}"
    elif good is not None:
        versus = f" where {_peer(baseline, good.direction)} sent {frame_text(good)}"
    else:
        versus = f" after the point where {_peer(baseline, bad.direction)} stopped"
    if bad.direction == "in":
        request = _request_before(frames, index)
        if request is not None:
            return f"gateway {cell.gateway_version} answered {request.msg_type} with {shown}{versus}"
        return f"gateway {cell.gateway_version} sent {shown}{versus}"
    return f"client {cell.client_version} sent {shown}{versus}"


def wire_diff(results: RunResults, cell: CellResult, scenario: ScenarioResult) -> WireDiff | None:
    """The wire diff of a (cell, scenario) against its nearest passing cell, if both logged."""
    if not scenario.wire:
        return None
    found = nearest_passing_cell(results, cell.cell_id, scenario.scenario, cell.venue)
    if found is None or not found[1].wire:
        return None
    baseline, passing = found
    return describe(cell, scenario.wire, baseline, passing.wire)
