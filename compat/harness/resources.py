"""CPU, RSS, open files and threads of each role's process, sampled in the background; the leak rule.

``ResourceSampler(pids)`` runs a daemon thread that, every ``interval_s``, calls ``pids()``
(role name → pid, e.g. ``{"exchange": 11, "gateway": 12, "client:c1": 13}``) and reads each
process with psutil: CPU% over the last tick (user + system time, 100 = one core busy), RSS,
open file descriptors and threads (the soak, ``compat bench --soak``, judges all three).
``pids()`` is called on every tick, so a gateway restarted or upgraded live (a new pid) is
followed; each sample carries the pid it came from.

What a role is: the process the harness started. Every host this machine samples runs the
role's program as that very process (local: ``spawn`` execs the argv; netns: ``ip netns exec``
execs; launch templates call the program directly), so children are not added by default;
``include_children=True`` sums the whole descendant tree for roles started through a launcher.
A process on an ssh host has a *remote* pid that psutil cannot read: ``of_processes`` skips
such roles and records why (``RoleResources.skipped``).

The series per role is bounded: at ``max_samples`` every other sample is dropped and later
ticks are kept at half the rate, so a long soak keeps its whole span at a coarser grain. CPU
mean/max and RSS max are running aggregates over *every* tick, not over the kept samples.

The leak rule (``LeakRule``, ``judge_leak``), applied to each pid's own run of samples (a
restart starts a new process, whose RSS must not be joined to the old one's):

1. enough evidence: at least ``min_samples`` samples spanning at least ``min_window_s``;
   shorter runs are not judged (``leak_suspected`` False, no reason);
2. a steady slope: the Theil–Sen slope of RSS over time (median of pairwise slopes, robust
   to outliers) is at least ``min_slope_bytes_per_s``;
3. real growth: the fitted growth over the window (slope × span) is at least
   ``min_growth_bytes`` and at least ``min_growth_fraction`` of the starting RSS;
4. growth throughout, not once: the run is cut into ``segments`` equal-time segments and
   the median RSS of each must exceed the previous one's by at least ``min_step_bytes`` and
   by at least ``min_step_fraction`` of the average step (the rise from the first segment's
   median to the last one's, over ``segments - 1``).

Rule 4 is what keeps a one-off allocation step (one segment jumps, the others are flat), a
warm-up ramp that levels off (the last segments are flat) and a GC sawtooth (segment
medians go up and down) from being flagged; rules 2–3 keep page-level jitter from counting.
The share of the average step is what keeps a one-off burst *among noise* from counting: a
matrix cell's driver or exchange that takes one scenario's burst (the slow-consumer
scenario's 1,500 orders: +6 MiB at once, flat after) while its other segments creep by the
few hundred KiB any Python process drifts as tests come and go has every step above
``min_step_bytes``, yet one step carries nearly all the growth. A leak grows in every
segment in proportion to the work done there, so each step is a fair share of the average.
Defaults: 20 samples, 5 s, 64 KiB/s, 1 MiB and 5 %, 5 segments, 64 KiB and a quarter of the
average per step.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import statistics
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

import psutil

from compat import timing
from compat.harness.host import Process
from compat.harness.local import LocalProcess

logger = logging.getLogger("compat.harness")

_KIB = 1024
_MIB = 1024 * 1024
_THEIL_SEN_POINTS = 120  # pairwise slopes of at most this many points (~7k pairs): cheap enough per summary


# -- the leak rule -------------------------------------------------------------------------


@dataclass(frozen=True)
class LeakRule:
    """Thresholds of the leak rule (see the module docstring for what each one guards)."""

    min_samples: int = 20
    min_window_s: float = 5.0
    min_slope_bytes_per_s: float = 64 * _KIB
    min_growth_bytes: int = _MIB
    min_growth_fraction: float = 0.05
    segments: int = 5
    min_step_bytes: int = 64 * _KIB
    min_step_fraction: float = 0.25  # of the average step: no one step carries the growth

    def __post_init__(self) -> None:
        if self.segments < 2 or self.min_samples < self.segments:
            raise ValueError(f"LeakRule needs segments >= 2 and min_samples >= segments, got segments="
                             f"{self.segments}, min_samples={self.min_samples}")
        if not 0.0 <= self.min_step_fraction <= 1.0:
            raise ValueError(f"LeakRule min_step_fraction must be within [0, 1], got {self.min_step_fraction}")


@dataclass(frozen=True)
class LeakVerdict:
    judged: bool  # False: too few samples or too short a span to say anything
    suspected: bool
    slope_bytes_per_s: float
    reason: str | None  # why it is suspected (None when it is not)


def theil_sen_slope(points: Sequence[tuple[float, float]], max_points: int = _THEIL_SEN_POINTS) -> float:
    """The median of pairwise slopes (y per x) of ``points``; 0.0 for fewer than two distinct x.

    Long series are thinned to ``max_points`` evenly spaced points first (the estimate stays
    unbiased; the cost stays quadratic in a constant).
    """
    if len(points) > max_points:
        step = (len(points) - 1) / (max_points - 1)
        points = [points[round(i * step)] for i in range(max_points)]
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1:]
        if x2 != x1
    ]
    return statistics.median(slopes) if slopes else 0.0


def segment_medians(points: Sequence[tuple[float, float]], segments: int) -> list[float]:
    """Median y of each of ``segments`` equal-time slices of ``points`` (empty slices skipped)."""
    if not points:
        return []
    start, end = points[0][0], points[-1][0]
    width = (end - start) / segments or 1.0
    buckets: list[list[float]] = [[] for _ in range(segments)]
    for x, y in points:
        buckets[min(int((x - start) / width), segments - 1)].append(y)
    return [statistics.median(b) for b in buckets if b]


def judge_leak(points: Sequence[tuple[float, float]], rule: LeakRule = LeakRule()) -> LeakVerdict:
    """Apply the leak rule to one process's ``(t_seconds, rss_bytes)`` samples, in time order."""
    slope = theil_sen_slope(points)
    if len(points) < rule.min_samples:
        return LeakVerdict(False, False, slope, None)
    span = points[-1][0] - points[0][0]
    if span < rule.min_window_s:
        return LeakVerdict(False, False, slope, None)
    growth = slope * span
    start_rss = points[0][1]
    if slope < rule.min_slope_bytes_per_s or growth < max(rule.min_growth_bytes, rule.min_growth_fraction * start_rss):
        return LeakVerdict(True, False, slope, None)
    medians = segment_medians(points, rule.segments)
    if len(medians) < rule.segments:
        return LeakVerdict(True, False, slope, None)
    steps = [b - a for a, b in itertools.pairwise(medians)]
    fair_share = rule.min_step_fraction * (medians[-1] - medians[0]) / (len(medians) - 1)
    if min(steps) < max(rule.min_step_bytes, fair_share):
        return LeakVerdict(True, False, slope, None)
    reason = (
        f"RSS grew steadily over {span:.1f}s ({len(points)} samples): {_size(start_rss)} → "
        f"{_size(points[-1][1])}, Theil–Sen slope {_size(slope)}/s, each of {rule.segments} "
        f"segment medians above the last ({', '.join(_size(m) for m in medians)})"
    )
    return LeakVerdict(True, True, slope, reason)


