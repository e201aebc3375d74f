"""The leak rule on synthetic series, and the resource sampler against real processes."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from compat.harness import Command, LocalHost, LocalProcess, ReadyLine
from compat.harness.resources import (
    LeakRule,
    ResourceSampler,
    Sample,
    judge_leak,
    segment_medians,
    summarize,
    theil_sen_slope,
)

HELPERS = Path(__file__).parent / "helpers"
DATA = Path(__file__).parent / "data"
MIB = 1024 * 1024
BASE = 40 * MIB  # a typical Python process
StartHelper = Callable[..., LocalProcess]


def series(rss: Sequence[float], dt: float = 0.25) -> list[tuple[float, float]]:
    return [(i * dt, value) for i, value in enumerate(rss)]


# -- the rule on synthetic series ------------------------------------------------------------


def test_steady_growth_is_flagged() -> None:
    points = series([BASE + 512 * 1024 * i * 0.25 for i in range(80)])  # 512 KiB/s for 20 s
    verdict = judge_leak(points)
    assert verdict.judged and verdict.suspected, verdict
    assert verdict.slope_bytes_per_s == pytest.approx(512 * 1024)
    assert verdict.reason is not None and "grew steadily over 19.8s" in verdict.reason


def test_steady_growth_under_gc_noise_is_flagged() -> None:
    rng = random.Random(7)
    # 300 KiB/s plus a sawtooth and jitter: a leak seen through a garbage collector.
    points = series([BASE + 300 * 1024 * i * 0.25 + (i % 7) * 200 * 1024 + rng.uniform(-1, 1) * 100 * 1024
                     for i in range(120)])
    assert judge_leak(points).suspected


def test_flat_is_not_flagged() -> None:
    verdict = judge_leak(series([float(BASE)] * 80))
    assert verdict.judged and not verdict.suspected and verdict.slope_bytes_per_s == 0


def test_noisy_flat_is_not_flagged() -> None:
    rng = random.Random(1)
    assert not judge_leak(series([BASE + rng.uniform(-2, 2) * MIB for _ in range(200)])).suspected


def test_single_step_is_not_flagged() -> None:
    # A one-off 20 MiB allocation half way (a cache filled once): steep "slope", no steady growth.
    points = series([BASE + (20 * MIB if i >= 40 else 0) for i in range(80)])
    verdict = judge_leak(points)
    assert not verdict.suspected, verdict


def test_sawtooth_is_not_flagged() -> None:
    # Garbage builds up for 2 s, then is collected: up and down, never away.
    points = series([BASE + (i % 8) * 2 * MIB for i in range(120)])
    assert not judge_leak(points).suspected


def test_warm_up_that_levels_off_is_not_flagged() -> None:
    points = series([BASE + 30 * MIB * (1 - math.exp(-i / 10)) for i in range(120)])  # 30 s, plateau after ~8 s
    assert not judge_leak(points).suspected


def test_one_burst_among_small_steps_is_not_flagged() -> None:
    # A matrix cell's process: the tests before creep it up by a few hundred KiB (every step
    # above min_step_bytes), one scenario's burst adds 6 MiB in 2 s, then it is flat.
    creep = [BASE + i * 10 * 1024 for i in range(32)]  # 8 s at 40 KiB/s
    burst = [creep[-1] + 6 * MIB * (i + 1) / 8 for i in range(8)]  # +6 MiB in 2 s
    settled = [burst[-1] + i * 8 * 1024 for i in range(24)]  # 6 s at 32 KiB/s
    points = series([*creep, *burst, *settled])
    medians = segment_medians(points, 5)
    steps = [b - a for a, b in itertools.pairwise(medians)]
    assert min(steps) >= 64 * 1024 and max(steps) > 0.8 * sum(steps)  # every step clears the floor; one is the growth
    assert judge_leak(points, LeakRule(min_step_fraction=0.0)).suspected  # the misfire: one step was enough
    verdict = judge_leak(points)
    assert verdict.judged and not verdict.suspected, verdict


def test_the_matrix_burst_that_was_flagged_is_not() -> None:
    # The exchange of client-2.1.0--gateway-3.1.0.dev0+candidate--venue-tlx as the matrix sampled it:
    # 31.5 -> 38.2 MiB, all but 0.6 MiB of it while the slow-consumer scenario pumped 1,500 orders.
    recorded = json.loads((DATA / "matrix_exchange_burst.json").read_text(encoding="utf-8"))
    points = [(t, kib * 1024.0) for t, kib in zip(recorded["t_s"], recorded["rss_kib"], strict=True)]
    assert judge_leak(points, LeakRule(min_step_fraction=0.0)).suspected
    assert not judge_leak(points).suspected


def test_growth_in_proportion_to_uneven_work_is_flagged() -> None:
    # A leak of ~1 KB per order where one segment sends six times the orders of the others:
    # every segment still grows by a fair share of the average, so it is a leak.
    per_segment = [1, 1, 6, 1, 1]  # MiB of retained orders per 4 s segment
    rss, level = [], float(BASE)
    for grows in per_segment:
        for _ in range(16):
            level += grows * MIB / 16
            rss.append(level)
    assert judge_leak(series(rss)).suspected


def test_short_windows_are_not_judged() -> None:
    growing = [BASE + MIB * i for i in range(80)]
    too_few = judge_leak(series(growing[:10], dt=1.0))
    too_short = judge_leak(series(growing, dt=0.05))  # 80 samples over 4 s
    assert not too_few.judged and not too_few.suspected
    assert not too_short.judged and not too_short.suspected


def test_thresholds_are_parameters() -> None:
    slow = series([BASE + 16 * 1024 * i * 0.25 for i in range(400)])  # 16 KiB/s for 100 s
    assert not judge_leak(slow).suspected
    sensitive = LeakRule(min_slope_bytes_per_s=8 * 1024, min_growth_bytes=512 * 1024, min_growth_fraction=0.0,
                         min_step_bytes=4096)
    assert judge_leak(slow, sensitive).suspected
    with pytest.raises(ValueError, match="segments >= 2"):
        LeakRule(segments=1)
    with pytest.raises(ValueError, match="min_step_fraction"):
        LeakRule(min_step_fraction=1.5)


def test_theil_sen_ignores_outliers() -> None:
    points = series([1000.0 * i for i in range(50)])
    points[10] = (points[10][0], 1e12)
    assert theil_sen_slope(points) == pytest.approx(4000.0)  # 1000 per 0.25 s


def test_a_restart_is_judged_per_pid_not_as_one_series() -> None:
    # Old gateway grew to 60 MiB, the new one starts at 40 MiB and stays flat: no leak from the join,
    # and a new pid that grows steadily is flagged on its own.
    old = [Sample(i * 0.25, 1.0, int(BASE + 0.1 * MIB * i), pid=1) for i in range(40)]
    new_flat = [Sample(10 + i * 0.25, 1.0, BASE, pid=2) for i in range(40)]
    summary = summarize([*old, *new_flat])
    assert summary.pids == (1, 2)
    assert summary.rss_start_bytes == BASE and summary.rss_end_bytes == BASE
    assert summary.leak_suspected and summary.leak_reason is not None and summary.leak_reason.startswith("pid 1:")
    flat_then_flat = [Sample(i * 0.25, 1.0, BASE + 20 * MIB, pid=1) for i in range(40)] + new_flat
    assert not summarize(flat_then_flat).leak_suspected


# -- the sampler against real processes -------------------------------------------------------


@pytest.fixture
def start_helper(tmp_path: Path) -> Iterator[StartHelper]:
    started: list[LocalProcess] = []

    def start(mode: str, *args: str) -> LocalProcess:
        command = Command((sys.executable, str(HELPERS / "allocates.py"), mode, *args),
                          name=f"alloc-{mode}-{len(started)}")
        process = LocalHost().start(command, ReadyLine(r"^ALLOC READY pid=(?P<pid>\d+)$"), tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(grace_s=1.0)


def test_sampler_flags_a_leaking_process_and_not_an_idle_one(start_helper: StartHelper) -> None:
    leaky = start_helper("leak", str(8 * MIB))
    idle = start_helper("idle")
    # A 3 s window keeps the test short; the soak in tests/products uses the default rule.
    rule = LeakRule(min_window_s=2.5)
    with ResourceSampler(lambda: {"leaky": leaky.pid, "idle": idle.pid}, interval_s=0.05, rule=rule) as sampler:
        got = sampler.wait_for_samples("leaky", 60, timeout_s=20.0)
        assert got >= 60, f"only {got} samples of the leaking helper in 20 s"
        sampler.wait_for_samples("idle", 60, timeout_s=5.0)
    summary = sampler.summary()
    assert summary["leaky"].leak_suspected and summary["leaky"].leak_judged, summary["leaky"]
    assert summary["leaky"].rss_slope_bytes_per_s > 4 * MIB  # ~8 MiB/s allocated
    assert summary["leaky"].rss_max_bytes > summary["leaky"].rss_start_bytes + 15 * MIB
    assert not summary["idle"].leak_suspected and summary["idle"].leak_judged, summary["idle"]
    assert summary["idle"].cpu_pct_mean < 50
    assert summary["idle"].pids == (idle.pid,)
    assert summary["idle"].duration_s >= 2.5


def test_sampler_follows_a_new_pid(start_helper: StartHelper) -> None:
    first = start_helper("idle")
    second = start_helper("idle")
    current = {"gateway": first.pid}
    with ResourceSampler(lambda: dict(current), interval_s=0.05) as sampler:
        assert sampler.wait_for_samples("gateway", 5, timeout_s=10.0, pid=first.pid) >= 5
        first.stop(grace_s=1.0)  # a live upgrade: the old gateway goes, the new one takes the role
        current["gateway"] = second.pid
        assert sampler.wait_for_samples("gateway", 5, timeout_s=10.0, pid=second.pid) >= 5
    summary = sampler.summary()["gateway"]
    assert summary.pids == (first.pid, second.pid)
    assert not summary.leak_judged  # a second or so per pid is too short to judge
    assert {s.pid for s in sampler.series("gateway")} == {first.pid, second.pid}
    assert summary.rss_end_bytes > 0


def test_series_stays_bounded_by_downsampling() -> None:
    rule = LeakRule(min_samples=10)
    with ResourceSampler(lambda: {"self": os.getpid()}, interval_s=0.005, max_samples=20, rule=rule) as sampler:
        assert sampler.wait_for_samples("self", 150, timeout_s=20.0) >= 150
    kept = sampler.series("self")
    summary = sampler.summary()["self"]
    assert len(kept) < 20
    assert summary.samples >= 150  # aggregates count every reading
    assert kept[-1].t - kept[0].t > 0.5 * summary.duration_s  # the whole window, at a coarser grain


@dataclass(frozen=True)
class _RemoteHost:
    spec: str = "ssh:compat@10.0.0.9:22"


@dataclass
class _RemoteProcess:
    """Stands in for an SshProcess: only what of_processes reads."""

    name: str = "gateway-3.0.0"
    pid: int = 4242
    host: _RemoteHost = _RemoteHost()


def test_of_processes_skips_remote_roles_with_the_reason(start_helper: StartHelper) -> None:
    local = start_helper("idle")
    processes = {"exchange": local, "gateway": _RemoteProcess()}
    with ResourceSampler.of_processes(lambda: processes, interval_s=0.05) as sampler:  # type: ignore[arg-type,return-value]
        sampler.wait_for_samples("exchange", 3, timeout_s=10.0)
    summary = sampler.summary()
    assert summary["exchange"].samples >= 3 and summary["exchange"].skipped is None
    assert summary["gateway"].samples == 0
    assert summary["gateway"].skipped is not None and "ssh:compat@10.0.0.9:22" in summary["gateway"].skipped
    record = sampler.record()
    assert record["roles"]["gateway"]["skipped"] == summary["gateway"].skipped
    assert record["roles"]["exchange"]["pids"] == [local.pid]


def test_a_failing_pid_source_is_recorded_and_sampling_goes_on() -> None:
    calls = {"n": 0}

    def pids() -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("stack is restarting")
        return {"self": os.getpid()}

    with ResourceSampler(pids, interval_s=0.02) as sampler:
        assert sampler.wait_for_samples("self", 3, timeout_s=10.0) >= 3
    record = sampler.record()
    assert record["error"] == "pids() raised RuntimeError: stack is restarting"
    assert record["roles"]["self"]["samples"] >= 3
    assert record["duration_s"] == sampler.record()["duration_s"]  # frozen once stopped
