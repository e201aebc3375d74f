"""What changed since the last release run: the scenarios of a run whose verdict flipped, both
ways, against the newest recorded run of the same matrix labelled ``release``.

Computed where the results store is at hand (the plugin on the controller before it records
the run, ``compat merge --store``, ``compat report --store``) and kept in the run's
``meta.since_release``, so that every report (terminal, Markdown, HTML, JSON) says the same
thing and the renderers stay pure functions of the results::

    {"label": "release",
     "baseline": "run 12 (release, 0123abc, 2026-11-25T16:05:00Z)",   # null: nothing to compare with
     "flips": [{"venue": "obx", "cell_id": "…", "scenario": "S13_md", "before": "pass", "after": "fail"}],
     "new_cells": 2, "gone_cells": 0,            # cells in only one of the two runs: counted, not compared
     "note": "no run of matrix matrix.yaml is labelled 'release' yet …" | null,
     "edited": "the two runs were run from different contents of the matrix file …" | null}

A shard's run (``meta.shard``) is not compared: its flips are a part of the whole, and the
merge (``compat merge --store``) compares the merged run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat.errors import CompatError
from compat.results.history import Flip, cell_keys, flips
from compat.results.identity import edit_note, run_matrix
from compat.results.model import RunResults, Verdict
from compat.results.store import ResultsStore, open_store

META_KEY = "since_release"
RELEASE_LABEL = "release"

# How good a verdict is, for the direction of a flip: a move up is better, down is worse.
# A pass that becomes n/a lost coverage (worse); fail ↔ error is neither (a change of kind).
_RANK: Mapping[str, int] = {
    Verdict.ERROR: 0, Verdict.FAIL: 0, Verdict.STALE: 1, Verdict.FLAKY: 2,
    Verdict.EXPECTED_FAIL: 3, Verdict.NA: 4, Verdict.PASS: 5,
}


def direction(flip: Flip) -> str:
    """``worse``, ``better`` or ``changed`` (same rank, e.g. fail → error)."""
    before, after = _RANK.get(flip.before, 0), _RANK.get(flip.after, 0)
    return "worse" if after < before else "better" if after > before else "changed"


@dataclass(frozen=True)
class CellFlips:
    """The flips of one cell: its scenarios that moved, and which way the cell went overall."""

    venue: str
    cell_id: str
    flips: tuple[Flip, ...]

    @property
    def direction(self) -> str:
        ways = {direction(f) for f in self.flips}
        return "worse" if "worse" in ways else "better" if ways == {"better"} else "changed"

    def line(self, most: int = 4) -> str:
        """``client-1.1.0--gateway-2.0.0--venue-obx: S13_md pass → fail, S01 fail → pass``."""
        moved = [f"{f.scenario} {f.before} → {f.after}" for f in self.flips[:most]]
        more = f", … {len(self.flips) - most} more" if len(self.flips) > most else ""
        return f"{self.cell_id}: {', '.join(moved)}{more}"


@dataclass(frozen=True)
class SinceRelease:
    label: str = RELEASE_LABEL
    baseline: str | None = None  # the release run compared with; None: nothing was compared
    flips: tuple[Flip, ...] = ()
    new_cells: int = 0
    gone_cells: int = 0
    note: str | None = None  # why nothing was compared
    edited: str | None = None  # the matrix file changed between the two runs

    @property
    def worse(self) -> tuple[Flip, ...]:
        return tuple(f for f in self.flips if direction(f) == "worse")

    @property
    def better(self) -> tuple[Flip, ...]:
        return tuple(f for f in self.flips if direction(f) == "better")

    def cells(self) -> list[CellFlips]:
        """The flips per cell, worse cells first, then in the run's order."""
        grouped: dict[tuple[str, str], list[Flip]] = {}
        for flip in self.flips:
            grouped.setdefault((flip.venue, flip.cell_id), []).append(flip)
        cells = [CellFlips(venue, cell_id, tuple(found)) for (venue, cell_id), found in grouped.items()]
        order = {"worse": 0, "changed": 1, "better": 2}
        return sorted(cells, key=lambda c: order[c.direction])

    def headline(self) -> str:
        """One line: what changed since the last release run, or why that is not known:
        ``since the last release run, run 12 (release, 0123abc, …): 3 scenarios flipped in …``."""
        joint = ", " if self.baseline is not None else ": "
        return f"since the last {self.label} run{joint}{self.summary()}"

    def summary(self) -> str:
        """The headline without its ``since the last release run`` lead."""
        if self.baseline is None:
            return self.note or "nothing to compare with"
        head = f"{self.baseline}: "
        if not self.flips:
            head += "no scenario flipped"
        else:
            cells = len({(f.venue, f.cell_id) for f in self.flips})
            ways = [f"{len(self.worse)} worse", f"{len(self.better)} better"]
            changed = len(self.flips) - len(self.worse) - len(self.better)
            ways += [f"{changed} changed kind"] if changed else []
            head += (f"{len(self.flips)} scenario{'s' * (len(self.flips) != 1)} flipped in {cells} "
                     f"cell{'s' * (cells != 1)} ({', '.join(ways)})")
        uncompared = [f"{self.new_cells} new cell{'s' * (self.new_cells != 1)}"] if self.new_cells else []
        uncompared += [f"{self.gone_cells} cell{'s' * (self.gone_cells != 1)} no longer run"] if self.gone_cells else []
        return head + (f"; {' and '.join(uncompared)} not compared" if uncompared else "")

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "baseline": self.baseline,
                "flips": [dataclasses.asdict(f) for f in self.flips],
                "new_cells": self.new_cells, "gone_cells": self.gone_cells, "note": self.note, "edited": self.edited}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> SinceRelease:
        raw = data.get("flips")
        found = []
        for item in raw if isinstance(raw, list) else ():
            if isinstance(item, Mapping):
                found.append(Flip(*(str(item.get(k, "")) for k in ("venue", "cell_id", "scenario", "before", "after"))))
        baseline, note, edited = data.get("baseline"), data.get("note"), data.get("edited")
        return SinceRelease(
            label=str(data.get("label") or RELEASE_LABEL),
            baseline=str(baseline) if baseline else None,
            flips=tuple(found),
            new_cells=int(data.get("new_cells") or 0),
            gone_cells=int(data.get("gone_cells") or 0),
            note=str(note) if note else None,
            edited=str(edited) if edited else None,
        )


