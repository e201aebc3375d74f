"""The journal upgrade/downgrade table (docs/reference-system.md §4) with the released wheels.

A released gateway writes a journal (an open order, maybe an amend), stops; another release
starts on the same journal and must either resume (the session resumes, the open order is
still known and cancellable) or refuse clearly (exit 2, the reason on stderr, no ready line).
The client is HEAD's library in-process (it speaks v2 to every 2.x gateway).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import Proc, start, venv_for, versions
from refclient import GatewayClient, Side

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("venvs")


def _argv(venv_root: Path, version: str, exchange: Proc, journal: Path, member: str) -> list[str]:
    host, port = exchange.addrs["obx"]
    exe = str(venv_for(venv_root, "refgw", version) / "bin" / "refgw")
    return [
        exe,
        "--listen",
        "127.0.0.1:0",
        "--exchange",
        f"{host}:{port}",
        "--journal",
        str(journal),
        "--member",
        member,
    ]


def _write(venv_root: Path, version: str, exchange: Proc, journal: Path, member: str, amend: bool) -> GatewayClient:
    """Run ``version`` on the journal: log on, rest an order (amend it if asked), then stop it."""
    gw = start(_argv(venv_root, version, exchange, journal, member), f"gateway {version}")

    async def session() -> GatewayClient:
        client = await GatewayClient.connect(*gw.addrs["client"], username="u1", protocol=(2, 3))
        await client.insert_order("ABC", Side.BUY, qty=10, price=Decimal("20.00"), client_order_id="J1")
        if amend:
            await client.amend_order("J1", qty=4)
        await client.drop()
        return client

    try:
        return asyncio.run(session())
    finally:
        assert gw.stop() == 0


def _resume(venv_root: Path, version: str, exchange: Proc, journal: Path, member: str, client: GatewayClient) -> None:
    gw = start(_argv(venv_root, version, exchange, journal, member), f"gateway {version}")

    async def session() -> None:
        client.host, client.port = gw.addrs["client"]
        result = await client.reconnect()
        assert result.resumed, f"{version} did not resume the session"
        await client.cancel_order("J1")  # the open order survived the restart
        await client.logout()

    try:
        asyncio.run(session())
    finally:
        gw.stop()


def _refused(venv_root: Path, version: str, exchange: Proc, journal: Path, member: str) -> str:
    done = subprocess.run(
        _argv(venv_root, version, exchange, journal, member), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, f"{version} should refuse the journal: {done.stdout}{done.stderr}"
    assert "GATEWAY READY" not in done.stdout
    return done.stderr


CASES = [
    # (writer, amend?, reader, expected)
    ("2.0.0", False, "2.1.0", "resume"),
    ("2.1.0", False, "2.0.0", "resume"),
    ("2.1.0", True, "2.0.0", "refuse"),
    ("2.0.0", False, "3.0.0", "resume"),
    ("2.1.0", True, "3.0.0", "resume"),
    ("3.0.0", False, "2.1.0", "refuse"),
    ("3.0.0", False, "2.0.0", "refuse"),
]


@pytest.mark.parametrize(("writer", "amend", "reader", "expected"), CASES)
def test_restart_across_versions(
    writer: str, amend: bool, reader: str, expected: str, exchange: Proc, venv_root: Path, tmp_path: Path
) -> None:
    if writer not in versions("refgw") or reader not in versions("refgw"):
        pytest.skip("release not in the wheelhouse")
    journal = tmp_path / "journal"
    member = f"JC{os.getpid()}{writer}{reader}{int(amend)}".replace(".", "")
    client = _write(venv_root, writer, exchange, journal, member, amend)
    if expected == "resume":
        _resume(venv_root, reader, exchange, journal, member, client)
        if reader.startswith("3."):
            assert journal.read_bytes()[4:6] == b"\x00\x03", "3.0 migrates the header to format 3"
    else:
        reason = _refused(venv_root, reader, exchange, journal, member)
        assert "refuses to resume it" in reason and "journal needs format >=" in reason
