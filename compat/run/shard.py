"""Splitting a run's cells into N balanced shards (``--compat-shard K/N``).

``balanced_shards`` is greedy longest-processing-time: cells sorted by estimated duration
(longest first, ties by cell id) each go to the shard with the least work so far (ties: the
lowest shard). Estimates are the store's mean past duration of the cell; a cell without
history gets the median of the known ones, and with no history at all every cell weighs the
same, which deals them out round-robin in id order (shard sizes differ by at most one).

Every shard must compute the same split, so it depends only on the cell ids and the
durations given, never on input order, the machine or the clock. A ``basis`` digest of those
inputs goes into each shard's report (``meta.shard``); ``compat.results.shards.merge_shards``
refuses shards that were planned from different bases, or an incomplete set.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from compat.errors import ConfigError

FALLBACK_S = 1.0  # the weight of every cell when no cell has any history


def estimates(cell_ids: Sequence[str], durations: Mapping[str, float]) -> dict[str, float]:
    """Each cell's expected duration: its history, else the median of the known, else 1.0."""
    known = [float(durations[c]) for c in cell_ids if float(durations.get(c, 0.0)) > 0]
    fallback = statistics.median(known) if known else FALLBACK_S
    return {c: float(durations[c]) if float(durations.get(c, 0.0)) > 0 else fallback for c in cell_ids}


def balanced_shards(cell_ids: Sequence[str], durations: Mapping[str, float], count: int) -> list[list[str]]:
    """``count`` lists of cell ids, together holding each id once, balanced by ``durations``
    (seconds per cell id). Each list keeps the order of ``cell_ids``."""
    if count < 1:
        raise ConfigError(f"cannot split cells into {count} shards; N must be 1 or more")
    unique = list(dict.fromkeys(cell_ids))
    weight = estimates(unique, durations)
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [(0.0, index) for index in range(count)]  # a heap: least loaded, then lowest index
    for cell in sorted(unique, key=lambda c: (-weight[c], c)):
        load, index = heapq.heappop(loads)
        shards[index].append(cell)
        heapq.heappush(loads, (load + weight[cell], index))
    position = {cell: n for n, cell in enumerate(unique)}
    return [sorted(shard, key=position.__getitem__) for shard in shards]


def basis(cell_ids: Sequence[str], durations: Mapping[str, float]) -> str:
    """A digest of what the split was computed from: shards of one run must share it."""
    unique = sorted(set(cell_ids))
    weight = estimates(unique, durations)
    text = json.dumps([[c, round(weight[c], 3)] for c in unique], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def select_shard(
    cell_ids: Sequence[str], durations: Mapping[str, float], index: int, count: int
) -> tuple[list[str], dict[str, Any]]:
    """Shard ``index`` (1-based) of ``count``: its cell ids, and the ``meta.shard`` record that
    lets ``merge_shards`` check the shards fit together."""
    if not 1 <= index <= count:
        raise ConfigError(f"--compat-shard {index}/{count}: K must be between 1 and N")
    chosen = balanced_shards(cell_ids, durations, count)[index - 1]
    weight = estimates(list(dict.fromkeys(cell_ids)), durations)
    meta = {
        "index": index,
        "count": count,
        "cells": len(chosen),
        "cells_total": len(set(cell_ids)),
        "basis": basis(cell_ids, durations),
        "estimated_s": round(sum(weight[c] for c in chosen), 3),
    }
    return chosen, meta
