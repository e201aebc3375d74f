"""refgw: the reference trading gateway (client protocol over TCP to the OBX/TLX venues)."""

from __future__ import annotations

from refgw._version import PROTOCOL_MAX, PROTOCOL_MIN, __version__

__all__ = ["PROTOCOL_MAX", "PROTOCOL_MIN", "__version__"]
