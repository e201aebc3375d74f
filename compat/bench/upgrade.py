"""The live-upgrade blip: open-loop load through a gateway swap FROM -> TO, measured.

The bench drivers connect through the stack's fault proxy (its address survives the swap,
as a load balancer's would), with ``order["reconnect"]`` set: an order that meets the
outage awaits one shared resume of its session and is resent with the same
``client_order_id``. Its latency still counts from its *intended* send time, so the outage
shows up as a spike of real, coordinated-omission-free samples, not as one slow order.

Every driver also returns the corrected latency per bucket of intended time (``timeline``,
100 ms by default, aligned to the host's monotonic clock) and its sessions' reconnect times.
From these and the host's own record of the swap this module derives:

* the **reconnect gap**: gateway stop began -> first ack after the restart (earliest session);
* the windows **before** / **during** / **after**, whole buckets: *during* runs from the
  bucket the stop began in to the bucket in which the last session had its first ack again;
* **affected** orders: measured orders slower than anything the *before* window saw;
* the **check**: the reconnect gap was measured (> 0), every session resumed, and the
  during-window max is at least the client's own outage less two send intervals (an order
  due just after the loss waits for the first ack after it; a blind harness fails this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram

from compat import timing
from compat.bench.histograms import Percentiles, count_at_or_above, decode
from compat.bench.loadpoint import CORRECTED, LoadPoint

if TYPE_CHECKING:
    from compat.artifacts.envs import Env
    from compat.config.cell import Release
    from compat.run.stack import Stack

DEFAULT_BUCKET_MS = 100.0
WINDOWS = ("before", "during", "after")


@dataclass(frozen=True)
class SwapRecord:
    """The host's own timestamps of one gateway swap (``compat.timing.monotonic_ns``)."""

    from_version: str
    to_version: str
    began_ns: int  # the old gateway was told to stop
    old_exited_ns: int  # it had exited (graceful: SIGINT, then escalation if needed)
    new_ready_ns: int  # the new gateway printed its ready line; the proxy points at it
    old_exit_code: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def swap_gateway(stack: Stack, release: Release, env: Env) -> SwapRecord:
    """Stop the stack's gateway (gracefully) and start ``release`` on its journal, timing each step."""
    old = stack.gateway_release.version
    began = timing.monotonic_ns()
    code = stack.stop_gateway()
    exited = timing.monotonic_ns()
    stack.restart_gateway(release, env)  # the old process is already down: this starts the new one
    return SwapRecord(old, release.version, began, exited, timing.monotonic_ns(), code)


@dataclass
class Blip:
    """What the swap did to the load: gap, windows, affected orders, the validity check."""

    swap: SwapRecord
    bucket_ns: int
    timeline: dict[int, HdrHistogram]  # bucket index -> merged corrected-ack histogram
    sessions: list[dict[str, Any]]  # every driver's sessions' reconnect records
    resent: int
    held: int = 0  # due while their session was down: first sent after its resume
    windows: dict[str, LoadPoint] = field(default_factory=dict)
    gap_ns: int = 0  # swap began -> first ack after the restart (earliest session)
    all_back_ns: int = 0  # swap began -> the last session's first ack after the restart
    client_outage_ns: int = 0  # first loss seen by a client -> first ack after the restart
    max_ns: int = 0
    affected: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.reasons

    def series(self) -> list[tuple[float, float, float, int]]:
        """``(seconds since the swap began, max ms, p99 ms, count)`` per bucket, in order."""
        rows = []
        for index in sorted(self.timeline):
            histogram = self.timeline[index]
            start = (index * self.bucket_ns - self.swap.began_ns) / 1e9
            rows.append((start, histogram.get_max_value() / 1e6,
                         histogram.get_value_at_percentile(99.0) / 1e6, int(histogram.get_total_count())))
        return rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "swap": self.swap.as_dict(),
            "bucket_ns": self.bucket_ns,
            "reconnect_gap_ns": self.gap_ns,
            "all_sessions_back_ns": self.all_back_ns,
            "client_outage_ns": self.client_outage_ns,
            "max_ns": self.max_ns,
            "affected": self.affected,
            "resent": self.resent,
            "held": self.held,
            "sessions": self.sessions,
            "windows": {name: point.percentiles().as_dict() for name, point in self.windows.items()},
            "timeline": [{"t_s": round(t, 3), "max_ms": round(top, 3), "p99_ms": round(p99, 3), "count": n}
                         for t, top, p99, n in self.series()],
            "valid": self.valid,
            "invalid_reasons": list(self.reasons),
        }


def merge_timelines(results: Sequence[Mapping[str, Any]]) -> tuple[int, dict[int, HdrHistogram]]:
    """Every driver's per-bucket histograms added bucket by bucket (never averaged)."""
    bucket_ns = 0
    merged: dict[int, HdrHistogram] = {}
    for result in results:
        timeline = result.get("timeline")
        if not timeline:
            raise ValueError("a driver returned no timeline; the plan needs timeline_bucket_ms > 0")
        if bucket_ns and int(timeline["bucket_ns"]) != bucket_ns:
            raise ValueError(f"drivers used different timeline buckets: {bucket_ns} vs {timeline['bucket_ns']}")
        bucket_ns = int(timeline["bucket_ns"])
        for index, payload in timeline["buckets"]:
            histogram = decode(payload)
            if int(index) in merged:
                merged[int(index)].add(histogram)
            else:
                merged[int(index)] = histogram
    return bucket_ns, merged


