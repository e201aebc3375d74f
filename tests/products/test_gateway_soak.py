"""Soak check of the leak flag end to end: HEAD's gateway under steady order flow is not flagged,
a deliberately leaking process sampled by the same sampler over the same window is.

HEAD refgw keeps finished orders (``core.orders``/``by_client_id``, for duplicate detection)
up to its retention (100,000 by default, refgw.retention) and a resend ring of up to 100k
reports per session, about 1 KB of RSS per insert+cancel until those bounds are reached (then
flat: tests/products/test_retention.py). Below them that is growth in proportion to orders:
at 200 orders/s for 30 s the rule flags it (≈210 KiB/s). This soak runs 25 orders/s for 10 s,
where that retained state (≈25 KiB/s, ≈250 KB in all) stays under the rule's thresholds
(64 KiB/s, 1 MiB), so what it proves is that warm-up, GC and allocator noise of a real gateway
under load are not mistaken for a leak, while a steady leak next to it is caught.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory
from refclient import TIF, GatewayClient, Side

from compat import timing
from compat.harness import Command, LocalHost, ReadyLine
from compat.harness.resources import ResourceSampler

ALLOCATES = Path(__file__).resolve().parents[1] / "harness" / "helpers" / "allocates.py"
SOAK_S = 10.0
ORDERS_PER_S = 25
MIB = 1024 * 1024


async def steady_flow(address: tuple[str, int], seconds: float, rate: int) -> int:
    """Insert and cancel one resting order per 1/rate seconds for ``seconds``; orders sent."""
    client = await GatewayClient.connect(*address, username="soak", password="x")
    started = timing.monotonic()
    sent = 0
    while (elapsed := timing.monotonic() - started) < seconds:
        order = await client.insert_order("ABC", Side.BUY, 1, price=Decimal("10.00"), tif=TIF.GTC)
        await client.cancel_order(order)
        client.drain_events()
        sent += 1
        # Pacing of the load generator (the rate is the point), not synchronisation.
        await asyncio.sleep(max(0.0, sent / rate - elapsed))
    await client.logout()
    return sent


def test_gateway_soak_is_not_flagged_and_a_leaking_process_is(gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = gateway()
    leaky = LocalHost().start(
        Command((sys.executable, str(ALLOCATES), "leak", str(2 * MIB)), name="leaky"),
        ReadyLine(r"^ALLOC READY pid=(?P<pid>\d+)$"), tmp_path,
    )
    try:
        with ResourceSampler(lambda: {"gateway": gw.popen.pid, "leaky": leaky.pid}, interval_s=0.2) as sampler:
            sent = asyncio.run(asyncio.wait_for(steady_flow(gw.addrs["client"], SOAK_S, ORDERS_PER_S), 60.0))
        summary = sampler.summary()
    finally:
        leaky.stop(grace_s=1.0)
    gateway_figures, leaky_figures = summary["gateway"], summary["leaky"]
    assert sent >= 0.8 * SOAK_S * ORDERS_PER_S, f"only {sent} orders in {SOAK_S}s"
    assert gateway_figures.samples >= 40 and gateway_figures.duration_s >= 8.0, gateway_figures
    assert gateway_figures.cpu_pct_max > 0, "the sampler never saw the gateway work"
    assert not gateway_figures.leak_suspected, gateway_figures
    assert leaky_figures.leak_suspected, leaky_figures
    assert leaky_figures.leak_reason is not None and "grew steadily" in leaky_figures.leak_reason
