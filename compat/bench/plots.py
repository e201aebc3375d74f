"""Matplotlib PNGs: the percentile spectrum and latency against throughput.

The spectrum's x axis is ``1/(1-p)`` on a log scale (HdrHistogram's plotter convention), so
50%, 90%, 99%, 99.9% are evenly spaced and the tail is as visible as the median.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from compat.bench.histograms import spectrum
from compat.bench.loadpoint import CORRECTED, LoadPoint

if TYPE_CHECKING:
    from compat.bench.run import BenchRun
    from compat.bench.soak import SoakResult
    from compat.bench.upgrade import Blip

_TICKS = ((50.0, "50%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%"),
          (99.999, "99.999%"))


def _percentile_lines(axes: Axes, xs: Sequence[float], points: Sequence[LoadPoint], metric: str) -> None:
    """p50, p99 and p99.9 of ``points`` (in us) over ``xs``, one line each."""
    for key, style in (("p50", "o-"), ("p99", "s-"), ("p999", "^--")):
        axes.plot(xs, [getattr(p.percentiles(metric), key) / 1000.0 for p in points], style, label=key)


def _save(figure: Figure, axes: Axes, path: Path, *, title: str, xlabel: str, ylabel: str,
          legend_loc: Literal["best", "upper right"] = "best", dpi: int = 100) -> Path:
    """Label, grid and legend, then write the PNG and free the figure."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc=legend_loc)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def plot_spectrum(points: Sequence[LoadPoint], path: Path, metric: str = CORRECTED) -> Path:
    figure, axes = plt.subplots(figsize=(8, 5))
    top = 0.0
    for point in points:
        data = spectrum(point.histograms[metric])
        if not data:
            continue
        xs = [1.0 / (1.0 - level / 100.0) for level, _ in data]
        ys = [value / 1000.0 for _, value in data]
        top = max(top, max(xs))
        axes.plot(xs, ys, label=f"{point.label} ({point.percentiles(metric).count} samples)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    ticks = [(1.0 / (1.0 - p / 100.0), name) for p, name in _TICKS if 1.0 / (1.0 - p / 100.0) <= max(top, 2)]
    axes.set_xticks([x for x, _ in ticks], [name for _, name in ticks])
    return _save(figure, axes, path, title=f"Latency by percentile: {metric} (intended send -> ack)",
                 xlabel="percentile (axis: 1/(1-p), log)", ylabel="latency (us, log)")


def plot_throughput(points: Sequence[LoadPoint], slo_p99_ns: int, path: Path,
                    metric: str = CORRECTED) -> Path:
    figure, axes = plt.subplots(figsize=(8, 5))
    ordered = sorted(points, key=lambda p: p.target_rate)
    _percentile_lines(axes, [p.achieved_rate for p in ordered], ordered, metric)
    axes.axhline(slo_p99_ns / 1000.0, color="red", linestyle=":", label=f"SLO p99 {slo_p99_ns / 1e6:g} ms")
    axes.set_yscale("log")
    return _save(figure, axes, path, title="Latency against throughput",
                 xlabel="achieved rate (orders/s)", ylabel="latency (us, log)")


def plot_sessions(points: Sequence[tuple[int, LoadPoint]], path: Path, metric: str = CORRECTED) -> Path:
    """Latency against the number of concurrent client sessions through one gateway."""
    figure, axes = plt.subplots(figsize=(8, 5))
    ordered = sorted(points, key=lambda item: item[0])
    _percentile_lines(axes, [count for count, _ in ordered], [p for _, p in ordered], metric)
    axes.set_xscale("log")
    axes.set_yscale("log")
    return _save(figure, axes, path, title="Latency against sessions",
                 xlabel="concurrent sessions (log)", ylabel="latency (us, log)")


def plot_timeline(blip: Blip, path: Path) -> Path:
    """Corrected latency over intended send time, per bucket: max and p99, the swap marked."""
    rows = blip.series()
    figure, axes = plt.subplots(figsize=(9, 5))
    xs = [t for t, _, _, _ in rows]
    axes.step(xs, [top for _, top, _, _ in rows], where="post", label="max")
    axes.step(xs, [p99 for _, _, p99, _ in rows], where="post", label="p99")
    swap = blip.swap
    marks = ((0.0, f"gateway {swap.from_version} stop", "red"),
             ((swap.new_ready_ns - swap.began_ns) / 1e9, f"gateway {swap.to_version} ready", "orange"),
             (blip.gap_ns / 1e9, "first ack after restart", "green"))
    for x, text, colour in marks:
        axes.axvline(x, color=colour, linestyle="--", linewidth=1, label=text)
    axes.axvspan(0.0, blip.gap_ns / 1e9, color="red", alpha=0.08)
    axes.set_yscale("log")
    return _save(figure, axes, path,
                 title=f"live upgrade {swap.from_version} -> {swap.to_version}: reconnect gap "
                       f"{blip.gap_ns / 1e6:.0f} ms, max {blip.max_ns / 1e6:.0f} ms",
                 xlabel=f"intended send time, s since the swap began (buckets of {blip.bucket_ns / 1e6:.0f} ms)",
                 ylabel="order -> ack latency, ms (from intended send time)", legend_loc="upper right", dpi=110)


def write_plots(directory: Path, run: BenchRun) -> list[Path]:
    written = []
    headline = [p for p in (run.floor, run.self_test, run.upgrade) if p is not None] + run.gateway + \
        list(run.ab_points.values())
    if headline:
        written.append(plot_spectrum(headline, directory / "spectrum.png"))
    if run.sweep:
        written.append(plot_throughput(run.sweep, int(run.settings.slo_p99_ms * 1e6),
                                       directory / "throughput.png"))
    if run.scale is not None and run.gateway:
        sessions = run.settings.drivers * run.settings.connections
        written.append(plot_sessions([(sessions, run.gateway[0]),
                                      (int(run.scale.extra.get("sessions", 0)), run.scale)],
                                     directory / "sessions.png"))
    if run.blip is not None:
        written.append(plot_timeline(run.blip, directory / "upgrade.png"))
    return written


def plot_soak(result: SoakResult, path: Path) -> Path:
    """Memory of every process and latency per window over the soak; the settling time shaded."""
    figure, (memory, latency) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    origin = result.started_monotonic
    for role, samples in sorted(result.samples.items()):
        memory.plot([s.t - origin for s in samples], [s.rss_bytes / 2**20 for s in samples], label=role)
    memory.set_ylabel("RSS (MiB)")
    memory.set_title(f"soak {result.cell_id}: {result.settings.rate:.0f}/s for {result.elapsed_s:.0f}s, "
                     + ("valid" if result.valid else f"VOID ({len(result.findings)} finding(s))"))
    memory.grid(True, alpha=0.3)
    memory.legend(loc="upper left", fontsize="small")
    xs = [w.started_s for w in result.windows]
    latency.plot(xs, [w.pct.p50 / 1000 for w in result.windows], "o-", markersize=2, label="p50")
    latency.plot(xs, [w.pct.p99 / 1000 for w in result.windows], "s-", markersize=2, label="p99")
    probes = [(f.started_s, f.p50_ns / 1000) for f in result.floors if f.valid]
    if probes:
        latency.plot([t for t, _ in probes], [v for _, v in probes], "k^", markersize=4, label="floor p50")
    latency.set_yscale("log")
    for axes in (memory, latency):
        axes.axvspan(0.0, result.settings.settle, color="grey", alpha=0.12)
    return _save(figure, latency, path, title="latency per window (intended send -> ack; shaded: settling)",
                 xlabel="seconds since the soak began", ylabel="latency (us, log)", legend_loc="upper right")
