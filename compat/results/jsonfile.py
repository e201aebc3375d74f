"""The JSON report: render, load, and merge shards losslessly.

The document is ``RunResults.to_dict()`` plus a few *derived* keys for readers that do not
run compat (jq, dashboards): a top-level ``summary`` and a per-cell ``verdict``. Evidence is
kept only where it explains something (``compat.results.evidence.prune_evidence``; a shard's
report keeps all of it, so the merge can still find a failure's nearest passing cell in another
shard), and each distinct log tail is stored once in the top-level ``logs`` table, scenarios
naming it by key (schema 2). ``load_json``/``parse_report`` drop the derived keys and resolve
the keys again, so ``parse_report(render_json(r)) == prune_evidence(r)`` for every JSON-able
unsharded ``r`` (``== r`` for a shard's). Schema 1 documents (log tails inline) still load.
Shape: docs/report-json.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from compat.errors import MergeConflict, ResultsError, SchemaVersionError
from compat.results.evidence import prune_evidence
from compat.results.grid import verdict_counts
from compat.results.model import SCHEMA_VERSION, CellResult, EnvRecord, RunResults, ScenarioResult, Verdict

_DERIVED_TOP = ("summary",)
_DERIVED_CELL = ("verdict",)
LOGS = "logs"  # top-level table of schema 2: log tail key → text, each distinct tail once
READABLE = (1, SCHEMA_VERSION)  # schema 1: log tails inline in each scenario
_SHARD_META = "shard"  # compat.results.shards.SHARD_META (shards imports this module)


def log_key(text: str) -> str:
    """The key a log tail is stored under in ``logs``: the first 16 hex digits of its sha256,
    so identical tails share one entry and shards' keys agree."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def report_dict(results: RunResults) -> dict[str, Any]:
    """The JSON document as a dict: schema_version first, then summary, then the model, with
    the evidence pruned (not for a shard's report) and log tails deduplicated into ``logs``."""
    if not results.meta.get(_SHARD_META):
        results = prune_evidence(results)
    body = results.to_dict()
    logs: dict[str, str] = {}
    for cell_dict in body["cells"]:
        for scenario in cell_dict["scenarios"]:
            refs = {}
            for role, text in scenario["log_tails"].items():
                refs[role] = key = log_key(text)
                logs.setdefault(key, text)
            scenario["log_tails"] = refs
    body[LOGS] = logs
    for cell_dict, cell in zip(body["cells"], results.cells, strict=True):
        verdict = cell.verdict
        cell_dict["verdict"] = str(verdict) if verdict is not None else None
    scenarios = [s for cell in results.cells for s in cell.scenarios]
    summary = {
        "cells": len(results.cells),
        "scenarios": len(scenarios),
        "verdicts": {str(v): n for v, n in verdict_counts(scenarios).items()},
        "blocking": sum(1 for s in scenarios if s.verdict.blocks_release),
        "cached": sum(1 for s in scenarios if s.cached_from is not None),
        "duration_s": round(sum(s.duration_s for s in scenarios), 6),
    }
    return {"schema_version": body.pop("schema_version"), "summary": summary, **body}


# Where the text breaks lines (paths into the document, ``[]`` for any item of a list): the top
# level, each cell, each scenario, each env, each log tail and each key of ``meta`` on a line
# of its own; everything below them compact. Indenting every key (``indent=2``) took a fifth of
# the reference matrix's JSON in spaces; one line per scenario keeps it greppable and diffable.
_BROKEN_AT = frozenset({(), ("cells",), ("cells", "[]"), ("cells", "[]", "scenarios"), ("envs",), (LOGS,),
                        ("meta",)})


def _layout(value: Any, path: tuple[str, ...] = (), depth: int = 0) -> str:
    """``value`` as JSON text, a line per item where ``_BROKEN_AT`` says so, compact elsewhere."""
    if path not in _BROKEN_AT or not isinstance(value, (dict, list, tuple)) or not value:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    inner = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}:{_layout(v, (*path, str(k)), depth + 1)}"
                 for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [f"{inner}{_layout(v, (*path, '[]'), depth + 1)}" for v in value]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(items) + "\n" + " " * depth + closing


