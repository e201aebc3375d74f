"""``compat bench --soak DURATION``: open-loop load through one stack for a long, fixed time.

A soak answers what a short run cannot: does any process on the path grow without bound, lose
an order, or slow down as the hours pass? It runs the cell's stack (the candidate gateway and
client unless versions are named) and, until the duration is used up:

- sends open-loop load in back-to-back **windows** (``window_s``, default 10 s): one load plan
  per window, so each window has its own latency percentiles and counts;
- before every window (``floor_every``), runs a short **floor probe** (the same relay/echo
  floor the other bench modes measure) so that latency is judged as a ratio to the floor of the
  same moment: a machine that gets busier slows both, a gateway that degrades slows only one;
- samples RSS, open files, threads and CPU of every process (exchange, gateway, client
  drivers) every ``sample_s`` seconds (``compat.harness.resources.ResourceSampler``).

The result is **void** when, after the settling time (``settle_s``, excluded from judgement,
never from the plots):

1. any process grows without bound: the leak rule (``judge_leak``) over its RSS, open files
   or threads, with thresholds for hours rather than the matrix's seconds (``SOAK_*_RULE``);
2. an order is lost: any window lost, errored, gapped or duplicated one, or the exchange's
   audit log does not hold exactly the orders the harness saw acknowledged;
3. latency drifts: a change point (PELT, ``compat.bench.history.change_points``) in the
   per-window ratio of gateway p50 to the floor p50, whose level change is at least
   ``drift_threshold``;
4. the load did not hold: more than ``max_short_windows`` of the windows fell short of the rate.

Orders are IOC limit orders that never cross (a buy below any offer): each is acknowledged and
done at once, so the load leaves nothing resting. A soak of GTC orders would grow every
book by design, and the leak rule would rightly flag it.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compat import timing
from compat.bench.audit import reconcile_points
from compat.bench.floor import FloorRig
from compat.bench.gateway import GatewayLoad
from compat.bench.histograms import Percentiles
from compat.bench.history import change_points
from compat.bench.loadpoint import LoadPoint, combine_rounds, load_plan
from compat.errors import ConfigError
from compat.harness.resources import LeakRule, ResourceSampler, Sample, judge_leak

if TYPE_CHECKING:
    from compat.bench.target import Target

SOAK_SCHEMA = "compat-soak/1"
_MIB = 1024 * 1024
# Hours, not seconds: a slope of 2 KiB/s is 7 MiB an hour, growth that only a soak sees. Each
# of the 6 segment medians must still rise above the last, so a heap that settles, a GC
# sawtooth or one allocation step is not a leak (docs in compat/harness/resources.py). Under
# the soak's constant load a step needs no share of the average (min_step_fraction 0): the
# matrix's guard against one scenario's burst has no such burst to guard against here.
SOAK_RSS_RULE = LeakRule(min_samples=30, min_window_s=60.0, min_slope_bytes_per_s=2 * 1024,
                         min_growth_bytes=2 * _MIB, min_growth_fraction=0.03, segments=6,
                         min_step_bytes=128 * 1024, min_step_fraction=0.0)
# Counts of file descriptors and threads: a few more over the run, rising in every segment.
SOAK_COUNT_RULE = LeakRule(min_samples=30, min_window_s=60.0, min_slope_bytes_per_s=0.0005,
                           min_growth_bytes=4, min_growth_fraction=0.1, segments=6, min_step_bytes=1,
                           min_step_fraction=0.0)
_DURATION = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}

Progress = Callable[[str], None]


def parse_duration(text: str) -> float:
    """``"1h"``, ``"90m"``, ``"2m30s"``, ``"45s"`` or plain seconds (``"120"``) → seconds."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        seconds = float(cleaned)
    else:
        parts = list(_DURATION.finditer(cleaned))
        if not parts or "".join(p.group(0) for p in parts) != cleaned:
            raise ConfigError(f"--soak wants a duration such as 1h, 90m, 2m30s or 120 (seconds), got {text!r}")
        seconds = sum(float(p.group("value")) * _UNIT_SECONDS[p.group("unit")] for p in parts)
    if seconds <= 0:
        raise ConfigError(f"--soak wants a positive duration, got {text!r}")
    return seconds


