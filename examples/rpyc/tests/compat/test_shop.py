"""Scenarios of the RPyC example: one shop service, every client release × server release.

They call the adapter's operations (compat_adapter.py), from the wire up: RPyC's own ping,
a plain call on the service, and a remote object held by reference.
"""

from __future__ import annotations

import pytest

from compat import Scenario

pytestmark = pytest.mark.compat


def test_ping(compat: Scenario) -> None:
    """RPyC's echo request: framing and message dispatch, no remote object involved."""
    s = compat.session()
    assert s.ping() == {"ok": True}


def test_call(compat: Scenario) -> None:
    """A method of the service (``connection.root``), returning a plain value."""
    s = compat.session()
    assert s.price(sku="cup") == {"cents": 1200}, f"server {compat.gateway_version} priced a cup differently"


def test_remote_object(compat: Scenario) -> None:
    """A basket that lives in the server, held by the client as a reference and called on."""
    s = compat.session()
    basket = s.basket(customer="ada", items=[["tea", 2], ["pot", 1], ["tea", 1]])
    assert basket == {"total": 3 * 450 + 3900, "lines": [["pot", 1], ["tea", 3]]}, (
        f"client {compat.client_version} × server {compat.gateway_version}: basket came back as {basket}")
