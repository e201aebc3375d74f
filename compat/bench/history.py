"""``compat bench history``: change points over stored runs, with ruptures.

A shift is a change point found by PELT (l2 cost, a minimum segment length, a penalty scaled
to the series' own noise) whose level change is also at least ``min_change``. It is
**flagged** only when a rerun confirms it: the change point must already be visible without
the newest run, and the newest run (the rerun) must sit on the new level. A shift that only
the newest run shows is reported as *suspected; rerun to confirm*, never as a regression.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ruptures  # type: ignore[import-untyped]

from compat.errors import ConfigError


@dataclass(frozen=True)
class Shift:
    index: int  # first run of the new level
    before: float
    after: float
    confirmed: bool

    @property
    def change(self) -> float:
        return self.after / self.before - 1.0 if self.before else math.inf

    def describe(self, run_ids: Sequence[str] = ()) -> str:
        where = run_ids[self.index] if self.index < len(run_ids) else f"#{self.index}"
        state = "CONFIRMED shift" if self.confirmed else "suspected shift (rerun to confirm)"
        return f"{state} at run {where}: {self.before:.1f} -> {self.after:.1f} ({self.change:+.1%})"


def change_points(values: Sequence[float], min_size: int = 3, penalty: float | None = None) -> list[int]:
    """Indices where a new segment starts (PELT, l2); the penalty defaults to noise-scaled BIC."""
    n = len(values)
    if n < 2 * min_size:
        return []
    signal = np.asarray(values, dtype=float).reshape(-1, 1)
    if penalty is None:
        penalty = 3.0 * _noise_variance(values) * math.log(n)
    if penalty <= 0:
        penalty = 1e-9
    ends = ruptures.Pelt(model="l2", min_size=min_size, jump=1).fit(signal).predict(pen=penalty)
    return [int(end) for end in ends[:-1]]  # the last "end" is always n


def detect_shifts(values: Sequence[float], min_size: int = 3, min_change: float = 0.05,
                  penalty: float | None = None) -> list[Shift]:
    """Shifts in ``values`` (oldest first); the newest value is treated as the confirming rerun."""
    found = _shifts(values, min_size, min_change, penalty)
    earlier = {shift.index for shift in _shifts(values[:-1], min_size, min_change, penalty)}
    newest = values[-1] if values else 0.0
    result = []
    for shift in found:
        on_new_level = abs(newest - shift.after) < abs(newest - shift.before)
        result.append(Shift(shift.index, shift.before, shift.after,
                            confirmed=shift.index in earlier and on_new_level))
    return result


def _shifts(values: Sequence[float], min_size: int, min_change: float, penalty: float | None) -> list[Shift]:
    points = change_points(values, min_size, penalty)
    bounds = [0, *points, len(values)]
    shifts = []
    for k, start in enumerate(points, start=1):
        # Medians, so one outlier inside a minimum-length segment cannot pose as a level.
        before = statistics.median(values[bounds[k - 1]:start])
        after = statistics.median(values[start:bounds[k + 1]])
        if before and abs(after / before - 1.0) >= min_change:
            shifts.append(Shift(start, before, after, confirmed=False))
    return shifts


def _noise_variance(values: Sequence[float]) -> float:
    """Robust noise variance from first differences (insensitive to the steps themselves)."""
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    if not diffs:
        return 0.0
    sigma = statistics.median(diffs) / (0.6745 * math.sqrt(2.0))
    return sigma * sigma


def load_series(store: Path, label: str, metric: str,
                histogram: str = "corrected_ack") -> list[tuple[str, float]]:
    """``(run_id, value)`` of ``label``'s ``metric`` over every stored ``bench.json``, oldest first."""
    if not store.is_dir():
        raise ConfigError(f"bench store {store} does not exist; run `compat bench` first or pass --store")
    series = []
    for path in sorted(store.glob("*/bench.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable bench result ({exc}); move it out of the store") from exc
        for point in _points(run):
            if _follows(str(point.get("label", "")), label) and point.get("valid"):
                value = point.get("percentiles_ns", {}).get(histogram, {}).get(metric)
                if value is not None:
                    series.append((str(run.get("run_id", path.parent.name)), float(value)))
    return series


def _follows(point_label: str, label: str) -> bool:
    """``gateway`` follows the headline gateway point across versions (gateway-2.0.0, -2.1.0...)."""
    if point_label == label:
        return True
    return label == "gateway" and point_label.startswith("gateway-") and "@" not in point_label \
        and not point_label.endswith("-selftest")


def _points(run: dict[str, Any]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for key in ("floor",):
        value = run.get(key)
        if isinstance(value, dict):
            points.append(value)
    for key in ("sweep", "gateway"):
        value = run.get(key)
        if isinstance(value, list):
            points += [p for p in value if isinstance(p, dict)]
    return points


def describe_history(series: Sequence[tuple[str, float]], metric: str, min_size: int = 3) -> str:
    run_ids = [run_id for run_id, _ in series]
    values = [value for _, value in series]
    lines = [f"{len(values)} runs of {metric} (ns): " + ", ".join(f"{v / 1000:.0f}us" for v in values[-12:])]
    if len(values) < 2 * min_size:
        lines.append(f"not enough runs for change points (need {2 * min_size} with min segment {min_size})")
        return "\n".join(lines)
    shifts = detect_shifts(values, min_size=min_size)
    if not shifts:
        lines.append("no shift")
    lines += [shift.describe(run_ids) for shift in shifts]
    return "\n".join(lines)


# -- the --gate verdicts ----------------------------------------------------------------------


def load_gates(store: Path) -> list[dict[str, Any]]:
    """Every stored ``--gate`` record (``bench.json`` ``gate``), oldest first."""
    if not store.is_dir():
        raise ConfigError(f"bench store {store} does not exist; run `compat bench --compare ... --gate` first "
                          "or pass --store")
    gates = []
    for path in sorted(store.glob("*/bench.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable bench result ({exc}); move it out of the store") from exc
        if isinstance(run.get("gate"), dict):
            gates.append(run["gate"])
    return gates


def describe_gates(gates: Sequence[dict[str, Any]], measure: str, min_size: int = 3) -> str:
    """One line per gate verdict, then change points of ``measure``'s B/A ratio over them.

    The ratio series is what a CI job that gates every commit against the same release
    builds up: a step in it dates the commit that moved the measure, even when each single
    verdict stayed within its threshold.
    """
    if not gates:
        return "no stored --gate verdicts"
    lines = [f"{len(gates)} gate verdict(s), oldest first:"]
    ratios: list[tuple[str, float]] = []
    for gate in gates:
        found = gate.get("measures", {}).get(measure, {})
        ratio = found.get("ratio")
        shown = f"{measure} B/A {ratio:.3f}" if isinstance(ratio, int | float) else f"{measure} not measured"
        lines.append(f"  {gate.get('timestamp', '?')}  {gate.get('b')} vs {gate.get('a')}: "
                     f"{gate.get('verdict')}  ({shown})")
        if isinstance(ratio, int | float):
            ratios.append((str(gate.get("run_id", "")), float(ratio)))
    if len(ratios) < 2 * min_size:
        lines.append(f"not enough verdicts with {measure} for change points (need {2 * min_size})")
        return "\n".join(lines)
    shifts = detect_shifts([value for _, value in ratios], min_size=min_size)
    lines.append(f"{measure} B/A over the verdicts: " + ("no shift" if not shifts else ""))
    lines += [shift.describe([run_id for run_id, _ in ratios]) for shift in shifts]
    return "\n".join(lines)