def _size(n: float) -> str:
    return f"{n / _MIB:.1f} MiB" if abs(n) >= _MIB else f"{n / _KIB:.0f} KiB"


# -- samples and summaries ------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    t: float  # compat.timing.monotonic() seconds
    cpu_pct: float  # over the tick before t; 100.0 = one core
    rss_bytes: int
    pid: int
    open_files: int = 0  # file descriptors (sockets and pipes count): a long soak watches them grow
    threads: int = 0


@dataclass(frozen=True)
class RoleResources:
    """One role's figures over the sampler's lifetime (JSON-able through ``to_dict``)."""

    samples: int  # ticks read (all of them, including those dropped from the kept series)
    cpu_pct_mean: float
    cpu_pct_max: float
    rss_start_bytes: int
    rss_max_bytes: int
    rss_end_bytes: int
    rss_slope_bytes_per_s: float  # Theil–Sen, of the pid with the most samples (noisy unless leak_judged)
    leak_suspected: bool
    leak_reason: str | None
    duration_s: float = 0.0  # first to last sample
    pids: tuple[int, ...] = ()  # in the order seen: more than one after a restart or live upgrade
    skipped: str | None = None  # why this role was not sampled (e.g. an ssh host's remote pid)
    leak_judged: bool = False  # some pid ran long enough for the leak rule to say anything

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["pids"] = list(self.pids)
        return record

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> RoleResources:
        return RoleResources(**{**data, "pids": tuple(data.get("pids", ()))})


