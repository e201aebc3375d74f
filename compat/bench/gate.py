"""``compat bench --compare gateway=RELEASED,HEAD --gate``: the A/B verdict as a CI decision.

The thresholds are matrix.yaml's ``bench.gate`` (per measure; ``compat.config.bench``), or
its defaults. The decision, from the A/B verdict (``compat.bench.abtest``):

====================  =====  ============================================================
verdict               exit   why
====================  =====  ============================================================
no change             0      and the record says which change each measure would have seen
improvement           0
regression            4      a deciding measure beyond its threshold, interval clear of 1
void / undecided      3      loss, an audit mismatch, reruns used up, too few rounds: the
                             run cannot vouch for the change either way
====================  =====  ============================================================

The record (``gate_record``) goes into the run's ``bench.json`` (so ``compat bench history
--gates`` follows it), into a matrix report's ``bench.gate`` when ``--report`` names one
(rendered by ``compat.report.benchgate``), and as Markdown into ``$GITHUB_STEP_SUMMARY``
when that is set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compat.bench.abtest import ABVerdict

EXIT_REGRESSION = 4
EXIT_VOID = 3
RECORD_KIND = "compat-bench-gate/1"


def gate_exit(verdict: ABVerdict) -> int:
    if verdict.verdict == "regression":
        return EXIT_REGRESSION
    if verdict.verdict in ("void", "undecided"):
        return EXIT_VOID
    return 0


def gate_record(verdict: ABVerdict, *, run_id: str, timestamp: str, thresholds: Mapping[str, float],
                declared: bool, client: str, venue: str, rounds: int, duration_s: float, rate: float,
                reruns: list[dict[str, Any]]) -> dict[str, Any]:
    """What the gate decided, self-contained (a JSON object)."""
    return {
        "kind": RECORD_KIND,
        "run_id": run_id,
        "timestamp": timestamp,
        "a": verdict.label_a,
        "b": verdict.label_b,
        "client": client,
        "venue": venue,
        "verdict": verdict.verdict,
        "passed": gate_exit(verdict) == 0,
        "exit": gate_exit(verdict),
        "headline": verdict.headline(),
        "decided_by": list(verdict.decided_by),
        "reasons": list(verdict.reasons),
        "thresholds": dict(thresholds),
        "thresholds_from": "matrix.yaml bench.gate" if declared else "defaults (no bench.gate in matrix.yaml)",
        "rounds": rounds,
        "duration_s": duration_s,
        "rate": rate,
        "reruns": reruns,
        "measures": {c.measure: {"ratio": _finite(c.ratio), "ci_low": _finite(c.ci_low),
                                 "ci_high": _finite(c.ci_high), "mde": _finite(c.mde), "threshold": c.threshold,
                                 "decides": c.decides, "verdict": c.verdict}
                     for c in verdict.comparisons},
    }


def write_into_report(path: Path, record: Mapping[str, Any]) -> None:
    """Put ``record`` into the matrix report's ``bench.gate`` (the JSON at ``path``), in place."""
    import dataclasses

    from compat.results.jsonfile import load_json, render_json

    results = load_json(path)  # a clear ResultsError for a missing or foreign file
    updated = dataclasses.replace(results, bench={**results.bench, "gate": dict(record)})
    path.write_text(render_json(updated), encoding="utf-8")


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value
