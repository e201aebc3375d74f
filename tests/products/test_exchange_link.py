"""The gateway's exchange link dropping: refgw 3.0 (released) goes silent, HEAD reconnects.

The link runs through compat's FaultProxy, whose ``reset()`` sends RST on the live venue
connection (docs/reference-system.md §9, "Exchange link drop"). The matrix scenarios
(tests/compat/test_faults.py) check what clients see; this records what the processes do.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC, Proc, start, venv_for
from refclient import ClientError, GatewayClient, OrderRejected, Side

from compat.harness.proxy import FaultProxy


@pytest.fixture
def link(exchange: Proc, request: pytest.FixtureRequest) -> Iterator[FaultProxy]:
    venue = getattr(request, "param", "obx")
    with FaultProxy(upstream=exchange.addrs[venue], name=f"link-{venue}") as proxy:
        yield proxy


def _wait_for_line(proc: Proc, text: str, timeout_s: float) -> str:
    """The first output line containing ``text`` (the reader thread appends lines as they come)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in list(proc.lines):
            if text in line:
                return line
        if proc.popen.poll() is not None:
            break
        time.sleep(0.02)
    tail = "\n".join(proc.lines[-15:])
    raise AssertionError(f"no line with {text!r} within {timeout_s}s (exit code {proc.popen.poll()}); output:\n{tail}")


@pytest.mark.slow
def test_released_3_0_goes_on_without_its_exchange_link(link: FaultProxy, tmp_path: Path) -> None:
    """The defect matrix.yaml declares for refgw <3.1: when the venue connection drops, 3.0 logs it
    and carries on with a dead link: it never reconnects, and an order is written into the dead
    connection and never answered (no reject, no reason): a silent black hole."""
    exe = venv_for(tmp_path / "venvs", "refgw", "3.0.0") / "bin" / "refgw"
    host, port = link.address
    proc = start([str(exe), "--listen", "127.0.0.1:0", "--exchange", f"{host}:{port}", "--venue", "obx",
                  "--member", f"DROP30{tmp_path.name[-6:]}"], "gateway-3.0.0")
    try:
        assert link.reset() == 1
        _wait_for_line(proc, "venue connection lost", 5.0)

        async def insert_after_the_drop() -> str:
            client = await GatewayClient.connect(*proc.addrs["client"], username="u1", protocol=(2, 3))
            try:
                await client.insert_order("ABC", Side.BUY, 1, Decimal("10.00"), timeout=2.0)
            except ClientError as error:  # the client's own timeout: the gateway said nothing
                return f"unanswered: {error}"
            except OrderRejected as error:
                return f"rejected: {error}"
            finally:
                await client.close()
            return "accepted"

        outcome = asyncio.run(insert_after_the_drop())
        assert outcome.startswith("unanswered"), (
            f"refgw 3.0 answered an order after its exchange link dropped ({outcome}): the declared "
            "defect is gone; update matrix.yaml's exchange-drop rules")
        assert proc.popen.poll() is None, "refgw 3.0 exited after the drop (the declared defect says it carries on)"
        assert link.stats()["accepted"] == 1, "refgw 3.0 reconnected to the exchange (the declared defect is gone)"
    finally:
        proc.stop()


@pytest.mark.parametrize("link", ["obx", "tlx"], indirect=True)
def test_head_reconnects_after_the_exchange_link_drops(link: FaultProxy, tmp_path: Path) -> None:
    """HEAD keeps running and logs on again, twice in a row, resuming the member stream."""
    venue = link.name.removeprefix("link-")
    host, port = link.address
    proc = start([sys.executable, "-m", "refgw", "--listen", "127.0.0.1:0", "--exchange", f"{host}:{port}",
                  "--venue", venue, "--member", f"DROPH{venue}{tmp_path.name[-6:]}"],
                 "gateway", env={"PYTHONPATH": str(GW_SRC)})
    try:
        for round_number in (1, 2):
            assert link.reset() == 1, "the gateway has no live exchange connection to drop"
            _wait_for_line(proc, "exchange link down", 5.0)
            restored = [line for line in proc.lines if "exchange link up again" in line]
            while len(restored) < round_number:
                _wait_for_line(proc, "exchange link up again", 10.0)
                restored = [line for line in proc.lines if "exchange link up again" in line]
            assert proc.popen.poll() is None, f"HEAD exited after the link dropped: {proc.lines[-10:]}"
    finally:
        code = proc.stop()
    assert code == 0, f"HEAD did not stop cleanly after reconnecting: exit {code}; {proc.lines[-10:]}"