def analyse(point: LoadPoint, results: Sequence[Mapping[str, Any]], swap: SwapRecord) -> Blip:
    """The blip of one swap run from the drivers' raw results and the host's swap record."""
    bucket_ns, timeline = merge_timelines(results)
    sessions = [dict(s) for result in results for s in (result.get("reconnect") or {}).get("sessions", [])]
    resent = sum(int((result.get("reconnect") or {}).get("resent", 0)) for result in results)
    held = sum(int((result.get("reconnect") or {}).get("held", 0)) for result in results)
    blip = Blip(swap, bucket_ns, timeline, sessions, resent, held)
    firsts = [int(s["first_ack_ns"]) for s in sessions if s.get("first_ack_ns")]
    losses = [int(s["lost_ns"]) for s in sessions if s.get("lost_ns")]
    if not sessions:
        blip.reasons.append("the drivers reported no reconnect records (does the adapter support "
                            "order['reconnect']? see docs/bench.md)")
    elif len(firsts) < len(sessions):
        blip.reasons.append(f"{len(sessions) - len(firsts)} of {len(sessions)} sessions never had an ack "
                            "after reconnecting")
    if any(not s.get("resumed") for s in sessions):
        blip.reasons.append("a session reconnected without resuming (a new session: reports could be lost)")
    if firsts:
        blip.gap_ns = min(firsts) - swap.began_ns
        blip.all_back_ns = max(firsts) - swap.began_ns
        if losses:
            blip.client_outage_ns = min(firsts) - min(losses)
    if blip.gap_ns <= 0:
        blip.reasons.append(f"reconnect gap not measured ({blip.gap_ns / 1e6:.1f} ms): no ack after the restart "
                            "was seen after the stop began (are drivers and host on one clock?)")
    recovered_ns = swap.began_ns + max(blip.all_back_ns, 0)
    first, last = swap.began_ns // bucket_ns, recovered_ns // bucket_ns
    parts: dict[str, list[HdrHistogram]] = {name: [] for name in WINDOWS}
    for index, histogram in timeline.items():
        parts["before" if index < first else "during" if index <= last else "after"].append(histogram)
    for name in WINDOWS:
        blip.windows[name] = _window_point(point, name, parts[name])
    blip.max_ns = point.exact_max.get(CORRECTED, 0)
    before_max = blip.windows["before"].percentiles().max
    if before_max:
        blip.affected = count_at_or_above(point.histograms[CORRECTED], before_max + 1)
    interval_ns = int(1e9 / point.target_rate) if point.target_rate > 0 else 0
    during_max = blip.windows["during"].percentiles().max
    if blip.client_outage_ns > 0 and during_max < blip.client_outage_ns - 2 * interval_ns:
        blip.reasons.append(f"the during window's max {during_max / 1e6:.1f} ms is below the clients' outage "
                            f"{blip.client_outage_ns / 1e6:.1f} ms: the swap is not visible in the latency")
    return blip


def _window_point(point: LoadPoint, name: str, histograms: list[HdrHistogram]) -> LoadPoint:
    merged = HdrHistogram(1, 60_000_000_000, 3)
    for histogram in histograms:
        merged.add(histogram)
    count = int(merged.get_total_count())
    exact = {CORRECTED: int(merged.get_max_value())} if count else {}
    return replace(point, label=f"{point.label}:{name}", histograms={CORRECTED: merged}, exact_max=exact,
                   counts={"measured": count}, extra={})


def describe(blip: Blip) -> list[str]:
    """The report's lines (after the load point's own lines)."""
    swap = blip.swap
    lines = [
        f"  swap           gateway {swap.from_version} -> {swap.to_version}: stop took "
        f"{(swap.old_exited_ns - swap.began_ns) / 1e6:.1f} ms (exit code {swap.old_exit_code}), new gateway "
        f"ready {(swap.new_ready_ns - swap.began_ns) / 1e6:.1f} ms after the stop began",
        f"  reconnect gap  {blip.gap_ns / 1e6:.1f} ms (gateway stop -> first ack after the restart); all "
        f"{len(blip.sessions)} session(s) back after {blip.all_back_ns / 1e6:.1f} ms; clients' own outage "
        f"{blip.client_outage_ns / 1e6:.1f} ms",
    ]
    for name in WINDOWS:
        pct: Percentiles = blip.windows[name].percentiles()
        lines.append(f"  {name:<14} n={pct.count:<7} p50={pct.p50 / 1000:.1f} p90={pct.p90 / 1000:.1f} "
                     f"p99={pct.p99 / 1000:.1f} p99.9={pct.p999 / 1000:.1f} max={pct.max / 1000:.1f} us")
    attempts = sum(int(s.get("attempts", 0)) for s in blip.sessions)
    replayed = sum(int(s.get("replayed", 0)) for s in blip.sessions)
    lines.append(f"  max latency    {blip.max_ns / 1e6:.1f} ms; affected {blip.affected} orders slower than the "
                 f"before window's max; {blip.held} held for the resume, {blip.resent} resent ({attempts} reconnect "
                 f"attempts, {replayed} reports replayed on resume)")
    state = "valid" if blip.valid else "INVALID: " + "; ".join(blip.reasons)
    lines.append(f"  blip check     {state} (windows are whole {blip.bucket_ns / 1e6:.0f} ms buckets of intended "
                 "send time)")
    return lines
