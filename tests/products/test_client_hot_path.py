"""refclient HEAD's per-order path keeps its results while doing less work per report.

Real processes: ``compat exchange`` and the HEAD gateway; the HEAD client runs in-process.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GatewayFactory, run
from refclient import GatewayClient, Side


def test_extension_fields_are_decoded_only_when_the_report_has_them(gateway: GatewayFactory) -> None:
    gw = gateway()

    async def scenario() -> None:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1")
        tagged = await client.send_order(
            "ABC", Side.BUY, qty=1, price=Decimal("10.00"), client_order_id="X1", extensions={1001: "desk-7", 1500: 42}
        )
        plain = await client.send_order("ABC", Side.BUY, qty=1, price=Decimal("10.00"), client_order_id="X2")
        events = {ev.client_order_id: ev for ev in client.drain_events() if ev.kind == "accepted"}
        assert events["X1"].order_id == tagged.order_id
        assert events["X1"].extensions == {1001: "desk-7", 1500: 42}
        assert events["X2"].order_id == plain.order_id
        assert events["X2"].extensions == {}
        await client.logout()

    run(scenario())
