"""Host side of the histograms: decode what drivers sent, merge them, read percentiles.

Percentiles are always read from a merged histogram (the counts of every driver added
together), never averaged across drivers: the mean of two p99s is not a p99 of anything.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from hdrh.histogram import HdrHistogram

# The percentiles every report shows; 100 is the max.
REPORTED = (50.0, 90.0, 99.0, 99.9, 100.0)


def decode(encoded: str) -> HdrHistogram:
    """One driver's base64 V2 payload (``hdrlite.HdrLite.encode``) as an HdrHistogram."""
    return HdrHistogram.decode(encoded)


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """Add the counts of every payload into one histogram (same settings required)."""
    return merge_histograms([decode(payload) for payload in encoded])


def merge_histograms(histograms: Sequence[HdrHistogram]) -> HdrHistogram:
    """A new histogram holding the counts of all of ``histograms`` (which are left as they are)."""
    if not histograms:
        raise ValueError("merge_histograms() needs at least one histogram")
    merged = HdrHistogram.decode(histograms[0].encode())  # a copy: add() mutates
    for histogram in histograms[1:]:
        merged.add(histogram)
    return merged


@dataclass(frozen=True)
class Percentiles:
    """The reported percentiles of one distribution, in nanoseconds."""

    count: int
    p50: int
    p90: int
    p99: int
    p999: int
    max: int

    @classmethod
    def of(cls, histogram: HdrHistogram, exact_max: int | None = None) -> Percentiles:
        values = [int(histogram.get_value_at_percentile(p)) for p in REPORTED]
        top = exact_max if exact_max is not None and histogram.get_total_count() else values[4]
        return cls(int(histogram.get_total_count()), values[0], values[1], values[2], values[3], top)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def ratio_to(self, floor: Percentiles) -> dict[str, float]:
        """Each percentile divided by the floor's (inf when the floor is 0)."""
        mine, theirs = self.as_dict(), floor.as_dict()
        return {key: (mine[key] / theirs[key] if theirs[key] else float("inf"))
                for key in ("p50", "p90", "p99", "p999", "max")}


def count_at_or_above(histogram: HdrHistogram, threshold_ns: int) -> int:
    """How many samples are at or above ``threshold_ns`` (bucket resolution: 0.1%)."""
    total = 0
    for index in range(histogram.counts_len):
        count = histogram.get_count_at_index(index)
        # A bucket whose range reaches the threshold counts (values are known only to a bucket).
        if count and histogram.get_highest_equivalent_value(
                histogram.get_value_from_index(index)) >= threshold_ns:
            total += count
    return total


def hgrm(histogram: HdrHistogram, unit_ns: float = 1000.0) -> str:
    """HdrHistogram's standard percentile distribution text (values in µs by default)."""
    out = io.BytesIO()
    histogram.output_percentile_distribution(out, unit_ns)
    return out.getvalue().decode("ascii")


def spectrum(histogram: HdrHistogram, ticks_per_half_distance: int = 5) -> list[tuple[float, int]]:
    """``(percentile, value_ns)`` points for a percentile-spectrum plot, 100% excluded."""
    points: list[tuple[float, int]] = []
    for step in histogram.get_percentile_iterator(ticks_per_half_distance):
        level = float(step.percentile_level_iterated_to)
        if level < 100.0:
            points.append((level, int(step.value_iterated_to)))
    return points

