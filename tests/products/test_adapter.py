"""The refclient adapter's market-data and housekeeping ops, through compat's driver, on released wheels.

``insert_burst`` + ``wait_book`` (the subscription race), ``book``, ``wire_log`` and
``reset`` on the oldest and the newest client, against refgw 2.1.0 (which serves v1 and v2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import Driver, Proc, gateway_argv, start, venv_for, versions

pytestmark = pytest.mark.slow
GATEWAY = "2.1.0"


@pytest.fixture(scope="module")
def gateway_21(exchange: Proc, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if GATEWAY not in versions("refgw"):
        pytest.skip("refgw 2.1.0 is not in the wheelhouse")
    root = tmp_path_factory.mktemp("adapter")
    argv = gateway_argv(
        venv_for(root, "refgw", GATEWAY), GATEWAY, "obx", exchange.addrs["obx"], f"AD{os.getpid()}", root / "journal"
    )
    proc = start(argv, "gateway 2.1.0")
    yield proc, root
    proc.stop()


def _ok(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("status") == "ok", answer
    return dict(answer["result"])


def test_burst_racing_a_subscription_converges_and_wire_log_records(gateway_21: Any) -> None:
    proc, root = gateway_21
    driver = Driver(venv_for(root, "refclient", "3.0.0"))
    try:
        host, port = proc.addrs["client"]
        for name in ("trader", "watcher"):
            _ok(driver.call("connect", session=name, host=host, port=port, username=name, password="x"))
        prices = [f"{30 + i % 3}.00" for i in range(9)]
        burst = _ok(
            driver.call(
                "insert_burst",
                session="trader",
                symbol="XYZ",
                side="BUY",
                count=9,
                qty=1,
                prices=prices,
                subscribe_session="watcher",
                subscribe_after=4,
            )
        )
        assert burst["sent"] == 9 and burst["error_count"] == 0
        want = [["32.000", 3], ["31.000", 3], ["30.000", 3]]
        book = _ok(driver.call("wait_book", session="watcher", symbol="XYZ", bids=want, asks=[], timeout_s=5.0))
        assert book["bids"] == want and book["gaps"] == 0
        assert _ok(driver.call("book", session="watcher", symbol="XYZ"))["bids"] == want
        timeout = driver.call("wait_book", session="watcher", symbol="XYZ", bids=[["1.000", 1]], asks=[], timeout_s=0.2)
        assert timeout["status"] == "error" and timeout["error"]["type"] == "Timeout"
        frames = _ok(driver.call("wire_log", session="trader"))["frames"]
        assert {f["direction"] for f in frames} == {"in", "out"}
        assert any(f["msg_type"] == "INSERT_ORDER" for f in frames)
        _ok(driver.call("mass_cancel", session="trader", symbol="XYZ"))
        _ok(driver.call("reset"))
        after = driver.call("insert", session="trader", symbol="XYZ", side="BUY", qty=1, price="30.000")
        assert after["status"] == "error" and after["error"]["type"] == "NotConnected"
    finally:
        driver.close()


def test_oldest_client_has_top_of_book_and_no_wire_log(gateway_21: Any) -> None:
    proc, root = gateway_21
    driver = Driver(venv_for(root, "refclient", "1.0.0"))
    try:
        host, port = proc.addrs["client"]
        _ok(driver.call("connect", session="s1", host=host, port=port, username="old", password="x"))
        _ok(driver.call("subscribe", session="s1", symbol="FLT"))
        placed = _ok(driver.call("insert", session="s1", symbol="FLT", side="SELL", qty=2, price="9.5"))
        book = _ok(driver.call("wait_book", session="s1", symbol="FLT", bids=None, asks=[["9.5", 2]], timeout_s=5.0))
        assert book["asks"] == [["9.5", 2]]
        assert _ok(driver.call("wire_log", session="s1"))["frames"] == []
        amend = driver.call("amend", session="s1", client_order_id=placed["client_order_id"], qty=1)
        assert amend["status"] == "unsupported" and amend["capability"] == "order.amend"
        _ok(driver.call("cancel", session="s1", client_order_id=placed["client_order_id"]))
    finally:
        driver.close()