def compare(baseline: RunResults, current: RunResults, described: str, label: str = RELEASE_LABEL) -> SinceRelease:
    """The flips of ``current`` against ``baseline`` (``described``: how the baseline is named)."""
    return SinceRelease(
        label=label,
        baseline=described,
        flips=tuple(flips(baseline, current)),
        new_cells=len(cell_keys(current) - cell_keys(baseline)),
        gone_cells=len(cell_keys(baseline) - cell_keys(current)),
        edited=edit_note(baseline, current),
    )


def against_store(results: RunResults, store: ResultsStore, label: str = RELEASE_LABEL) -> SinceRelease:
    """The flips of ``results`` against the newest run of its matrix in ``store`` labelled ``label``."""
    matrix = run_matrix(results)
    release = store.runs(label=label, limit=1, matrix=matrix)
    if not release:
        return SinceRelease(label, note=f"no run of matrix {matrix} in {store.where} is labelled {label!r} yet "
                                        f"(record one: pytest --compat-label {label}, or --label {label})")
    return compare(store.load(release[0].run_id), results, release[0].describe(), label)


def since_release(
    results: RunResults, store: str | Path | None, default: Path, label: str = RELEASE_LABEL
) -> SinceRelease | None:
    """``against_store`` for the store a run records into (``--compat-store``: a URL, a path,
    None for ``default``); None for a shard or ``--compat-store none``. A store that is missing
    or cannot be read is a note, never an error: the run's verdicts matter more."""
    if results.meta.get("shard") or (store is not None and str(store).lower() == "none"):
        return None
    where = store or default
    try:
        with open_store(where, create=False) as opened:
            return against_store(results, opened, label)
    except CompatError as exc:
        # the error's lead says enough ("no results store at PATH"); its advice is for the CLI
        lead = (str(exc).splitlines() or [type(exc).__name__])[0].split(": ", 1)[0]
        return SinceRelease(label, note=f"no {label} run to compare with ({lead})")


def stamp(results: RunResults, since: SinceRelease | None) -> RunResults:
    """``results`` with ``meta.since_release`` set (unchanged for None)."""
    if since is None:
        return results
    return dataclasses.replace(results, meta={**results.meta, META_KEY: since.to_dict()})


def from_meta(meta: Mapping[str, Any]) -> SinceRelease | None:
    raw = meta.get(META_KEY)
    return SinceRelease.from_dict(raw) if isinstance(raw, Mapping) else None


def flipped_cells(since: SinceRelease | None) -> Sequence[CellFlips]:
    return since.cells() if since is not None else ()