def summarize(series: Sequence[Sample], rule: LeakRule = LeakRule(), *, ticks: int | None = None,
              cpu_sum: float | None = None, cpu_max: float | None = None, rss_max: int | None = None) -> RoleResources:
    """Figures of one role's samples; running aggregates override the series' own when given."""
    if not series:
        return RoleResources(0, 0.0, 0.0, 0, 0, 0, 0.0, False, None)
    runs: dict[int, list[tuple[float, float]]] = {}
    for s in series:
        runs.setdefault(s.pid, []).append((s.t, float(s.rss_bytes)))
    verdicts = {pid: judge_leak(points, rule) for pid, points in runs.items()}
    longest = max(runs, key=lambda pid: len(runs[pid]))
    leaking = [(pid, v) for pid, v in verdicts.items() if v.suspected]
    reason = "; ".join(f"pid {pid}: {v.reason}" for pid, v in leaking) or None
    count = ticks if ticks is not None else len(series)
    total_cpu = cpu_sum if cpu_sum is not None else sum(s.cpu_pct for s in series)
    return RoleResources(
        samples=count,
        cpu_pct_mean=round(total_cpu / count, 2) if count else 0.0,
        cpu_pct_max=round(cpu_max if cpu_max is not None else max(s.cpu_pct for s in series), 2),
        rss_start_bytes=series[0].rss_bytes,
        rss_max_bytes=rss_max if rss_max is not None else max(s.rss_bytes for s in series),
        rss_end_bytes=series[-1].rss_bytes,
        rss_slope_bytes_per_s=round(verdicts[longest].slope_bytes_per_s, 1),
        leak_suspected=bool(leaking),
        leak_reason=reason,
        duration_s=round(series[-1].t - series[0].t, 3),
        pids=tuple(runs),
        leak_judged=any(v.judged for v in verdicts.values()),
    )


@dataclass(frozen=True)
class _Reading:
    cpu_seconds: float
    rss_bytes: int
    open_files: int
    threads: int


@dataclass
class _Role:
    """Mutable per-role state, touched only under the sampler's lock."""

    series: list[Sample] = field(default_factory=list)
    stride: int = 1  # keep every stride-th reading (doubles each time the series is halved)
    readings: int = 0
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    rss_max: int = 0
    pids: list[int] = field(default_factory=list)
    per_pid: dict[int, int] = field(default_factory=dict)  # readings per pid


# -- the sampler ---------------------------------------------------------------------------


PidSource = Callable[[], Mapping[str, int]]
SkipSource = Callable[[], Mapping[str, str]]


