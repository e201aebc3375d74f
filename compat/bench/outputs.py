"""Pure renderers of benchmark results, plus one ``write_outputs`` that puts them on disk.

Every renderer takes load points (and the floor) and returns text: ``.hgrm`` percentile
distributions, CSV, InfluxDB line protocol, OpenMetrics text. Units: nanoseconds in
machine formats (CSV, Influx, OpenMetrics uses seconds as its convention), microseconds in
the human ``.hgrm``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from compat.bench.histograms import Percentiles, hgrm
from compat.bench.loadpoint import LoadPoint

PERCENTILE_KEYS = ("p50", "p90", "p99", "p999", "max")
_QUANTILE = {"p50": "0.5", "p90": "0.9", "p99": "0.99", "p999": "0.999", "max": "1"}


def render_csv(points: Sequence[LoadPoint], floor: LoadPoint | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["label", "metric", "valid", "target_rate", "achieved_rate", "count",
                     *[f"{key}_ns" for key in PERCENTILE_KEYS], "p50_ratio_to_floor", "overhead_ns_mean"])
    for point in points:
        for metric in point.histograms:
            pct = point.percentiles(metric)
            ratio = _ratio(point, floor, metric)
            writer.writerow([point.label, metric, point.valid, f"{point.target_rate:.1f}",
                             f"{point.achieved_rate:.1f}", pct.count,
                             *[getattr(pct, key) for key in PERCENTILE_KEYS],
                             "" if ratio is None else f"{ratio:.3f}", f"{point.overhead_ns_mean:.0f}"])
    return out.getvalue()


def render_influx(points: Sequence[LoadPoint], timestamp_ns: int, run_id: str,
                  floor: LoadPoint | None = None) -> str:
    """InfluxDB line protocol, one line per (load point, metric)."""
    lines = []
    for point in points:
        for metric in point.histograms:
            pct = point.percentiles(metric)
            tags = f"compat_bench,run={_tag(run_id)},label={_tag(point.label)},metric={_tag(metric)}"
            fields = [f"{key}_ns={getattr(pct, key)}i" for key in PERCENTILE_KEYS]
            fields += [f"count={pct.count}i", f"valid={'true' if point.valid else 'false'}",
                       f"target_rate={point.target_rate:.3f}", f"achieved_rate={point.achieved_rate:.3f}",
                       f"overhead_ns_mean={point.overhead_ns_mean:.1f}"]
            ratio = _ratio(point, floor, metric)
            if ratio is not None:
                fields.append(f"p50_ratio_to_floor={ratio:.4f}")
            lines.append(f"{tags} {','.join(fields)} {timestamp_ns}")
    return "\n".join(lines) + "\n"


def render_openmetrics(points: Sequence[LoadPoint], floor: LoadPoint | None = None) -> str:
    """OpenMetrics text: latency as a summary in seconds, rates and validity as gauges."""
    out = ["# TYPE compat_bench_latency_seconds summary",
           "# UNIT compat_bench_latency_seconds seconds",
           "# HELP compat_bench_latency_seconds Order latency percentiles per load point and metric."]
    for point in points:
        for metric in point.histograms:
            pct = point.percentiles(metric)
            labels = f'label="{_escape(point.label)}",metric="{_escape(metric)}"'
            for key in PERCENTILE_KEYS:
                out.append(f'compat_bench_latency_seconds{{{labels},quantile="{_QUANTILE[key]}"}} '
                           f"{getattr(pct, key) / 1e9:.9f}")
            out.append(f"compat_bench_latency_seconds_count{{{labels}}} {pct.count}")
    gauges = (("compat_bench_target_rate", "Planned orders per second.", lambda p: p.target_rate),
              ("compat_bench_achieved_rate", "Achieved orders per second.", lambda p: p.achieved_rate),
              ("compat_bench_valid", "1 when the load point is a valid result.", lambda p: float(p.valid)),
              ("compat_bench_overhead_seconds", "Harness overhead per message (mean).",
               lambda p: p.overhead_ns_mean / 1e9))
    for name, help_text, value in gauges:
        out += [f"# TYPE {name} gauge", f"# HELP {name} {help_text}"]
        out += [f'{name}{{label="{_escape(p.label)}"}} {value(p):.9g}' for p in points]
    if floor is not None:
        out += ["# TYPE compat_bench_p50_ratio_to_floor gauge",
                "# HELP compat_bench_p50_ratio_to_floor Corrected order-to-ack p50 over the floor's p50."]
        for point in points:
            ratio = _ratio(point, floor, "corrected_ack")
            if ratio is not None:
                out.append(f'compat_bench_p50_ratio_to_floor{{label="{_escape(point.label)}"}} {ratio:.6g}')
    out.append("# EOF")
    return "\n".join(out) + "\n"


def render_text(point: LoadPoint, floor: LoadPoint | None = None, metric: str = "corrected_ack") -> str:
    """One human line per metric: percentiles in µs, and the ratio to the floor's."""
    pct = point.percentiles(metric)
    parts = [f"{key}={getattr(pct, key) / 1000:.1f}" for key in PERCENTILE_KEYS]
    line = f"{point.label:<22} {metric:<16} n={pct.count:<7} " + " ".join(parts) + " us"
    if floor is not None and floor is not point and metric in floor.histograms and metric != "send_lateness":
        ratios = pct.ratio_to(floor.percentiles(metric))
        line += "  (x floor: " + " ".join(f"{key}={ratios[key]:.2f}" for key in ("p50", "p99")) + ")"
    return line


def write_outputs(directory: Path, run: Mapping[str, Any], points: Sequence[LoadPoint],
                  floor: LoadPoint | None, timestamp_ns: int, run_id: str) -> list[Path]:
    """Write JSON, .hgrm per (point, metric), CSV, Influx and OpenMetrics; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)

    put("bench.json", json.dumps(run, indent=2, sort_keys=True, default=str) + "\n")
    for point in points:
        for metric, histogram in point.histograms.items():
            put(f"{_slug(point.label)}.{metric}.hgrm", hgrm(histogram))
    put("bench.csv", render_csv(points, floor))
    put("bench.influx", render_influx(points, timestamp_ns, run_id, floor))
    put("bench.om.txt", render_openmetrics(points, floor))
    return written


def percentiles_us(pct: Percentiles) -> dict[str, float]:
    return {key: getattr(pct, key) / 1000 for key in PERCENTILE_KEYS}


def _ratio(point: LoadPoint, floor: LoadPoint | None, metric: str) -> float | None:
    if floor is None or metric not in floor.histograms:
        return None
    base = floor.percentiles(metric).p50
    return point.percentiles(metric).p50 / base if base else None


def _tag(value: str) -> str:
    return re.sub(r"([,= ])", r"\\\1", value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", value)
