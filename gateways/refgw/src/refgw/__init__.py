"""refgw: the reference trading gateway (client protocol over TCP to the OBX/TLX venues)."""

from __future__ import annotations

__version__ = "2.2.0"
PROTOCOL_MIN = 1
PROTOCOL_MAX = 2
