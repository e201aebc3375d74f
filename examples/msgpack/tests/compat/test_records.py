"""Scenarios of the msgpack example: one record service, every client release × server release.

Each scenario sends one record through the adapter's ``echo_record`` operation (see
compat_adapter.py) and checks the echo the client application reads back.
"""

from __future__ import annotations

import pytest

from compat import Scenario

pytestmark = pytest.mark.compat

# Not valid UTF-8: the first bytes of a PNG file.
PNG_HEADER = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0xFF])


def test_text_record(compat: Scenario) -> None:
    """Text and numbers only: every release reads what every other release wrote."""
    s = compat.session()
    echoed = s.echo_record(sensor="capteur-é-7", values=[1, 2.5, -3, 2**40])
    assert echoed == {"sensor": "capteur-é-7", "values": [1, 2.5, -3, 2**40]}, (
        f"client {compat.client_version} × server {compat.gateway_version}: the text record came back as {echoed}")


def test_binary_payload(compat: Scenario) -> None:
    """Binary data that is not UTF-8 must come back as the same bytes."""
    s = compat.session()
    echoed = s.echo_record(sensor="camera-1", values=[640, 480], payload_hex=PNG_HEADER.hex())
    assert echoed.get("payload") == {"bytes": PNG_HEADER.hex()}, (
        f"client {compat.client_version} × server {compat.gateway_version}: "
        f"sent payload bytes {PNG_HEADER.hex()}, the client read back {echoed.get('payload')!r}")


def test_ascii_payload_stays_bytes(compat: Scenario) -> None:
    """Binary data that happens to be ASCII must still come back as bytes, not as a string."""
    s = compat.session()
    blob = b"OK:42"
    echoed = s.echo_record(sensor="relay-3", values=[1], payload_hex=blob.hex())
    assert echoed.get("payload") == {"bytes": blob.hex()}, (
        f"client {compat.client_version} × server {compat.gateway_version}: "
        f"sent payload bytes {blob!r}, the client read back {echoed.get('payload')!r}")
