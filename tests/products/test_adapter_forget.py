"""The refclient adapter forgets a session on ``forget`` (Scenario.release sends it after each test).

In process: the adapter module loaded from its file as compat's driver loads it, HEAD's client,
a real HEAD gateway. A disconnected session stays resumable until it is forgotten; a forgotten
one is closed and gone (``NotConnected``) and nothing refers to its client any more, so a cell's
driver holds no session of a finished test.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import sys
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import ADAPTER, GatewayFactory, run


class _Unsupported(Exception):
    def __init__(self, capability: str, message: str = "") -> None:
        super().__init__(message)
        self.capability = capability


def _adapter_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compat_adapter_under_test", ADAPTER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_forgotten_session_is_closed_and_gone_and_a_disconnected_one_resumes(gateway: GatewayFactory) -> None:
    host, port = gateway().addrs["client"]
    module = _adapter_module()

    async def scenario() -> None:
        adapter: Any = module.Adapter({"Unsupported": _Unsupported})
        for name in ("t1-a", "t1-b"):
            await adapter.op_connect(name, host=host, port=port, username=name)
        await adapter.op_insert_burst("t1-a", symbol="ABC", side="BUY", count=20, qty=1, prices=["1.00"])
        await adapter.op_mass_cancel("t1-a", symbol="ABC")
        forgotten = weakref.ref(adapter.sessions["t1-a"].client)
        await adapter.op_disconnect("t1-b")
        assert (await adapter.op_reconnect("t1-b"))["resumed"], "a disconnected session is kept for its resume"
        for name in ("t1-a", "t1-b"):
            await adapter.op_disconnect(name)
            assert await adapter.op_forget(name) == {}
        assert adapter.sessions == {}
        for _ in range(3):  # the closed connections' callbacks run, then nothing refers to the client
            await asyncio.sleep(0)
        gc.collect()
        assert forgotten() is None, f"the forgotten client is still referred to by {gc.get_referrers(forgotten())}"
        with pytest.raises(module.NotConnected, match="no connected session 't1-a'"):
            await adapter.op_insert("t1-a", symbol="ABC", side="BUY", qty=1, price="1.00")
        assert await adapter.op_forget("never-connected") == {}, "forgetting twice or never connected is fine"

    run(scenario())