def render_json(results: RunResults) -> str:
    """The JSON report text (UTF-8, newline-terminated): a line per top-level key, cell,
    scenario, env, log tail and ``meta`` key, each compact (``_BROKEN_AT``)."""
    try:
        return _layout(report_dict(results)) + "\n"
    except (TypeError, ValueError) as exc:
        raise ResultsError(
            f"results are not JSON-able ({exc}); a WireFrame.fields, bench, meta or expectation "
            "value holds a non-JSON type: convert it to str/int/float/list/dict where it is recorded"
        ) from exc


def parse_report(data: Mapping[str, Any], source: str = "<results>") -> RunResults:
    """A RunResults from a parsed JSON report; checks the schema version first."""
    if not isinstance(data, Mapping):
        raise ResultsError(f"{source}: expected a JSON object at top level, got {type(data).__name__}")
    version = data.get("schema_version")
    if version not in READABLE:
        raise SchemaVersionError(
            f"{source}: schema_version is {version!r}, this compat reads schema_version "
            f"{' and '.join(map(str, READABLE))}; re-run the matrix with this compat, or read the "
            "file with the compat version that wrote it"
        )
    body = {k: v for k, v in data.items() if k not in (*_DERIVED_TOP, LOGS)}
    body["schema_version"] = SCHEMA_VERSION  # schema 1 migrates on load: inline tails are the model's
    try:
        logs = data.get(LOGS, {}) if version == SCHEMA_VERSION else None
        body["cells"] = [
            {k: v for k, v in cell.items() if k not in _DERIVED_CELL}
            | {"scenarios": [_resolve_logs(s, logs, source) for s in cell.get("scenarios", ())]}
            for cell in body.get("cells", ())
        ]
        return RunResults.from_dict(body)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ResultsError(
            f"{source}: not a compat results document ({type(exc).__name__}: {exc}); "
            "see docs/report-json.md for the shape"
        ) from exc


def _resolve_logs(scenario: Mapping[str, Any], logs: Mapping[str, str] | None, source: str) -> dict[str, Any]:
    """A scenario dict with its log tails as text: schema 2 names them by key in ``logs``;
    schema 1 (``logs`` None) has the text inline already."""
    if logs is None or not scenario.get("log_tails"):
        return dict(scenario)
    tails = {}
    for role, key in scenario["log_tails"].items():
        if key not in logs:
            raise ResultsError(
                f"{source}: scenario {scenario.get('scenario')!r} of {scenario.get('cell_id')!r} names "
                f"log tail {key!r} for {role}, which the top-level {LOGS!r} table lacks"
            )
        tails[role] = logs[key]
    return {**scenario, "log_tails": tails}


def load_json(path: str | Path) -> RunResults:
    """Read a JSON report written by ``render_json``; clear errors for a bad file or version."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(f"cannot read results {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    return parse_report(data, source=str(path))


# --- merging shards --------------------------------------------------------------------------


def _differences(a: object, b: object) -> str:
    """Names the dataclass fields that differ, ``verdict: 'pass' != 'fail'``."""
    parts = []
    for f in fields(a):  # type: ignore[arg-type]
        left, right = getattr(a, f.name), getattr(b, f.name)
        if left != right:
            parts.append(f"{f.name}: {_short(left)} != {_short(right)}")
    return "; ".join(parts)


def _short(value: object, limit: int = 60) -> str:
    text = repr(str(value)) if isinstance(value, Verdict) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _CellAcc:
    """A cell being merged: the first shard's header plus scenarios keyed by name."""

    def __init__(self, cell: CellResult, shard: str) -> None:
        self.cell = replace(cell, scenarios=())
        self.hosts = dict(cell.hosts)
        self.bench = dict(cell.bench) if cell.bench is not None else None
        self.resources = dict(cell.resources) if cell.resources is not None else None
        self.scenarios: dict[str, tuple[ScenarioResult, str]] = {}
        self.first_shard = shard

    def absorb(self, cell: CellResult, shard: str) -> None:
        where = f"cell {cell.cell_id} (venue {cell.venue})"
        for name in ("client_version", "gateway_version"):
            if getattr(cell, name) != getattr(self.cell, name):
                raise MergeConflict(
                    f"{where}: {name} is {getattr(self.cell, name)!r} in {self.first_shard} but "
                    f"{getattr(cell, name)!r} in {shard}; the shards come from different matrices"
                )
        _merge_mapping(self.hosts, cell.hosts, f"{where} hosts", self.first_shard, shard)
        if cell.bench is not None:
            if self.bench is None:
                self.bench = dict(cell.bench)
            else:
                _merge_mapping(self.bench, cell.bench, f"{where} bench", self.first_shard, shard)
        if cell.resources is not None:
            if self.resources is None:
                self.resources = dict(cell.resources)
            else:
                _merge_mapping(self.resources, cell.resources, f"{where} resources", self.first_shard, shard)

    def add_scenario(self, scenario: ScenarioResult, shard: str) -> None:
        seen = self.scenarios.get(scenario.scenario)
        if seen is None:
            self.scenarios[scenario.scenario] = (scenario, shard)
        elif seen[0] != scenario:
            raise MergeConflict(
                f"cell {self.cell.cell_id} (venue {self.cell.venue}) scenario {scenario.scenario} "
                f"differs between {seen[1]} and {shard}: {_differences(seen[0], scenario)}; "
                "each (cell, scenario) must be run by one shard only: check the shard split"
            )

    def result(self) -> CellResult:
        return replace(
            self.cell,
            hosts=self.hosts,
            bench=self.bench,
            resources=self.resources,
            scenarios=tuple(s for s, _ in self.scenarios.values()),
        )


