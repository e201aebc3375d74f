"""Splitting the cells into N balanced shards, and putting the shards back together.

``balanced_shards`` is greedy longest-processing-time: cells sorted by estimated duration
(longest first, ties by cell id) each go to the shard with the least work so far (ties: the
lowest shard). Estimates are the store's mean past duration of the cell; a cell without
history gets the median of the known ones, and with no history at all every cell weighs the
same, which deals them out round-robin in id order (shard sizes differ by at most one).

Every shard must compute the same split, so it depends only on the cell ids and the
durations given, never on input order, the machine or the clock. A ``basis`` digest of those
inputs goes into each shard's report (``meta.shard``); ``merge_shards`` refuses shards that
were planned from different bases, or an incomplete set, instead of silently losing cells.

This module imports no pytest and no database at import time (``compat.run.plan`` calls it).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from compat.errors import ConfigError
from compat.report.errors import MergeConflict, ReportError
from compat.results.jsonfile import merge
from compat.results.model import RunResults

FALLBACK_S = 1.0  # the weight of every cell when no cell has any history
SHARD_META = "shard"  # RunResults.meta key of one shard: {index, count, cells, cells_total, basis}


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


def with_shard_meta(results: RunResults, shard: Mapping[str, Any] | None) -> RunResults:
    """The results with ``meta.shard`` set (a no-op for an unsharded run)."""
    if not shard:
        return results
    return replace(results, meta={**results.meta, SHARD_META: dict(shard)})


def load_durations(source: str | Path | None, default_store: Path | None = None) -> dict[str, float]:
    """Durations per cell id for balancing: from a JSON file (``{"cell id": seconds}``, see
    ``compat durations``), from a results store URL/path, else from ``default_store`` when
    that file exists, else none (every cell weighs the same)."""
    text = str(source) if source else ""
    if text.lower() == "none":
        return {}
    if text.endswith(".json"):
        try:
            data = json.loads(Path(text).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read shard durations {text}: {exc}; write it with `compat durations`") from exc
        if not isinstance(data, dict) or not all(isinstance(v, int | float) for v in data.values()):
            raise ConfigError(f"{text}: expected a JSON object of cell id → seconds (`compat durations` writes one)")
        return {str(k): float(v) for k, v in data.items()}
    if not text:
        if default_store is None or not default_store.is_file():
            return {}
        text = str(default_store)
    from compat.results.store import open_store  # only when a store is actually read

    with open_store(text) as store:
        return store.durations()


def merge_shards(shards: Sequence[RunResults], names: Sequence[str] | None = None) -> tuple[RunResults, list[str]]:
    """Merge shard reports (``compat.report.merge``) after checking they are one complete,
    consistently planned set. Returns the merged results (``meta.shards`` summarises the set)
    and notes worth printing. Shards without ``meta.shard`` are merged as they are."""
    from compat.results.schema_notes import META_KEY as SCHEMA_META

    labels = list(names) if names is not None else [f"shard {i + 1}" for i in range(len(shards))]
    records = [(label, s.meta.get(SHARD_META)) for s, label in zip(shards, labels, strict=True)]
    schemas = [s.meta[SCHEMA_META] for s in shards if isinstance(s.meta.get(SCHEMA_META), Mapping)]
    # meta.schema is derived per shard from that shard's cells, so shards disagree on it by
    # construction: it is rebuilt below over the merged cells, from the diffs the shards carry
    own = (SHARD_META, SCHEMA_META)
    stripped = [replace(s, meta={k: v for k, v in s.meta.items() if k not in own}) for s in shards]
    merged = merge(stripped, names=labels)
    if schemas:
        merged = _rejoin_schema(merged, schemas)
    planned = [(label, r) for label, r in records if isinstance(r, Mapping)]
    if not planned:
        return merged, []
    notes: list[str] = []
    unplanned = [label for label, r in records if not isinstance(r, Mapping)]
    if unplanned:
        raise ReportError(
            f"{', '.join(unplanned)}: not a --compat-shard report, but the others are; merge like with like"
        )
    first_label, first = planned[0]
    for label, record in planned[1:]:
        for key in ("count", "basis", "cells_total"):
            if record.get(key) != first.get(key):
                raise MergeConflict(
                    f"{label} was planned with {key}={record.get(key)!r} but {first_label} with "
                    f"{first.get(key)!r}: the shards did not split the same cells the same way, so cells "
                    "may be missing or doubled. Pin the durations for every shard job "
                    "(`compat durations --output durations.json`, then --compat-durations durations.json)"
                )
    count = int(first["count"])
    seen: dict[int, str] = {}
    for label, record in planned:
        index = int(record["index"])
        if index in seen:
            raise MergeConflict(f"{label} and {seen[index]} are both shard {index}/{count}; pass each shard once")
        seen[index] = label
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise ReportError(
            f"shard {', '.join(missing)} missing from the merge ({len(seen)} of {count} given); "
            "a gate on a partial matrix would pass pairs nobody ran"
        )
    total = int(first["cells_total"])
    ran = len({c.cell_id for c in merged.cells})
    if ran != total:
        notes.append(
            f"note: {ran} of {total} planned cells produced results (a cell whose tests were all deselected has none)"
        )
    summary = {"count": count, "basis": first["basis"], "cells_total": total}
    return replace(merged, meta={**merged.meta, "shards": summary}), notes


def _rejoin_schema(merged: RunResults, blocks: Sequence[Mapping[str, Any]]) -> RunResults:
    """``meta.schema`` as one full run would have computed it: the shards' per-pair schema
    diffs (the same wheels give the same diff), joined again to the merged verdicts."""
    from compat.artifacts.schema_diff import SchemaChange, SchemaDiff
    from compat.report.errors import SchemaDiffError
    from compat.report.schema_join import annotate

    diffs: dict[tuple[str, str], SchemaDiff] = {}
    unreadable: dict[tuple[str, str], str] = {}
    for block in blocks:
        for pair in block.get("pairs", ()):
            key = (str(pair["client_version"]), str(pair["gateway_version"]))
            changes = tuple(SchemaChange(**change) for change in pair.get("changes", ()))
            diffs.setdefault(key, SchemaDiff(str(pair.get("a", "")), str(pair.get("b", "")), changes))
        for note in block.get("disagreements", ()):
            if note.get("kind") == "unreadable":
                unreadable.setdefault((str(note["client_version"]), str(note["gateway_version"])), str(note["detail"]))

    def diff_for(client: str, gateway: str) -> SchemaDiff | None:
        if (client, gateway) in unreadable:
            raise SchemaDiffError(unreadable[(client, gateway)])
        return diffs.get((client, gateway))

    return annotate(merged, diff_for)
