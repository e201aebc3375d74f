"""compat: a compatibility matrix, release gate and latency benchmark for gateway/client wheels."""

from __future__ import annotations

__version__ = "0.1.0"
