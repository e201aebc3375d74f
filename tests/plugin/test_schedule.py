"""compat.plugin.schedule's order: heaviest cell first, ties in the collected order. The order
an xdist worker really runs is held by tests/plugin/test_verdict_cache.py."""

from __future__ import annotations

from compat.plugin.schedule import heaviest_first


def test_cells_go_heaviest_first() -> None:
    assert heaviest_first({"a": 1.0, "b": 9.5, "c": 3.0}) == ["b", "c", "a"]


def test_equal_weights_keep_the_collected_order() -> None:
    assert heaviest_first({"z": 0.0, "a": 2.0, "m": 0.0, "b": 2.0}) == ["a", "b", "z", "m"]
