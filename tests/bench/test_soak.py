"""``compat bench --soak``: the judgement on literal series, then a real soak of a real stack.

The literal series pin each way a soak is void (growth of RSS, open files or threads; a lost
order or an audit mismatch; a latency drift against the floor) and that a flat, lossless,
steady run is valid. The real soak runs the released gateway 3.0.0, which keeps every order it
ever saw (a known issue of that release), and must be found growing; it also checks what every
soak must do whatever the product: sample every process, reconcile the exchange's audit log,
write its files.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from compat.bench.loadpoint import CORRECTED, LoadPoint
from compat.bench.plots import plot_soak
from compat.bench.soak import SoakResult, SoakSettings, judge, parse_duration, soak_order, write_series
from compat.errors import ConfigError
from compat.harness.resources import Sample

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"


def _point(label: str, p50_ns: int, *, lost: int = 0, short: bool = False) -> LoadPoint:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    for i in range(41):
        histogram.record_value(p50_ns + (i - 20) * 100)
    reasons = ["achieved 900.0/s of 1000.0/s"] if short else []
    reasons += [f"{lost} lost"] if lost else []
    return LoadPoint(label=label, target_rate=1000.0, achieved_rate=900.0 if short else 1000.0, ack_rate=1000.0,
                     counts={"sent": 500, "acked": 500 - lost, "lost": lost}, histograms={CORRECTED: histogram},
                     exact_max={CORRECTED: p50_ns + 2500}, overhead_ns_mean=500.0, record_ns_per_sample=300.0,
                     invalid_reasons=reasons, drivers=1)


def _result(*, rss_growth_per_s: float = 0.0, files_growth_per_s: float = 0.0, drift_at: int | None = None,
            lost_in: int | None = None, audit_match: bool = True, short_windows: int = 0,
            windows: int = 60) -> SoakResult:
    """A 600 s soak: 60 windows of 10 s, samples every 2 s of gateway and exchange, jitter added."""
    rng = random.Random(7)
    settings = SoakSettings(duration_s=600.0, settle_s=60.0)
    result = SoakResult("run", settings, "cell", "now", elapsed_s=600.0, started_monotonic=1000.0)
    for role in ("gateway", "exchange"):
        grows = role == "gateway"
        result.samples[role] = [
            Sample(1000.0 + t, 1.0, int(40 * MIB + (rss_growth_per_s * t if grows else 0) + rng.randint(0, 200_000)),
                   42, int(12 + (files_growth_per_s * t if grows else 0)), 5)
            for t in range(0, 600, 2)
        ]
    for k in range(windows):
        floor = 150_000 + rng.randint(-8000, 8000)
        factor = 1.6 if drift_at is not None and k >= drift_at else 1.0
        gateway = int(floor * 2.0 * factor) + rng.randint(-10_000, 10_000)
        result.add_window(k * 10.0, _point(f"soak#{k + 1}", gateway, lost=3 if k == lost_in else 0,
                                           short=k < short_windows), float(floor))
    acked = sum(w.point.counts["acked"] for w in result.windows)
    result.audit = {"checked": True, "acked_by_harness": acked, "accepted_in_audit": acked + (0 if audit_match else 2),
                    "match": audit_match}
    judge(result)
    return result


def _kinds(result: SoakResult) -> list[tuple[str, str]]:
    return [(f.kind, f.subject.split(" (pid")[0]) for f in result.findings]


def test_a_flat_lossless_steady_soak_is_valid() -> None:
    result = _result()
    assert result.valid, [f.describe() for f in result.findings]
    checks = " | ".join(result.checks)
    assert "flat: gateway rss" in checks and "no loss" in checks and "no drift" in checks, checks


def test_steady_rss_growth_voids_the_soak_and_names_the_process() -> None:
    result = _result(rss_growth_per_s=20 * 1024)  # 20 KiB/s: 12 MiB over the run
    assert _kinds(result) == [("growth", "gateway rss")], result.findings


def test_open_files_that_keep_rising_void_the_soak() -> None:
    result = _result(files_growth_per_s=0.05)  # one more descriptor every 20 s
    assert _kinds(result) == [("growth", "gateway open files")], result.findings
    assert result.findings[0].detail.startswith("15 -> 41"), result.findings  # counted from the settling time on


def test_a_lost_order_or_an_audit_mismatch_voids_the_soak() -> None:
    assert ("loss", "soak#31") in _kinds(_result(lost_in=30))
    assert _kinds(_result(audit_match=False)) == [("loss", "audit")]


def test_latency_that_drifts_against_the_floor_voids_the_soak() -> None:
    result = _result(drift_at=35)
    assert _kinds(result) == [("drift", "latency")], result.findings
    assert "at 350s" in result.findings[0].detail and "(+6" in result.findings[0].detail, result.findings


def test_a_few_short_windows_are_tolerated_many_are_not() -> None:
    assert _result(short_windows=2).valid  # 2 of 60 short, within 5 %
    assert ("rate", "load") in _kinds(_result(short_windows=10))


def test_too_short_a_soak_says_it_was_not_judged() -> None:
    result = _result(windows=4)
    assert ("drift", "latency") in _kinds(result)
    assert "not judged" in " ".join(f.detail for f in result.findings)


def test_durations_parse_and_bad_ones_name_the_option() -> None:
    assert parse_duration("1h") == 3600.0
    assert parse_duration("2m30s") == 150.0
    assert parse_duration("120") == 120.0
    for bad in ("", "1x", "-5s", "0"):
        with pytest.raises(ConfigError, match="--soak"):
            parse_duration(bad)
    with pytest.raises(ConfigError, match="two 10s windows"):
        SoakSettings(duration_s=15.0)


def test_soak_orders_leave_nothing_resting() -> None:
    assert soak_order({"symbol": "ABC", "tif": "GTC", "price": "1.00"})["tif"] == "IOC"


def test_plot_and_series_files(tmp_path: Path) -> None:
    result = _result(rss_growth_per_s=20 * 1024)
    assert plot_soak(result, tmp_path / "soak.png").read_bytes().startswith(PNG)
    rows = write_series(tmp_path / "soak.csv", result).read_text().splitlines()
    assert rows[0] == "role,pid,t_s,rss_bytes,open_files,threads,cpu_pct"
    assert len(rows) == 1 + 2 * 300
    record = result.as_dict()
    assert record["valid"] is False and record["findings"][0]["kind"] == "growth"
    assert len(record["windows"]) == 60 and record["windows"][0]["ratio_to_floor"] is not None


@pytest.mark.slow
def test_a_real_soak_finds_the_released_gateway_growing(tmp_path: Path) -> None:
    """refgw 3.0.0 keeps every order: 70 s at 400/s must show its RSS rising; nothing is lost."""
    import subprocess

    store = tmp_path / "store"
    command = [sys.executable, "-m", "compat.cli", "bench", "--soak", "70s", "--soak-window", "5", "--rate", "400",
               "--gateway", "3.0.0", "--client", "3.0.0", "--no-plots", "--store", str(store),
               "--matrix", str(ROOT / "matrix.yaml"), "--cache-dir", str(ROOT / ".compat")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output  # void
    [run_dir] = store.iterdir()
    record = json.loads((run_dir / "bench.json").read_text())
    findings = [(f["kind"], f["subject"]) for f in record["findings"]]
    assert any(kind == "growth" and subject.startswith("gateway rss") for kind, subject in findings), output
    assert not any(kind == "loss" for kind, _ in findings), output
    assert record["audit"]["match"] is True, record["audit"]
    assert {"exchange", "gateway", "client:bench1"} <= set(record["series"]), record["series"].keys()
    assert (run_dir / "soak.csv").exists() and any(run_dir.glob("*.hgrm"))


def test_windows_keep_summaries_and_the_total_holds_the_histograms() -> None:
    """An hour of windows must not hold an hour of 60-second histograms (the first 1-hour soak's
    harness grew ~7 MiB a minute): each window keeps its percentiles, the total every sample."""
    result = _result(lost_in=2, windows=6)
    assert all(w.point.histograms == {} for w in result.windows)
    assert [round(w.pct.p50 / 1000) for w in result.windows] == [round(w.p50_ns / 1000) for w in result.windows]
    total = result.combined()
    assert total is not None and total.percentiles().count == 6 * 41
    assert total.counts["sent"] == 6 * 500 and total.counts["lost"] == 3
    assert total.invalid_reasons == ["soak#3: 3 lost"]
