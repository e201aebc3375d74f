"""The PNG plots render from literal load points (matplotlib's Agg backend, no window)."""

from __future__ import annotations

from pathlib import Path

from hdrh.histogram import HdrHistogram

from compat.bench.loadpoint import CORRECTED, LoadPoint
from compat.bench.plots import plot_sessions, plot_spectrum, plot_throughput, plot_timeline
from compat.bench.upgrade import Blip, SwapRecord

PNG = b"\x89PNG\r\n\x1a\n"


def _point(label: str, rate: float, latency_ns: int) -> LoadPoint:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    for i in range(1000):
        histogram.record_value(latency_ns + i * 100)
    return LoadPoint(label=label, target_rate=rate, achieved_rate=rate, ack_rate=rate,
                     counts={"sent": 1000, "acked": 1000, "lost": 0}, histograms={CORRECTED: histogram},
                     exact_max={CORRECTED: latency_ns + 99_900}, overhead_ns_mean=500.0,
                     record_ns_per_sample=300.0, invalid_reasons=[], drivers=1)


def test_spectrum_throughput_and_sessions_plots_are_pngs(tmp_path: Path) -> None:
    points = [_point("r1000", 1000.0, 100_000), _point("r2000", 2000.0, 150_000)]
    written = [
        plot_spectrum(points, tmp_path / "spectrum.png"),
        plot_throughput(points, 1_000_000, tmp_path / "throughput.png"),
        plot_sessions([(1, points[0]), (10, points[1])], tmp_path / "sessions.png"),
    ]
    assert all(path.read_bytes().startswith(PNG) for path in written)


def test_upgrade_timeline_plot_is_a_png(tmp_path: Path) -> None:
    timeline = {}
    for bucket in range(10, 20):
        histogram = HdrHistogram(1, 60_000_000_000, 3)
        histogram.record_value(200_000 if bucket != 12 else 80_000_000)
        timeline[bucket] = histogram
    swap = SwapRecord("2.0.0", "2.1.0", began_ns=1_100_000_000, old_exited_ns=1_150_000_000,
                      new_ready_ns=1_250_000_000, old_exit_code=0)
    blip = Blip(swap=swap, bucket_ns=100_000_000, timeline=timeline, sessions=[], resent=0,
                gap_ns=200_000_000, max_ns=80_000_000)
    assert plot_timeline(blip, tmp_path / "upgrade.png").read_bytes().startswith(PNG)