@dataclass(frozen=True)
class SoakSettings:
    duration_s: float
    rate: float = 1000.0
    window_s: float = 10.0
    sample_s: float = 2.0
    settle_s: float | None = None  # None: a fifth of the run, at most 5 minutes
    # A floor probe before every window: each window's latency is judged against the floor of
    # the same moment (paired, as in the A/B rounds), not against one measured minutes earlier.
    floor_every: int = 1
    floor_probe_s: float = 1.0
    drift_threshold: float = 0.25  # a change point must move the p50/floor ratio this much
    max_short_windows: float = 0.05  # fraction of windows allowed below 99.5% of the rate
    drivers: int = 1
    connections: int = 1
    spin_us: float | None = None

    def __post_init__(self) -> None:
        if self.window_s < 1.0 or self.sample_s <= 0 or self.floor_every < 1:
            raise ConfigError(f"soak: window_s >= 1, sample_s > 0 and floor_every >= 1, got {self}")
        if self.duration_s < 2 * self.window_s:
            raise ConfigError(f"soak: {self.duration_s:g}s is shorter than two {self.window_s:g}s windows")

    @property
    def settle(self) -> float:
        return self.settle_s if self.settle_s is not None else min(300.0, self.duration_s / 5)

    def plan(self, duration_s: float, warmup_s: float) -> dict[str, Any]:
        return load_plan(self.rate, duration_s, warmup_s, self.spin_us)


@dataclass
class Window:
    """One load window: its offset from the soak's start, its load point, the floor it is judged by.

    Its percentiles are read once, when it is made: the soak then folds the point's histograms
    into its running total and lets go of them (``SoakResult.add_window``), so an hour of windows
    costs a few hundred bytes each rather than a set of 60-second histograms each."""

    started_s: float
    point: LoadPoint
    floor_p50_ns: float | None
    pct: Percentiles = field(init=False)

    def __post_init__(self) -> None:
        self.pct = self.point.percentiles()

    @property
    def p50_ns(self) -> float:
        return float(self.pct.p50)

    @property
    def ratio(self) -> float | None:
        return self.p50_ns / self.floor_p50_ns if self.floor_p50_ns else None

    def as_dict(self) -> dict[str, Any]:
        pct = self.pct
        return {"started_s": round(self.started_s, 3), "label": self.point.label, "valid": self.point.valid,
                "invalid_reasons": list(self.point.invalid_reasons),
                "achieved_rate": round(self.point.achieved_rate, 1), "counts": dict(self.point.counts),
                "p50_us": pct.p50 / 1000, "p99_us": pct.p99 / 1000, "max_us": pct.max / 1000,
                "floor_p50_us": self.floor_p50_ns / 1000 if self.floor_p50_ns else None,
                "ratio_to_floor": round(self.ratio, 4) if self.ratio is not None else None,
                "cpu_us_per_order": dict(self.point.extra.get("cpu_us_per_order") or {})}


@dataclass(frozen=True)
class FloorProbe:
    """A floor probe as the soak keeps it: its summary, not its histograms."""

    started_s: float
    valid: bool
    p50_ns: float
    summary: dict[str, Any]

    @classmethod
    def of(cls, started_s: float, probe: LoadPoint) -> FloorProbe:
        return cls(started_s, probe.valid, float(probe.percentiles().p50), probe.as_dict())


