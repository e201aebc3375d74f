"""Fuzz tests of the decoders: the helpers module sits next to the tests (as in tests/products),
and the gateway under test is HEAD's source tree (gateways/refgw/src), as the products' tests run it."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GW_SRC = HERE.parents[1] / "gateways" / "refgw" / "src"
for path in (str(HERE), str(GW_SRC)):
    if path not in sys.path:
        sys.path.insert(0, path)
