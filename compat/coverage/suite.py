"""``compat coverage``: how much of a product's protocol the scenarios would notice breaking.

For a product wheel that ships its protobuf schema, every mutant of the schema
(``compat.artifacts.protomutants``: each field dropped, renumbered, narrowed; a value added to
each enum), or a seeded sample of them (``sample``), is run through the product's candidate
column of the matrix (``compat.coverage.runner``); each mutant is killed (some scenario turned
red) or survives. The **suite strength** of the product is the share of mutants killed; the
survivors name the schema elements no scenario notices. Judgements are cached per mutant
(the mutant wheel's sha256 and the suite's fingerprint), so a rerun only runs what changed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from compat import timing
from compat.artifacts.protomutants import KINDS, Mutant, build_mutant_wheel, enumerate_mutants, read_shipped_schema
from compat.artifacts.rewheel import rewrite_wheel
from compat.coverage.runner import (
    COVERAGE_TAG,
    GREEN,
    ColumnSpec,
    Judgement,
    MutantCache,
    cache_key,
    judge,
    run_column,
)
from compat.errors import ConfigError, CoverageError
from compat.harness.uv import file_sha256

_VERB = {"drop": "is removed", "renumber": "is renumbered", "narrow": "is narrowed", "enum-add": "gains a value"}


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    judgement: Judgement
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.mutant.id, "kind": self.mutant.kind, "file": self.mutant.file,
                "element": self.mutant.element, "detail": self.mutant.detail, "cached": self.cached,
                **self.judgement.to_dict()}


@dataclass(frozen=True)
class Coverage:
    """One product's coverage run."""

    role: str
    package: str
    version: str
    wheel_sha256: str
    enumerated: int  # every mutant of the schema
    results: tuple[MutantResult, ...]  # the ones run (all, or the sample)
    seed: int | None = None  # the sample's seed; None: every mutant ran
    baseline_red: tuple[str, ...] = ()  # (cell, scenario) the baseline did not pass: left out
    started_at: str = ""
    finished_at: str = ""
    selection: Mapping[str, Any] = field(default_factory=dict)

    @property
    def killed(self) -> int:
        return sum(1 for r in self.results if r.judgement.killed)

    @property
    def score(self) -> float:
        """The suite's strength for this product: the share of the mutants run that it kills."""
        return self.killed / len(self.results) if self.results else 0.0

    @property
    def sampled(self) -> bool:
        return self.seed is not None

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind → (killed, run)."""
        return {kind: (sum(1 for r in self.results if r.mutant.kind == kind and r.judgement.killed),
                       sum(1 for r in self.results if r.mutant.kind == kind))
                for kind in KINDS if any(r.mutant.kind == kind for r in self.results)}

    def uncovered(self) -> list[str]:
        """One line per schema element some surviving mutant changed: what no scenario notices."""
        survivors: dict[str, list[MutantResult]] = {}
        for result in self.results:
            if not result.judgement.killed:
                survivors.setdefault(result.mutant.element, []).append(result)
        lines = []
        for element, results in survivors.items():
            ways = [_VERB[r.mutant.kind] + (f" ({r.mutant.detail})" if r.mutant.detail else "") for r in results]
            text = ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + " or " + ways[-1]
            note = " (a pass turns n/a, which the gate does not block)" if any(r.judgement.only_na for r in results) \
                else ""
            lines.append(f"{element}: no scenario fails when it {text}{note}")
        return lines

    def headline(self) -> str:
        if self.sampled:
            scope = f"a sample of {len(self.results)} of {self.enumerated} mutants (seed {self.seed})"
        elif len(self.results) < self.enumerated:
            scope = f"{len(self.results)} chosen of {self.enumerated} mutants"
        else:
            scope = f"all {self.enumerated} mutants"
        return (f"{self.role} {self.package} {self.version}: suite strength {self.score:.0%} "
                f"({self.killed} of {len(self.results)} mutants killed; {scope})")

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "package": self.package, "version": self.version,
                "wheel_sha256": self.wheel_sha256, "enumerated": self.enumerated, "run": len(self.results),
                "killed": self.killed, "score": round(self.score, 4), "seed": self.seed,
                "by_kind": {k: {"killed": a, "run": b} for k, (a, b) in self.by_kind().items()},
                "uncovered": self.uncovered(), "baseline_red": list(self.baseline_red),
                "started_at": self.started_at, "finished_at": self.finished_at,
                "selection": dict(self.selection), "mutants": [r.to_dict() for r in self.results]}

    def history_record(self) -> dict[str, Any]:
        """One line of the coverage history: the score and what it was measured on."""
        return {"at": self.finished_at, "role": self.role, "package": self.package, "version": self.version,
                "wheel_sha256": self.wheel_sha256, "score": round(self.score, 4), "killed": self.killed,
                "run": len(self.results), "enumerated": self.enumerated, "seed": self.seed,
                "selection": dict(self.selection)}


def choose(mutants: Sequence[Mutant], sample: int | None, seed: int) -> list[Mutant]:
    """Every mutant, or ``sample`` of them drawn with ``seed``, taking the kinds in turn (so a
    small sample still has drops, renumbers, narrowings and enum additions), in schema order."""
    if sample is None or sample >= len(mutants):
        return list(mutants)
    rng = random.Random(seed)
    pools = {kind: [m for m in mutants if m.kind == kind] for kind in KINDS}
    for pool in pools.values():
        rng.shuffle(pool)
    chosen: list[Mutant] = []
    while len(chosen) < sample:
        for kind in KINDS:
            if pools[kind] and len(chosen) < sample:
                chosen.append(pools[kind].pop())
    order = {m.id: i for i, m in enumerate(mutants)}
    return sorted(chosen, key=lambda m: order[m.id])


def coverage_version(version: str) -> str:
    """Every wheel of a coverage run carries this version (``3.1.0.dev0+coverage``), so test ids
    and cells are the same in every run."""
    return f"{version}{'.' if '+' in version else '+'}{COVERAGE_TAG}"


def run_coverage(spec: ColumnSpec, wheel: Path, work: Path, cache: MutantCache, *, package: str,
                 sample: int | None = None, seed: int = 0, only: Sequence[str] = (),
                 fingerprint_extra: Mapping[str, str] | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> Coverage:
    """The coverage of ``wheel`` (the product's candidate) by the scenarios of ``spec``; ``only``:
    the ids of the mutants to run (default: all of them, or the sample)."""
    started = timing.utc_timestamp()
    schema = read_shipped_schema(wheel)
    mutants = enumerate_mutants(schema)
    total = len(mutants)
    if only:
        known = {m.id: m for m in mutants}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise ConfigError(f"no mutant {', '.join(unknown)} of {wheel.name}; ids look like "
                              f"{', '.join(m.id for m in mutants[:3])}, …")
        mutants = [known[i] for i in dict.fromkeys(only)]
    chosen = choose(mutants, sample, seed)
    version = str(parse_wheel_filename(wheel.name)[1])
    common = coverage_version(version)
    fingerprint = spec.fingerprint(dict(fingerprint_extra or {}))
    progress(f"compat coverage: {spec.role} {package} {version}: {total} mutants of "
             f"{', '.join(schema.names)}; running {len(chosen)}" + (f" (sample, seed {seed})" if sample else ""))
    baseline_wheel = rewrite_wheel(wheel, work / "baseline", version=common)
    baseline_key = cache_key(file_sha256(baseline_wheel), fingerprint)
    baseline = cache.get_baseline(baseline_key)
    if baseline is None:
        baseline = run_column(spec, baseline_wheel, work / "baseline.json")
        cache.put_baseline(baseline_key, baseline)
    red_keys = sorted(k for k, v in baseline.verdicts.items() if v not in GREEN)
    if not baseline.verdicts:
        raise CoverageError(f"the unmutated {package} {version} ran no scenario in the column "
                            f"(cells {', '.join(spec.cell_globs())}): nothing could notice a mutant")
    progress(f"baseline: {len(baseline.verdicts)} (cell, scenario) in {baseline.seconds:.0f}s"
             + (f"; {len(red_keys)} not green, left out of the mutants' runs" if red_keys else ""))
    deselect = sorted({baseline.nodeids[k].split("@", 1)[0] for k in red_keys if baseline.nodeids.get(k)})
    results: list[MutantResult] = []
    for number, mutant in enumerate(chosen, 1):
        mutant_wheel = build_mutant_wheel(schema, mutant, work / "mutants" / mutant.local_tag, version=common)
        key = cache_key(file_sha256(mutant_wheel), fingerprint)
        judgement = cache.get(key)
        cached = judgement is not None
        if judgement is None:
            run = run_column(spec, mutant_wheel, work / "mutants" / f"{mutant.local_tag}.json",
                             deselect=deselect, stop_at_first=True)
            judgement = judge(baseline, run)
            cache.put(key, judgement)
        results.append(MutantResult(mutant, judgement, cached))
        state = ("killed" + (" (errors only)" if judgement.as_error_only else "") + f" by {judgement.by[0]}"
                 if judgement.killed else "SURVIVED")
        progress(f"[{number}/{len(chosen)}] {mutant.id}: {state}" + (" (cached)" if cached else
                                                                     f" ({judgement.seconds:.0f}s)"))
    return Coverage(
        role=spec.role, package=package, version=version, wheel_sha256=file_sha256(wheel), enumerated=total,
        results=tuple(results), seed=seed if sample is not None and sample < len(mutants) else None,
        baseline_red=tuple(f"{baseline.verdicts[k]}: client {k[1]} × gateway {k[2]} [{k[0]}] {k[3]}" for k in red_keys),
        started_at=started, finished_at=timing.utc_timestamp(),
        selection={"cells": spec.cell_globs(), "keyword": spec.keyword, "tests": list(spec.tests)},
    )
