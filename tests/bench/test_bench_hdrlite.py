"""hdrlite (stdlib, in the driver) must encode exactly what hdrh would have recorded."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from compat.driver.hdrlite import DEFAULT_HIGHEST_NS, HdrLite

PERCENTILES = (0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0)


def _direct(values: list[int], highest: int = DEFAULT_HIGHEST_NS, digits: int = 3) -> HdrHistogram:
    histogram = HdrHistogram(1, highest, digits)
    for value in values:
        histogram.record_value(value)
    return histogram


def _roundtrip(values: list[int], highest: int = DEFAULT_HIGHEST_NS, digits: int = 3) -> HdrHistogram:
    lite = HdrLite(1, highest, digits)
    lite.record_many(values)
    return HdrHistogram.decode(lite.encode())


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("digits", [2, 3, 4])
def test_encoding_decodes_to_the_same_counts_and_percentiles_as_hdrh(seed: int, digits: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(11, 1.6)) for _ in range(20_000)] + [0, 1, 2, 1023, 1024, 2047, 2048]
    direct = _direct(values, digits=digits)
    decoded = _roundtrip(values, digits=digits)
    assert decoded.get_total_count() == direct.get_total_count() == len(values)
    assert list(decoded.counts) == list(direct.counts)
    for p in PERCENTILES:
        assert decoded.get_value_at_percentile(p) == direct.get_value_at_percentile(p), p
    assert decoded.get_min_value() == direct.get_min_value()
    assert decoded.get_max_value() == direct.get_max_value()


def test_long_zero_runs_and_large_counts_survive() -> None:
    values = [5] * 70_000 + [40_000_000_000] * 3  # one huge count, then a very long run of zeros
    decoded = _roundtrip(values)
    direct = _direct(values)
    assert decoded.get_count_at_value(5) == 70_000
    assert decoded.get_value_at_percentile(99.999) == direct.get_value_at_percentile(99.999)


def test_empty_histogram_encodes_and_decodes_to_empty() -> None:
    decoded = HdrHistogram.decode(HdrLite().encode())
    assert decoded.get_total_count() == 0


def test_values_above_highest_are_clamped_and_counted_not_dropped() -> None:
    lite = HdrLite(1, 1_000_000, 3)
    lite.record_many([10, 5_000_000])
    assert lite.total == 2
    assert lite.saturated == 1
    assert lite.max == 5_000_000  # the exact max is kept for the report
    decoded = HdrHistogram.decode(lite.encode())
    assert decoded.get_total_count() == 2
    assert decoded.get_max_value() >= 1_000_000


def test_add_merges_counts() -> None:
    a, b = HdrLite(), HdrLite()
    a.record_many([100, 200])
    b.record_many([300])
    a.add(b)
    assert (a.total, a.min, a.max) == (3, 100, 300)
    with pytest.raises(ValueError, match="different"):
        a.add(HdrLite(1, 1000, 3))
