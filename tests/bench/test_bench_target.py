"""Pure parts of the gateway bench: which releases, which order, the scale instruments."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat.bench.gateway import resting_order
from compat.bench.scale import scale_order, write_instruments
from compat.bench.target import pick
from compat.config.cell import Release
from compat.errors import ConfigError
from compat.exchange.instruments import load_config


def _release(version: str, candidate: bool = False) -> Release:
    return Release("gateway", "refgw", version, Path(f"refgw-{version}.whl"), "0" * 64, candidate=candidate)


def test_pick_prefers_the_candidate_then_the_newest_and_names_what_exists() -> None:
    releases = [_release("1.0.0"), _release("2.0.0"), _release("2.1.0", candidate=True)]
    assert pick(releases, None, "gateway").version == "2.1.0"
    assert pick(releases, "HEAD", "gateway").version == "2.1.0"
    assert pick(releases, "2.0.0", "gateway").version == "2.0.0"
    assert pick(releases[:2], None, "gateway").version == "2.0.0"
    with pytest.raises(ConfigError, match=r"1\.0\.0, 2\.0\.0"):
        pick(releases[:2], "HEAD", "gateway")
    with pytest.raises(ConfigError, match=r"'9\.9' is not in"):
        pick(releases, "9.9", "gateway")


def test_resting_order_is_on_tick_far_below_the_market_on_an_open_instrument() -> None:
    instruments = [{"symbol": "HLT", "tick_size": "0.01", "status": "HALTED", "lot_size": 1},
                   {"symbol": "XYZ", "tick_size": "0.005", "status": "OPEN", "lot_size": 10}]
    order = resting_order(instruments)
    assert order == {"symbol": "XYZ", "side": "BUY", "qty": 10, "price": "0.500", "tif": "GTC",
                     "order_type": "LIMIT"}
    with pytest.raises(ConfigError, match="no OPEN instrument"):
        resting_order(instruments[:1])


def test_scale_instruments_load_in_the_exchange_and_the_order_spreads_over_them(tmp_path: Path) -> None:
    path, names = write_instruments(tmp_path, 500)
    loaded = load_config(path)
    assert [str(i.symbol) for i in loaded.instruments] == names
    order = scale_order(names)
    assert order["symbols"] == names and order["symbol"] == names[0]
