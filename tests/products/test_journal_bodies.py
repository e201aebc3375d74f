"""The journal's per-order record bodies (ORDER_MAP, ORDER_STATE) are written without a dict
or the JSON encoder (refgw 3.1 hot path): they must stay byte-identical to what the encoder
wrote before, or journals would differ between releases for the same orders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC

sys.path.insert(0, str(GW_SRC))
from refgw import journal as jr

_ENCODER = json.JSONEncoder(separators=(",", ":"))  # what append_json/stage_json use
_TEXT = st.text(max_size=12)  # any code point: quotes, control characters, non-ASCII, surrogates
_INT = st.integers(min_value=-(2**70), max_value=2**70)


@given(_INT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _INT, _INT, _INT, _TEXT)
def test_order_map_body_is_the_encoders_bytes(
    gw: int, vc: str, sid: str, user: str, coid: str, sym: str, side: str, type_: str, tif: str,
    qty: int, px: int, rid: int, ext: str,
) -> None:
    expected = {
        "gw": gw, "vc": vc, "sid": sid, "user": user, "coid": coid, "sym": sym, "side": side,
        "type": type_, "tif": tif, "qty": qty, "px": px, "rid": rid, "ext": ext,
    }
    body = jr.order_map_body(gw, vc, sid, user, coid, sym, side, type_, tif, qty, px, rid, ext)
    assert body == _ENCODER.encode(expected).encode()


@given(_INT, _TEXT, _INT, _INT, _TEXT)
def test_order_state_body_is_the_encoders_bytes(gw: int, st_: str, lv: int, cq: int, ex: str) -> None:
    body = jr.order_state_body(gw, st_, lv, cq, ex)
    assert body == _ENCODER.encode({"gw": gw, "st": st_, "lv": lv, "cq": cq, "ex": ex}).encode()
