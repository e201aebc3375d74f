"""A minimal, stdlib-only HDR histogram recorder for the driver (which cannot import ``hdrh``).

It uses exactly HdrHistogram's bucket math (lowest trackable 1, a configurable highest, 1-5
significant digits) and encodes to the standard **V2 compressed** payload: a big-endian
header, counts as ZigZag LEB128 varints with runs of zeros written as one negative number,
zlib-compressed, then a second header and base64. The host decodes it unchanged with
``hdrh.histogram.HdrHistogram.decode(payload)``.

The hot path never touches a histogram: callers buffer raw integers in a list and hand the
list to :meth:`HdrLite.record_many` in batches, off the critical path.

Values above ``highest`` are clamped to ``highest`` and counted in ``saturated`` (never
dropped silently: a clamped sample still counts, and the caller reports the exact max).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Iterable

# Cookies of the V2 format (HdrHistogram's HistogramEncoding); 0x10 marks the 9-byte word size.
_V2_ENCODING_COOKIE = 0x1C849303 | 0x10
_V2_COMPRESSION_COOKIE = 0x1C849304 | 0x10
# cookie, payload_len, normalizing_index_offset, significant_figures, lowest, highest, ratio
_PAYLOAD_HEADER = struct.Struct(">IIIIqqd")
_EXTERNAL_HEADER = struct.Struct(">II")

DEFAULT_HIGHEST_NS = 60_000_000_000  # 60 s in nanoseconds: any stall we care about fits
DEFAULT_SIGNIFICANT_FIGURES = 3


class HdrLite:
    """Counts per HDR bucket; same indices as HdrHistogram so the encoding is interchangeable."""

    def __init__(self, lowest: int = 1, highest: int = DEFAULT_HIGHEST_NS,
                 significant_figures: int = DEFAULT_SIGNIFICANT_FIGURES) -> None:
        if not 1 <= significant_figures <= 5:
            raise ValueError(f"significant_figures must be 1..5, got {significant_figures}")
        if lowest < 1 or highest < 2 * lowest:
            raise ValueError(f"need 1 <= lowest and highest >= 2*lowest, got {lowest}, {highest}")
        self.lowest = lowest
        self.highest = highest
        self.significant_figures = significant_figures
        # The same derivation as HdrHistogram (Java/C/Python) so indices agree bit for bit.
        self.unit_magnitude = math.floor(math.log(lowest) / math.log(2))
        largest_single_unit = 2 * 10**significant_figures
        sub_bucket_count_magnitude = math.ceil(math.log(largest_single_unit) / math.log(2))
        self.sub_bucket_half_count_magnitude = max(sub_bucket_count_magnitude - 1, 0)
        self.sub_bucket_count = 1 << (self.sub_bucket_half_count_magnitude + 1)
        self.sub_bucket_half_count = self.sub_bucket_count // 2
        self.sub_bucket_mask = (self.sub_bucket_count - 1) << self.unit_magnitude
        self.bucket_count = _bucket_count(highest, self.sub_bucket_count, self.unit_magnitude)
        self.counts_len = (self.bucket_count + 1) * self.sub_bucket_half_count
        self.counts = [0] * self.counts_len
        self.total = 0
        self.saturated = 0  # samples above ``highest``, recorded as ``highest``
        self.min = 0
        self.max = 0  # exact, unquantised

    def index_of(self, value: int) -> int:
        """HdrHistogram's counts index of ``value`` (``counts_index_for``)."""
        pow2ceiling = (value | self.sub_bucket_mask).bit_length()
        bucket = pow2ceiling - self.unit_magnitude - (self.sub_bucket_half_count_magnitude + 1)
        sub_bucket = value >> (bucket + self.unit_magnitude)
        base = (bucket + 1) << self.sub_bucket_half_count_magnitude
        return base + sub_bucket - self.sub_bucket_half_count

    def record(self, value: int) -> None:
        self.record_many((value,))

    def record_many(self, values: Iterable[int]) -> None:
        """Record a batch of raw integers (negative values are clamped to 0)."""
        counts = self.counts
        highest = self.highest
        mask = self.sub_bucket_mask
        unit = self.unit_magnitude
        shift = self.sub_bucket_half_count_magnitude
        half = self.sub_bucket_half_count
        low_bits = unit + shift + 1
        total = self.total
        vmin = self.min if total else 1 << 62
        vmax = self.max
        saturated = 0
        for raw in values:
            value = raw if raw > 0 else 0
            if value > vmax:
                vmax = value
            if value < vmin:
                vmin = value
            if value > highest:
                value = highest
                saturated += 1
            bucket = (value | mask).bit_length() - low_bits
            counts[((bucket + 1) << shift) + (value >> (bucket + unit)) - half] += 1
            total += 1
        if total:
            self.min = vmin
        self.max = vmax
        self.total = total
        self.saturated += saturated

    def add(self, other: HdrLite) -> None:
        """Merge another recorder with the same settings (counts add; never average)."""
        if (other.lowest, other.highest, other.significant_figures) != (
                self.lowest, self.highest, self.significant_figures):
            raise ValueError("cannot add histograms with different lowest/highest/significant figures")
        for index, count in enumerate(other.counts):
            if count:
                self.counts[index] += count
        if other.total:
            self.min = min(self.min, other.min) if self.total else other.min
            self.max = max(self.max, other.max)
        self.total += other.total
        self.saturated += other.saturated

    def encode(self) -> str:
        """The base64 V2 compressed payload that ``hdrh.histogram.HdrHistogram.decode`` reads."""
        relevant = self.index_of(min(self.max, self.highest)) + 1 if self.total else 0
        body = _encode_counts(self.counts, relevant)
        header = _PAYLOAD_HEADER.pack(_V2_ENCODING_COOKIE, len(body), 0, self.significant_figures,
                                      self.lowest, self.highest, 1.0)
        compressed = zlib.compress(header + body)
        wrapped = _EXTERNAL_HEADER.pack(_V2_COMPRESSION_COOKIE, len(compressed)) + compressed
        return base64.b64encode(wrapped).decode("ascii")

    def summary(self) -> dict[str, int]:
        return {"count": self.total, "min": self.min, "max": self.max, "saturated": self.saturated}


def _bucket_count(highest: int, sub_bucket_count: int, unit_magnitude: int) -> int:
    smallest_untrackable = sub_bucket_count << unit_magnitude
    buckets = 1
    while smallest_untrackable <= highest:
        smallest_untrackable <<= 1
        buckets += 1
    return buckets


def _encode_counts(counts: list[int], limit: int) -> bytes:
    """ZigZag LEB128 of each count; a run of N>1 zeros is written as the single value -N."""
    out = bytearray()
    index = 0
    while index < limit:
        value = counts[index]
        index += 1
        if value == 0:
            zeros = 1
            while index < limit and counts[index] == 0:
                zeros += 1
                index += 1
            if zeros > 1:
                value = -zeros
        _write_zigzag(out, value)
    return bytes(out)


def _write_zigzag(out: bytearray, value: int) -> None:
    # ZigZag on 64 bits, then LEB128 (7 bits per byte); HdrHistogram's 9th byte holds 8 bits,
    # which plain LEB128 matches for every value below 2**56 (any realistic count).
    encoded = (value << 1) ^ (value >> 63)
    encoded &= 0xFFFFFFFFFFFFFFFF
    while encoded >= 0x80:
        out.append((encoded & 0x7F) | 0x80)
        encoded >>= 7
    out.append(encoded)