def _merge_mapping(into: dict[str, Any], other: Mapping[str, Any], what: str, first: str, shard: str) -> None:
    for key, value in other.items():
        if key in into and into[key] != value:
            raise MergeConflict(
                f"{what}[{key!r}] is {_short(into[key])} in {first} but {_short(value)} in {shard}; "
                "lossless merge cannot pick one: fix the shard that recorded the wrong value"
            )
        into[key] = value


def merge(shards: Sequence[RunResults], names: Sequence[str] | None = None) -> RunResults:
    """One RunResults holding every cell, scenario and env of the shards, nothing lost.

    Identical duplicates collapse; a (venue, cell, scenario) with different results in two
    shards raises MergeConflict naming both. Cells keep first-seen order, scenarios too.
    ``names`` label the shards in errors (file paths); default ``shard 1``, ``shard 2``…
    """
    if not shards:
        raise ResultsError("merge: no shards given; pass at least one results document")
    labels = list(names) if names is not None else [f"shard {i + 1}" for i in range(len(shards))]
    if len(labels) != len(shards):
        raise ResultsError(f"merge: {len(shards)} shards but {len(labels)} names")
    for shard, label in zip(shards, labels, strict=True):
        if shard.schema_version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{label}: schema_version {shard.schema_version!r}, merge needs {SCHEMA_VERSION}"
            )
    cells: dict[tuple[str, str], _CellAcc] = {}
    envs: dict[EnvRecord, None] = {}
    meta: dict[str, Any] = {}
    bench: dict[str, Any] = {}
    matrix_paths: dict[str, str] = {}
    for shard, label in zip(shards, labels, strict=True):
        for cell in shard.cells:
            key = (cell.venue, cell.cell_id)
            acc = cells.get(key)
            if acc is None:
                acc = cells[key] = _CellAcc(cell, label)
            else:
                acc.absorb(cell, label)
            for scenario in cell.scenarios:
                acc.add_scenario(scenario, label)
        for env in shard.envs:
            envs.setdefault(env, None)
        _merge_mapping(meta, shard.meta, "meta", _first_with(shards, labels, "meta"), label)
        _merge_mapping(bench, shard.bench, "bench", _first_with(shards, labels, "bench"), label)
        if shard.matrix_path:
            matrix_paths.setdefault(shard.matrix_path, label)
    if len(matrix_paths) > 1:
        listed = ", ".join(f"{path} ({label})" for path, label in matrix_paths.items())
        raise MergeConflict(f"shards were run from different matrix files: {listed}")
    starts = [s.started_at for s in shards if s.started_at]
    ends = [s.finished_at for s in shards if s.finished_at]
    return RunResults(
        cells=tuple(acc.result() for acc in cells.values()),
        envs=tuple(envs),
        started_at=min(starts) if starts else "",
        finished_at=max(ends) if ends else "",
        matrix_path=next(iter(matrix_paths), ""),
        schema_version=SCHEMA_VERSION,
        meta=meta,
        bench=bench,
    )


def _first_with(shards: Sequence[RunResults], labels: Sequence[str], attr: str) -> str:
    for shard, label in zip(shards, labels, strict=True):
        if getattr(shard, attr):
            return label
    return labels[0]


def merge_files(paths: Sequence[str | Path]) -> RunResults:
    """Load and merge JSON reports; errors name the files involved."""
    return merge([load_json(p) for p in paths], names=[str(p) for p in paths])
