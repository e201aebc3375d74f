"""Putting ``--compat-shard`` reports back together, and the durations that balance them.

The split itself is ``compat.run.shard``; here each shard's report gets its ``meta.shard``
record, ``merge_shards`` refuses shards planned from different bases or an incomplete set
instead of silently losing cells, and ``load_durations`` reads past durations per cell from a
JSON file or the results store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from compat.errors import ConfigError, MergeConflict, ResultsError
from compat.results.jsonfile import merge
from compat.results.model import RunResults

SHARD_META = "shard"  # RunResults.meta key of one shard: {index, count, cells, cells_total, basis}


def with_shard_meta(results: RunResults, shard: Mapping[str, Any] | None) -> RunResults:
    """The results with ``meta.shard`` set (a no-op for an unsharded run)."""
    if not shard:
        return results
    return replace(results, meta={**results.meta, SHARD_META: dict(shard)})


def load_durations(
    source: str | Path | None, default_store: Path | None = None, *, matrix: str | None = None
) -> dict[str, float]:
    """Durations per cell id for balancing: from a JSON file (``{"cell id": seconds}``, see
    ``compat durations``), from a results store URL/path, else from ``default_store`` when
    that file exists, else none (every cell weighs the same).

    From a store, only the runs of ``matrix`` count (an identity, ``compat.results.identity``);
    without one, those of ./matrix.yaml's, else of the store's only matrix. A store holding
    several, none of them chosen, gives no durations: every cell weighs the same rather than
    another matrix's figures."""
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
    from compat.results.identity import choose_matrix
    from compat.results.store import open_store  # only when a store is actually read

    with open_store(text) as store:
        if matrix is None:
            known = {m.matrix: m.describe() for m in store.matrices()}
            try:
                matrix = choose_matrix(None, known, where=f"results store {store.where}")
            except ResultsError:
                return {}
        return store.durations(matrix=matrix)


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
        raise ResultsError(
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
        raise ResultsError(
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
    from compat.errors import SchemaDiffError
    from compat.results.schema_join import annotate

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
