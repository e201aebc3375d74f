"""refgw: the reference trading gateway (client protocol over TCP to the OBX/TLX venues)."""

from __future__ import annotations

__version__ = "3.1.0.dev0"
PROTOCOL_MIN = 2
PROTOCOL_MAX = 3
