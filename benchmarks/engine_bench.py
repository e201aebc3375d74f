"""In-process matching throughput of compat's exchange engine (not a timed test).

Mix (per command): 70% passive limit inserts (never crossing), 20% cancels of earlier
passive orders (some already filled: those are rejected, as in real flow), 10% aggressive
IOC limit orders crossing the spread. Ten members, one instrument, seeded, pre-generated,
so only the engine is timed. Events are produced exactly as the server gets them (member
streams, trade prints, book updates with book_seq); ``--with-audit`` also serialises every
audit record to JSON lines, as the running exchange does.

    python benchmarks/engine_bench.py [--orders 300000] [--seed 1] [--with-audit] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compat import timing
from compat.exchange.audit import AuditWriter
from compat.exchange.engine import Engine
from compat.exchange.events import BUY, IOC, LIMIT, SELL
from compat.exchange.instruments import InstrumentSpec
from compat.exchange.tuning import tune_gc

Op = tuple[int, str, str, int, int, int]  # (kind, member, clordid, side, qty, price)
PASSIVE, CANCEL, AGGRESSIVE = 0, 1, 2
MID = 10_000


def generate(count: int, seed: int) -> list[Op]:
    rng = random.Random(seed)
    members = [f"M{i}" for i in range(10)]
    resting: list[tuple[str, str]] = []
    ops: list[Op] = []
    for n in range(count):
        roll = rng.random()
        member = rng.choice(members)
        if roll < 0.70 or (roll < 0.90 and not resting):
            side = BUY if rng.random() < 0.5 else SELL
            price = MID - rng.randint(1, 10) if side == BUY else MID + rng.randint(1, 10)
            clordid = f"p{n}"
            resting.append((member, clordid))
            ops.append((PASSIVE, member, clordid, side, rng.randint(1, 10), price))
        elif roll < 0.90:
            index = rng.randrange(max(0, len(resting) - 2000), len(resting))
            owner, clordid = resting[index]
            resting[index] = resting[-1]
            resting.pop()
            ops.append((CANCEL, owner, clordid, 0, 0, 0))
        else:
            side = BUY if rng.random() < 0.5 else SELL
            price = MID + 10 if side == BUY else MID - 10
            # Big enough that aggressors consume about what passive inserts add: the book
            # stays at a steady depth instead of growing without bound.
            ops.append((AGGRESSIVE, member, f"a{n}", side, rng.randint(1, 50), price))
    return ops


def run(ops: list[Op], with_audit: bool) -> tuple[float, float, Engine, int]:
    """Returns (wall seconds, CPU seconds, engine, events)."""
    spec = InstrumentSpec(symbol="ABC", tick_size_units=1, price_scale=2, max_order_qty=1_000_000)
    counter = iter(range(1, 1 << 62))
    engine = Engine([spec], clock=counter.__next__, stream_retention=10_000, finished_retention=10_000)
    writer = AuditWriter(io.BytesIO()) if with_audit else None
    new_order = engine.new_order
    cancel = engine.cancel
    take = engine.take_events
    events = 0
    start = timing.monotonic()
    # CPU time of this process as well: on a shared machine the wall clock also measures the
    # neighbours. (compat.timing has no CPU clock; this is a measurement, not a timeout.)
    cpu_start = time.process_time()
    for i, (kind, member, clordid, side, qty, price) in enumerate(ops):
        if kind == PASSIVE:
            new_order(member, i, clordid, "ABC", side, LIMIT, 1, qty, price)
        elif kind == CANCEL:
            cancel(member, i, 0, clordid)
        else:
            new_order(member, i, clordid, "ABC", side, LIMIT, IOC, qty, price)
        if not i & 1023:
            engine.trim()
            batch = take()
            events += len(batch)
            if writer is not None:
                writer.write_events(batch)
    batch = take()
    events += len(batch)
    if writer is not None:
        writer.write_events(batch)
    return timing.monotonic() - start, time.process_time() - cpu_start, engine, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of N runs")
    parser.add_argument("--with-audit", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    ops = generate(args.orders, args.seed)
    tune_gc()  # exactly what the exchange server does at start-up
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(ops, args.with_audit)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return 0
    best_wall = best_cpu = float("inf")
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        wall, cpu, engine, events = run(ops, args.with_audit)
        best_wall = min(best_wall, wall)
        best_cpu = min(best_cpu, cpu)
    snap = engine.snapshot("ABC")
    assert snap is not None
    wall_rate = len(ops) / best_wall
    cpu_rate = len(ops) / best_cpu
    print(
        f"engine_bench: {len(ops)} commands (70% passive / 20% cancel / 10% aggressive IOC), seed {args.seed}, "
        f"audit {'on' if args.with_audit else 'off'}, best of {args.repeat}\n"
        f"  wall: {best_wall:.3f}s = {wall_rate:,.0f} orders/s\n"
        f"  cpu:  {best_cpu:.3f}s = {cpu_rate:,.0f} orders/s (process CPU time)\n"
        f"  {events} events per run; book at end {len(snap.bids)} bid / {len(snap.asks)} ask levels, "
        f"{engine.live_order_count()} live orders; load average {load_before:.1f} on {os.cpu_count()} CPUs\n"
        f"  goal 200,000 orders/s: {'MET' if wall_rate >= 200_000 else 'NOT MET'} (wall), "
        f"{'MET' if cpu_rate >= 200_000 else 'NOT MET'} (cpu)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