@dataclass(frozen=True)
class Finding:
    """One reason the soak is void (``kind``: growth, loss, drift, rate)."""

    kind: str
    subject: str  # a role and measure ("gateway rss"), or what was lost / drifted
    detail: str

    def describe(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass
class SoakResult:
    run_id: str
    settings: SoakSettings
    cell_id: str
    started_wall: str
    elapsed_s: float = 0.0
    windows: list[Window] = field(default_factory=list)
    floors: list[FloorProbe] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # what was judged and found fine, for the record
    started_monotonic: float = 0.0
    _total: LoadPoint | None = field(default=None, repr=False)  # every window so far, merged

    def add_window(self, started_s: float, point: LoadPoint, floor_p50_ns: float | None) -> Window:
        """Keep a window's summary and fold its histograms into the running total."""
        window = Window(started_s, point, floor_p50_ns)
        total = self._total
        if total is None:
            merged = combine_rounds(f"soak-{self.cell_id}", [point])
        else:
            merged = combine_rounds(total.label, [total, point])
            merged.invalid_reasons = total.invalid_reasons + [f"{point.label}: {r}" for r in point.invalid_reasons]
        self._total = merged
        point.histograms = {}  # held once, in the total: a soak's memory must not grow with its length
        self.windows.append(window)
        return window

    @property
    def valid(self) -> bool:
        return not self.findings

    def combined(self) -> LoadPoint | None:
        """Every window merged (histograms add): the soak's headline latency."""
        return self._total

    def as_dict(self) -> dict[str, Any]:
        combined = self.combined()
        return {
            "schema": SOAK_SCHEMA,
            "run_id": self.run_id,
            "cell": self.cell_id,
            "timestamp": self.started_wall,
            "settings": dataclasses.asdict(self.settings),
            "elapsed_s": round(self.elapsed_s, 1),
            "valid": self.valid,
            "findings": [dataclasses.asdict(f) for f in self.findings],
            "checks": list(self.checks),
            "gateway": [combined.as_dict()] if combined else [],
            "windows": [w.as_dict() for w in self.windows],
            "floor_probes": [{"started_s": round(f.started_s, 3), **f.summary} for f in self.floors],
            "resources": self.resources,
            "series": {role: [[round(s.t - self.started_monotonic, 2), s.rss_bytes, s.open_files, s.threads,
                               s.cpu_pct] for s in samples] for role, samples in self.samples.items()},
            "series_columns": ["t_s", "rss_bytes", "open_files", "threads", "cpu_pct"],
            "audit": dict(self.audit),
        }


def soak_order(order: Mapping[str, Any]) -> dict[str, Any]:
    """The bench's resting order as an IOC: acknowledged, then done; nothing rests."""
    return {**order, "tif": "IOC"}


def run_soak(target: Target, settings: SoakSettings, log_dir: Path, run_id: str,
             progress: Progress = lambda _: None) -> SoakResult:
    """Run the soak on ``target``'s cell and judge it (``SoakResult.findings`` empty: valid)."""
    from compat.run.stack import Stack

    cell = target.cell
    result = SoakResult(run_id, settings, cell.id, timing.utc_timestamp())
    progress(f"soak: starting the stack of {cell.id}; {settings.rate:.0f}/s for {settings.duration_s:.0f}s "
             f"in {settings.window_s:g}s windows, floor probe every {settings.floor_every} windows")
    with Stack(cell, target.matrix, target.envs, log_dir / cell.id, target.hosts, target.settings) as stack, \
            _floor_rig(target, settings, log_dir) as rig:
        load = GatewayLoad(stack, drivers=settings.drivers, connections=settings.connections).connect()
        load.order = soak_order(load.order)
        interval = settings.sample_s
        # Enough kept samples for the whole run at the sampling interval: no halving mid-soak.
        keep = max(2 * SOAK_RSS_RULE.min_samples, int(settings.duration_s / interval) + 16)
        sampler = ResourceSampler.of_processes(stack.processes, interval, max_samples=keep, rule=SOAK_RSS_RULE)
        with sampler:
            result.started_monotonic = started = timing.monotonic()
            _load_windows(result, load, rig, settings, started, progress)
            result.elapsed_s = timing.monotonic() - started
        result.samples = {role: sampler.series(role) for role in sampler.summary()}
        result.resources = sampler.record()
    # After the stop, so the exchange has flushed its audit log.
    result.audit = reconcile_points(stack.audit_path, [w.point for w in result.windows])
    judge(result)
    return result


def _floor_rig(target: Target, settings: SoakSettings, log_dir: Path) -> FloorRig:
    return FloorRig(target.hosts["gateway"], log_dir / "floor", drivers=settings.drivers,
                    connections=settings.connections, driver_python=str(target.envs["client"].python),
                    relay_python=str(target.envs["gateway"].python), relay_loop="auto")


def _load_windows(result: SoakResult, load: GatewayLoad, rig: FloorRig, settings: SoakSettings,
                  started: float, progress: Progress) -> None:
    floor_p50: float | None = None
    number = 0
    while True:
        elapsed = timing.monotonic() - started
        remaining = settings.duration_s - elapsed
        if remaining < min(settings.window_s, 1.0) or (number and remaining < 1.0):
            break
        if number % settings.floor_every == 0:
            probe, _ = rig.run(settings.plan(settings.floor_probe_s, 0.2))
            probe.label = f"floor-probe#{len(result.floors) + 1}"
            kept = FloorProbe.of(timing.monotonic() - started, probe)
            result.floors.append(kept)
            if kept.valid:
                floor_p50 = kept.p50_ns
        number += 1
        window_s = min(settings.window_s, max(1.0, settings.duration_s - (timing.monotonic() - started)))
        offset = timing.monotonic() - started
        warmup = 1.0 if number == 1 else 0.0
        point, _ = load.run(settings.plan(window_s, warmup), f"soak#{number}")
        pct = result.add_window(offset, point, floor_p50).pct
        state = "ok" if point.valid else "INVALID: " + "; ".join(point.invalid_reasons)
        progress(f"soak: window {number} at {offset:.0f}s/{settings.duration_s:.0f}s: p50 {pct.p50 / 1000:.0f}us "
                 f"p99 {pct.p99 / 1000:.0f}us, {point.achieved_rate:.0f}/s, {state}")


def write_series(path: Path, result: SoakResult) -> Path:
    """The sampled series, one row per (role, sample): what the plot draws, for a spreadsheet."""
    lines = ["role,pid,t_s,rss_bytes,open_files,threads,cpu_pct"]
    for role, samples in sorted(result.samples.items()):
        lines += [f"{role},{s.pid},{s.t - result.started_monotonic:.2f},{s.rss_bytes},{s.open_files},{s.threads},"
                  f"{s.cpu_pct}" for s in samples]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- judgement ---------------------------------------------------------------------------------


def judge(result: SoakResult) -> None:
    """Fill ``result.findings`` (void reasons) and ``result.checks`` (what held)."""
    settings = result.settings
    settle_at = result.started_monotonic + settings.settle
    for role, samples in sorted(result.samples.items()):
        settled = [s for s in samples if s.t >= settle_at]
        for measure, value, rule in (("rss", lambda s: float(s.rss_bytes), SOAK_RSS_RULE),
                                     ("open files", lambda s: float(s.open_files), SOAK_COUNT_RULE),
                                     ("threads", lambda s: float(s.threads), SOAK_COUNT_RULE)):
            _judge_growth(result, role, measure, settled, value, rule)
    _judge_loss(result)
    _judge_drift(result)
    short = [w.point.label for w in result.windows if not w.point.valid and not _lossy(w.point)]
    allowed = int(settings.max_short_windows * len(result.windows))
    if len(short) > allowed:
        result.findings.append(Finding("rate", "load", f"{len(short)} of {len(result.windows)} windows fell short "
                                                       f"of the rate (allowed {allowed}): {', '.join(short[:5])}"))
    elif short:
        result.checks.append(f"rate: {len(short)} of {len(result.windows)} windows short of the rate "
                             f"(within the allowed {allowed})")


def _judge_growth(result: SoakResult, role: str, measure: str, samples: Sequence[Sample],
                  value: Callable[[Sample], float], rule: LeakRule) -> None:
    runs: dict[int, list[tuple[float, float]]] = {}
    for sample in samples:
        runs.setdefault(sample.pid, []).append((sample.t, value(sample)))
    judged = False
    for pid, points in runs.items():
        verdict = judge_leak(points, rule)
        judged = judged or verdict.judged
        if verdict.suspected:
            detail = verdict.reason or ""
            if measure != "rss":  # the rule's reason speaks of bytes; counts read better as counts
                detail = (f"{int(points[0][1])} -> {int(points[-1][1])} over {points[-1][0] - points[0][0]:.0f}s, "
                          f"rising in each of {rule.segments} segments")
            result.findings.append(Finding("growth", f"{role} {measure} (pid {pid})", detail))
    if not judged:
        result.findings.append(Finding("growth", f"{role} {measure}",
                                       f"not judged: {len(samples)} samples after settling; the rule needs "
                                       f"{rule.min_samples} over {rule.min_window_s:g}s (a longer --soak)"))
    elif not any(f.subject.startswith(f"{role} {measure}") for f in result.findings):
        start, end = value(samples[0]), value(samples[-1])
        shown = (f"{start / _MIB:.1f} -> {end / _MIB:.1f} MiB" if measure == "rss"
                 else f"{int(start)} -> {int(end)}")
        result.checks.append(f"flat: {role} {measure} {shown} after settling")


def _lossy(point: LoadPoint) -> bool:
    counts = point.counts
    return any(counts.get(key, 0) for key in ("lost", "errors", "gaps", "duplicates"))


def _judge_loss(result: SoakResult) -> None:
    lossy = [w.point for w in result.windows if _lossy(w.point)]
    for point in lossy:
        counts = point.counts
        result.findings.append(Finding("loss", point.label, ", ".join(
            f"{key} {counts[key]}" for key in ("lost", "errors", "gaps", "duplicates") if counts.get(key))))
    audit = result.audit
    if not audit.get("checked"):
        result.findings.append(Finding("loss", "audit", f"not reconciled: {audit.get('reason')}"))
    elif not audit.get("match"):
        result.findings.append(Finding("loss", "audit", f"harness acked {audit['acked_by_harness']}, exchange "
                                                        f"accepted {audit['accepted_in_audit']}"))
    elif not lossy:
        result.checks.append(f"no loss: {audit['acked_by_harness']} orders acked, the exchange audit accepted "
                             f"{audit['accepted_in_audit']}")


def _judge_drift(result: SoakResult) -> None:
    settings = result.settings
    settle = settings.settle
    windows = [w for w in result.windows if w.started_s >= settle and w.point.valid and w.ratio is not None]
    ratios = [w.ratio for w in windows if w.ratio is not None]
    min_size = max(3, len(ratios) // 10)
    if len(ratios) < 2 * min_size:
        result.findings.append(Finding("drift", "latency", f"not judged: {len(ratios)} valid windows after "
                                                           f"settling; change points need {2 * min_size}"))
        return
    bounds = [0, *change_points(ratios, min_size=min_size), len(ratios)]
    shifts = []
    for before, start, after in zip(bounds, bounds[1:], bounds[2:], strict=False):
        level_before = statistics.median(ratios[before:start])
        level_after = statistics.median(ratios[start:after])
        if level_before and abs(level_after / level_before - 1.0) >= settings.drift_threshold:
            shifts.append(f"at {windows[start].started_s:.0f}s the p50/floor ratio moved {level_before:.2f} -> "
                          f"{level_after:.2f} ({level_after / level_before - 1.0:+.0%})")
    if shifts:
        result.findings.append(Finding("drift", "latency", "; ".join(shifts)))
    else:
        result.checks.append(f"no drift: p50/floor ratio {statistics.median(ratios):.2f} (median over "
                             f"{len(ratios)} windows), no change point moving it {settings.drift_threshold:.0%}")


def describe(result: SoakResult) -> list[str]:
    """The soak's section of ``compat bench`` output."""
    settings = result.settings
    lines = [f"SOAK {result.cell_id}: {settings.rate:.0f}/s for {result.elapsed_s:.0f}s in {len(result.windows)} "
             f"windows of {settings.window_s:g}s, {len(result.floors)} floor probes; settling "
             f"{settings.settle:.0f}s excluded from judgement"]
    combined = result.combined()
    if combined is not None:
        pct = combined.percentiles()
        lines.append(f"  latency        p50 {pct.p50 / 1000:.0f}us p99 {pct.p99 / 1000:.0f}us "
                     f"p99.9 {pct.p999 / 1000:.0f}us max {pct.max / 1000:.0f}us over {pct.count} orders")
    for role, record in sorted((result.resources.get("roles") or {}).items()):
        if record.get("skipped"):
            lines.append(f"  {role:<14} not sampled: {record['skipped']}")
            continue
        lines.append(f"  {role:<14} RSS {record['rss_start_bytes'] / _MIB:.1f} -> {record['rss_end_bytes'] / _MIB:.1f} "
                     f"MiB (max {record['rss_max_bytes'] / _MIB:.1f}), CPU mean {record['cpu_pct_mean']:.0f}%")
    lines += [f"  check          {check}" for check in result.checks]
    lines += [f"  VOID           {finding.describe()}" for finding in result.findings]
    return lines


__all__ = [
    "Finding",
    "FloorProbe",
    "SoakResult",
    "SoakSettings",
    "Window",
    "describe",
    "judge",
    "parse_duration",
    "run_soak",
    "soak_order",
    "write_series",
]