class ResourceSampler:
    """Samples CPU% and RSS of each role's process on a daemon thread; a context manager.

    ``pids()`` is called on every tick (from the sampler thread) and may return a different
    pid for a role at any time; a role missing from the mapping, or whose process is gone,
    is simply not sampled on that tick. ``skipped()`` names roles that cannot be sampled and
    why; they appear in ``summary()`` with ``skipped`` set and no samples.
    """

    def __init__(self, pids: PidSource, interval_s: float = 0.25, *, skipped: SkipSource | None = None,
                 include_children: bool = False, max_samples: int = 1024, rule: LeakRule = LeakRule()) -> None:
        if interval_s <= 0:
            raise ValueError(f"ResourceSampler interval_s must be > 0, got {interval_s}")
        if max_samples < 2 * rule.min_samples:
            raise ValueError(f"ResourceSampler max_samples {max_samples} is below twice the leak rule's "
                             f"min_samples ({rule.min_samples}); a halved series could never be judged")
        self.interval_s = interval_s
        self.include_children = include_children
        self.max_samples = max_samples
        self.rule = rule
        self._pids = pids
        self._skipped_source = skipped
        self._roles: dict[str, _Role] = {}
        self._skipped: dict[str, str] = {}
        self._cpu_prev: dict[str, tuple[int, float, float]] = {}  # role → (pid, t, cpu seconds)
        self._procs: dict[int, psutil.Process] = {}
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._stopped_at: float | None = None
        self._source_error: str | None = None

    @classmethod
    def of_processes(cls, processes: Callable[[], Mapping[str, Process]], interval_s: float = 0.25,
                     **options: Any) -> ResourceSampler:
        """A sampler over harness processes: local and netns ones by pid, the others skipped."""

        def pids() -> dict[str, int]:
            return {role: p.pid for role, p in processes().items() if isinstance(p, LocalProcess)}

        def skipped() -> dict[str, str]:
            return {
                role: f"{p.name} runs on host {p.host.spec}: pid {p.pid} is not a process of this machine, "
                      "so psutil cannot read it"
                for role, p in processes().items() if not isinstance(p, LocalProcess)
            }

        return cls(pids, interval_s, skipped=skipped, **options)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ResourceSampler:
        if self._thread is not None:
            raise RuntimeError("ResourceSampler.start: already started; use one sampler per window")
        self._started_at = timing.monotonic()
        self._thread = threading.Thread(target=self._run, name="compat-resource-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped_at is None and self._thread is not None:
            self._stopped_at = timing.monotonic()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(2.0, 4 * self.interval_s))
            if self._thread.is_alive():
                logger.warning("resource sampler: thread still running after stop (a psutil read is stuck)")

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- results -----------------------------------------------------------------------------

    def summary(self) -> dict[str, RoleResources]:
        """Figures per role so far (sampling may continue); skipped roles carry their reason."""
        with self._lock:
            roles = {name: (list(r.series), r.readings, r.cpu_sum, r.cpu_max, r.rss_max)
                     for name, r in self._roles.items()}
            skipped = dict(self._skipped)
        result: dict[str, RoleResources] = {}
        for name, (series, readings, cpu_sum, cpu_max, rss_max) in sorted(roles.items()):
            result[name] = summarize(series, self.rule, ticks=readings, cpu_sum=cpu_sum, cpu_max=cpu_max,
                                     rss_max=rss_max)
        for name, reason in sorted(skipped.items()):
            if name not in result:
                result[name] = RoleResources(0, 0.0, 0.0, 0, 0, 0, 0.0, False, None, skipped=reason)
        return result

    def record(self) -> dict[str, Any]:
        """The JSON-able summary a report carries: ``{"interval_s", "duration_s", "roles": {...}}``."""
        record: dict[str, Any] = {
            "interval_s": self.interval_s,
            "duration_s": round((self._stopped_at or timing.monotonic()) - self._started_at, 3)
            if self._started_at else 0.0,
            "roles": {name: r.to_dict() for name, r in self.summary().items()},
        }
        if self._source_error:
            record["error"] = self._source_error
        return record

    def series(self, role: str) -> list[Sample]:
        """The kept samples of ``role`` (downsampled when long), oldest first."""
        with self._lock:
            role_state = self._roles.get(role)
            return list(role_state.series) if role_state else []

    def wait_for_samples(self, role: str, count: int, timeout_s: float, pid: int | None = None) -> int:
        """Block until ``role`` has ``count`` readings (of ``pid``, when given); the number reached.

        For callers that need a minimum window (tests, a soak); it never raises on timeout.
        """
        deadline = timing.Deadline(timeout_s)

        def reached() -> int:
            state = self._roles.get(role)
            if state is None:
                return 0
            if pid is None:
                return state.readings
            return state.per_pid.get(pid, 0)

        with self._lock:
            while (got := reached()) < count and not deadline.expired():
                self._lock.wait(min(deadline.remaining(), self.interval_s * 2))
            return got

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            tick = timing.monotonic()
            try:
                self._tick()
            except Exception as exc:  # keep sampling; the record names what went wrong
                self._source_error = f"sampling failed: {type(exc).__name__}: {exc}"
                logger.debug("resource sampler: %s", self._source_error, exc_info=True)
            elapsed = timing.monotonic() - tick
            self._stop.wait(max(0.0, self.interval_s - elapsed))  # pacing, not synchronisation

    def _tick(self) -> None:
        try:
            pids = dict(self._pids())
            skipped = dict(self._skipped_source()) if self._skipped_source else {}
        except Exception as exc:  # a source raising must not kill sampling of a whole cell
            self._source_error = f"pids() raised {type(exc).__name__}: {exc}"  # the last error wins
            logger.debug("resource sampler: %s", self._source_error)
            return
        now = timing.monotonic()
        readings = {role: self._read(pid) for role, pid in pids.items()}
        self._forget_dead(set(pids.values()))
        with self._lock:
            self._skipped.update(skipped)
            for role, reading in readings.items():
                if reading is not None:
                    self._record(role, pids[role], now, reading)
            self._lock.notify_all()

    def _record(self, role: str, pid: int, now: float, reading: _Reading) -> None:
        cpu_seconds, rss = reading.cpu_seconds, reading.rss_bytes
        previous = self._cpu_prev.get(role)
        self._cpu_prev[role] = (pid, now, cpu_seconds)
        if previous is None or previous[0] != pid or now <= previous[1]:
            return  # the first reading of a pid only primes its CPU counter
        cpu_pct = max(0.0, (cpu_seconds - previous[2]) / (now - previous[1]) * 100.0)
        state = self._roles.setdefault(role, _Role())
        if not state.pids or state.pids[-1] != pid:
            state.pids.append(pid)
        state.cpu_sum += cpu_pct
        state.cpu_max = max(state.cpu_max, cpu_pct)
        state.rss_max = max(state.rss_max, rss)
        if state.readings % state.stride == 0:
            state.series.append(Sample(now, round(cpu_pct, 2), rss, pid, reading.open_files, reading.threads))
            if len(state.series) >= self.max_samples:
                state.series = state.series[::2]
                state.stride *= 2
        state.readings += 1
        state.per_pid[pid] = state.per_pid.get(pid, 0) + 1

    def _read(self, pid: int) -> _Reading | None:
        """CPU seconds, RSS, open files and threads of ``pid`` (plus descendants when asked); None when gone."""
        proc = self._procs.get(pid)
        try:
            if proc is None or not proc.is_running():  # is_running also catches a recycled pid
                proc = self._procs[pid] = psutil.Process(pid)
            tree = [proc]
            if self.include_children:
                tree.extend(proc.children(recursive=True))
            cpu, rss, files, threads = 0.0, 0, 0, 0
            for member in tree:
                with contextlib.suppress(psutil.NoSuchProcess), member.oneshot():
                    if member.status() == psutil.STATUS_ZOMBIE:
                        continue
                    times = member.cpu_times()
                    cpu += times.user + times.system
                    rss += member.memory_info().rss
                    threads += member.num_threads()
                    with contextlib.suppress(psutil.AccessDenied):
                        files += member.num_fds()
            return _Reading(cpu, rss, files, threads) if rss else None
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            self._procs.pop(pid, None)
            return None

    def _forget_dead(self, live: set[int]) -> None:
        for pid in [p for p in self._procs if p not in live]:
            del self._procs[pid]


__all__ = [
    "LeakRule",
    "LeakVerdict",
    "ResourceSampler",
    "RoleResources",
    "Sample",
    "judge_leak",
    "segment_medians",
    "summarize",
    "theil_sen_slope",
]
