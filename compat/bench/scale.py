"""The scale point: many sessions over several drivers, many instruments, one gateway.

The instruments file is generated (JSON, the exchange reads it like the YAML one); orders go
round-robin over every symbol so the gateway's and exchange's per-instrument state is
really that large, not just listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCALE_SESSIONS = 200
SCALE_INSTRUMENTS = 16_000


def symbols(count: int) -> list[str]:
    return [f"SC{number:05d}" for number in range(1, count + 1)]


def write_instruments(directory: Path, count: int = SCALE_INSTRUMENTS) -> tuple[Path, list[str]]:
    """``count`` identical OPEN instruments (tick 0.01) in ``directory/bench-instruments.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    names = symbols(count)
    doc: dict[str, Any] = {"version": 1, "instruments": [
        {"symbol": name, "description": "bench scale instrument", "currency": "EUR", "tick_size": "0.01",
         "price_scale": 2, "lot_size": 1, "max_order_qty": 1_000_000, "status": "OPEN"}
        for name in names
    ]}
    path = directory / "bench-instruments.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, names


def scale_order(names: list[str]) -> dict[str, Any]:
    """A resting BUY at 1.00 (never filled), spread over ``names`` by the adapter (i % len)."""
    return {"symbol": names[0], "symbols": names, "side": "BUY", "qty": 1, "price": "1.00", "tif": "GTC",
            "order_type": "LIMIT"}
