"""Assembling per-phase verdict payloads (from every xdist worker) into ``RunResults``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from compat.results.cache_key import CACHED
from compat.results.evidence import EXPLAINING
from compat.results.identity import with_matrix_meta
from compat.results.model import CellResult, EnvRecord, RunResults, ScenarioResult, Verdict, WireFrame, worst
from compat.results.verdicts import DETAILS, PROPERTY

ENVS = "compat_envs"  # user_properties key: the envs a cell used (JSON list of EnvRecord dicts)


@dataclass
class _Entry:
    payloads: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    cached_from: dict[str, Any] | None = None


@dataclass
class ResultsCollector:
    started_at: str
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _envs: dict[tuple[str, str, str], EnvRecord] = field(default_factory=dict)

    def add(self, nodeid: str, when: str, duration: float, properties: Sequence[tuple[str, object]]) -> None:
        payload: dict[str, Any] | None = None
        for key, value in properties:
            if key == PROPERTY:
                payload = json.loads(str(value))  # the last one is this phase's
            elif key == DETAILS:
                self._entry(nodeid).details.update(json.loads(str(value)))
            elif key == CACHED:
                self._entry(nodeid).cached_from = json.loads(str(value))
            elif key == ENVS:
                for record in json.loads(str(value)):
                    env = EnvRecord(**record)
                    self._envs.setdefault((env.product, env.version, env.wheel_sha256), env)
        if payload is not None and payload.get("phase") == when:
            self._entry(nodeid).payloads.append(payload)
        if nodeid in self._entries:  # only compat tests have entries
            self._entries[nodeid].duration_s += duration

    def has_results(self) -> bool:
        return any(e.payloads for e in self._entries.values())

    def results(self, finished_at: str, matrix_path: str) -> RunResults:
        """The run so far, stamped with its matrix's identity (``meta.matrix``,
        ``compat.results.identity``): the store keeps the runs of each matrix apart."""
        cells: dict[str, dict[str, Any]] = {}
        for nodeid, entry in sorted(self._entries.items()):
            if not entry.payloads:
                continue
            first = entry.payloads[0]
            verdict, decisive, attempts = _final_verdict(entry.payloads)
            cell = cells.setdefault(first["cell_id"], {
                "client_version": first["client_version"], "gateway_version": first["gateway_version"],
                "venue": first["venue"], "scenarios": [], "hosts": {}, "bench": None, "resources": None,
            })
            details = entry.details
            cell["hosts"].update(details.get("hosts", {}))
            if details.get("bench"):
                cell["bench"] = details["bench"]
            resources = details.get("resources")
            # Every scenario carries the cell sampler's figures so far: the longest window is the latest.
            if resources and (cell["resources"] is None
                              or resources.get("duration_s", 0) >= cell["resources"].get("duration_s", 0)):
                cell["resources"] = resources
            cell["scenarios"].append(ScenarioResult(
                cell_id=first["cell_id"],
                scenario=first["scenario"],
                verdict=verdict,
                duration_s=round(entry.duration_s, 6),
                reason=decisive.get("reason"),
                message=decisive.get("message") if verdict not in (Verdict.PASS, Verdict.NA) else None,
                expectation=first.get("expectation"),
                # Evidence only where it can explain something (compat.results.evidence): a pass
                # keeps its wire as the possible baseline of a failure's wire diff, maybe one in
                # another shard; the reports then keep only the baselines actually used.
                log_tails=dict(details.get("log_tails", {})) if verdict in EXPLAINING else {},
                wire=tuple(WireFrame(**f) for f in details.get("wire", ()))
                if verdict in EXPLAINING or verdict is Verdict.PASS else (),
                attempts=attempts,
                metrics=dict(details.get("metrics", {})),
                nodeid=nodeid,
                cached_from=entry.cached_from,
                capability=decisive.get("capability") if verdict is Verdict.NA else None,
                swap=_swap_record(first, decisive),
            ))
        return with_matrix_meta(RunResults(
            cells=tuple(
                CellResult(cell_id=cell_id, client_version=c["client_version"], gateway_version=c["gateway_version"],
                           venue=c["venue"], scenarios=tuple(sorted(c["scenarios"], key=lambda s: s.scenario)),
                           hosts=c["hosts"], bench=c["bench"], resources=c["resources"])
                for cell_id, c in sorted(cells.items())
            ),
            envs=tuple(sorted(self._envs.values(), key=lambda e: (e.product, e.version))),
            started_at=self.started_at,
            finished_at=finished_at,
            matrix_path=matrix_path,
        ))

    def _entry(self, nodeid: str) -> _Entry:
        return self._entries.setdefault(nodeid, _Entry())


def _swap_record(first: dict[str, Any], decisive: dict[str, Any]) -> dict[str, str] | None:
    """A swap scenario's ends, and who the verdict is charged to when its target never started."""
    swap = first.get("swap")
    if not swap:
        return None
    record = dict(swap)
    if decisive.get("charged_to"):
        record["charged_to"] = str(decisive["charged_to"])
    return record


def _final_verdict(payloads: list[dict[str, Any]]) -> tuple[Verdict, dict[str, Any], int]:
    """(verdict, the payload that decided it, attempts). The last attempt decides; a pass after a
    failed or errored attempt is ``flaky``, never a silent pass (``--compat-reruns``)."""
    by_attempt: dict[int, list[dict[str, Any]]] = {}
    for payload in payloads:
        by_attempt.setdefault(int(payload.get("attempt", 1)), []).append(payload)
    last = max(by_attempt)
    verdict = worst([Verdict(p["verdict"]) for p in by_attempt[last]]) or Verdict.ERROR
    decisive = next(p for p in by_attempt[last] if p["verdict"] == verdict.value)
    earlier = [Verdict(p["verdict"]) for n, ps in by_attempt.items() if n != last for p in ps]
    if verdict is Verdict.PASS and any(v in (Verdict.FAIL, Verdict.ERROR) for v in earlier):
        failed = next(p for n, ps in sorted(by_attempt.items()) for p in ps
                      if p["verdict"] in (Verdict.FAIL.value, Verdict.ERROR.value))
        decisive = {**failed, "reason": f"passed on attempt {last} after: {failed.get('reason') or failed['verdict']}"}
        verdict = Verdict.FLAKY
    return verdict, decisive, len(by_attempt)
