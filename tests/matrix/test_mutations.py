"""The mutation test (issue 5, verdict accuracy): does the matrix turn EXACTLY the right cells red?

For each mutation in ``mutations/catalog.yaml`` a gateway (or client) wheel is built from a copy of HEAD
with one protocol change (``mutations/mutate.py``), and the real matrix is run on it in a
subprocess the way ``test_reference_matrix.run_matrix`` does. An unmutated baseline wheel,
built the same way, is run over the union of the scenarios once. Per (gateway column, client,
scenario), the pairs that are pass/n/a/expected-fail in the baseline and red in the mutant must
equal the catalog's prediction: no more (a false alarm) and no fewer (a missed break).
Predictions were written from the docs and the sources, before the mutants were ever run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from compat import timing
from compat.results.capabilities import capability_losses
from compat.results.gate import evaluate
from compat.results.jsonfile import load_json

sys.path.insert(0, str(Path(__file__).resolve().parent / "mutations"))

from mutate import (
    CANDIDATE,
    HEAD,
    Catalog,
    Edit,
    Key,
    Mutation,
    MutationError,
    apply_edit,
    build,
    export_head,
    load_catalog,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXPLAINED = {"pass", "n/a", "expected-fail"}
MATRIX_TIMEOUT_S = 600


# --- running the matrix -----------------------------------------------------------------------


def run_matrix(cache: Path, report: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """As test_reference_matrix.run_matrix: the README's command, in a subprocess."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("COMPAT_RUN_ID", None)
    command = [sys.executable, "-m", "pytest", "tests/compat", "-m", "compat", "-p", "no:randomly", "-q",
               "--compat-cache-dir", str(cache), "--compat-report-json", str(report), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=MATRIX_TIMEOUT_S)


def selection(catalog: Catalog, candidate: Iterable[str], neighbour: Iterable[str],
              clients: Iterable[str] | None = None, head: str = "*+candidate") -> list[str]:
    """``--compat-cells`` and ``-k`` for these scenarios in the candidate's (and neighbour's) cells.

    Every candidate gateway here is a ``+mutant.<name>`` build, so ``mutant`` names its
    column; ``test_<scenario>[`` matches that test and its parameters, nothing longer.
    ``head`` is the glob of the head client's label (``*+mutant.*`` when it is the mutant).
    """
    def client_glob(client: str) -> str:
        return head if client == HEAD else client

    def any_of(scenarios: Iterable[str]) -> str:
        return " or ".join(f"test_{s}[" for s in sorted(set(scenarios)))

    neighbour = sorted(set(neighbour))
    args: list[str] = []
    for client in clients if clients is not None else catalog.clients:
        args += ["--compat-cells", f"client-{client_glob(client)}--gateway-*+mutant.*--venue-{catalog.venue}"]
        if neighbour:
            cell = f"client-{client_glob(client)}--gateway-{catalog.neighbour}--venue-{catalog.venue}"
            args += ["--compat-cells", cell]
    # "mutant" is in the candidate gateway's label (and a client mutant's): with the cells
    # restricted above, it selects exactly the candidate's cells.
    keyword = f"(mutant and ({any_of(candidate)}))"
    if neighbour:
        keyword += f" or (gateway-{catalog.neighbour} and ({any_of(neighbour)}))"
    return [*args, "-k", keyword]


def candidates(mutation: Mutation, wheel: Path, baseline_gateway: Path, head_client: Path) -> list[str]:
    """A gateway mutant against the head client; a client mutant against the baseline gateway."""
    gateway, client = (wheel, head_client) if mutation.role == "gateway" else (baseline_gateway, wheel)
    return ["--compat-candidate", f"gateway={gateway}", "--compat-candidate", f"client={client}"]


# A swap scenario's parameter names its target: the candidate's label differs per mutant.
_SWAP_TO_CANDIDATE = re.compile(r"\[to-[^\]]*\+mutant\.[^\]]*\]")


def verdicts(report: Path, run: subprocess.CompletedProcess[str]) -> dict[Key, str]:
    """(gateway column, client, scenario) -> verdict; the mutant's column is ``candidate``, and a
    swap to it is ``[to-candidate]``."""
    if not report.exists():
        raise AssertionError(f"the matrix run wrote no report (exit {run.returncode}):\n"
                             f"{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(report.read_text())
    out: dict[Key, str] = {}
    for cell in data["cells"]:
        gateway = CANDIDATE if "+mutant." in cell["gateway_version"] else cell["gateway_version"]
        client = HEAD if cell["client_version"].endswith("candidate") else cell["client_version"]
        for scenario in cell["scenarios"]:
            out[(gateway, client, _SWAP_TO_CANDIDATE.sub("[to-candidate]", scenario["scenario"]))] = scenario["verdict"]
    return out


def capability_problems(mutation: Mutation, report: Path) -> list[str]:
    """The capabilities the run reports lost must be exactly the predicted ones, and the release
    gate must block on them (compat.results.capabilities, compat.results.gate)."""
    results = load_json(report)
    found = {(loss.role, loss.capability) for loss in capability_losses(results) if loss.declared is None}
    problems = []
    if found != set(mutation.capability_lost):
        problems.append(f"capability lost: predicted {sorted(mutation.capability_lost)}, the run reports "
                        f"{sorted(found)}")
    decision = evaluate(results)  # every pair gated: the blockers are the mutant's, not the window's
    if mutation.capability_lost and not decision.lost_capabilities:
        problems.append("the release gate does not block on the lost capability: " + decision.lines()[-1])
    return problems


# --- judging one mutant -----------------------------------------------------------------------


def judge(mutation: Mutation, baseline: dict[Key, str], mutant: dict[Key, str]) -> list[str]:
    """Everything wrong with the mutant's verdicts against the prediction; empty = exact."""
    problems: list[str] = []
    not_in_baseline = sorted(set(mutant) - set(baseline))
    if not_in_baseline:
        problems.append(f"ran pairs the baseline did not: {not_in_baseline}")
    predicted = mutation.predicted_keys()
    unselected = sorted(predicted - set(mutant))
    if unselected:
        problems.append(f"predicted pairs the run did not produce (catalog/selection mismatch): {unselected}")
    # A predicted pair shows the mutation if it passes in the baseline, or if it is a declared
    # incompatibility (expected-fail) whose rule says how it fails: the mutant must then fail it
    # differently, which is a break ("fails differently than declared").
    masked = {k for k in predicted if baseline.get(k) not in ("pass", "expected-fail")}
    unexpected_mask = sorted(masked - mutation.maskable_keys())
    if unexpected_mask:
        problems.append("predicted pairs not passing in the baseline (the mutation cannot show there): "
                        + ", ".join(f"{k} baseline={baseline.get(k)}" for k in unexpected_mask))
    newly_red = {k for k, v in mutant.items() if v not in EXPLAINED and baseline.get(k) in EXPLAINED}
    expected = predicted - masked
    missed = sorted(expected - newly_red)
    false_alarms = sorted(newly_red - predicted)
    if missed:
        problems.append("MISSED (predicted red, not red): "
                        + ", ".join(f"{k} mutant={mutant.get(k)}" for k in missed))
    if false_alarms:
        problems.append("FALSE ALARM (red, not predicted): "
                        + ", ".join(f"{k} mutant={mutant[k]}" for k in false_alarms))
    not_breaks = sorted(k for k in newly_red & expected if mutant[k] != "fail")
    if not_breaks:
        problems.append("red but not as a break (a compatibility break must be 'fail', not infrastructure): "
                        + ", ".join(f"{k} mutant={mutant[k]}" for k in not_breaks))
    return problems


def summary(name: str, baseline: dict[Key, str], mutant: dict[Key, str], seconds: float) -> str:
    red = sorted(k for k, v in mutant.items() if v not in EXPLAINED and baseline.get(k) in EXPLAINED)
    changed = sorted(k for k, v in mutant.items() if v != baseline.get(k) and k not in red)
    return (f"{name}: {len(mutant)} pairs in {seconds:.0f}s, {len(red)} newly red: {red}; "
            f"other verdict changes: {[(k, baseline.get(k), mutant[k]) for k in changed]}")


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


# --- the tests --------------------------------------------------------------------------------


def test_every_mutation_applies_to_head(tmp_path: Path) -> None:
    """Fast guard: each anchor occurs exactly once at HEAD and its edit changes the file."""
    catalog = load_catalog()
    assert len(catalog.mutations) >= 3
    for mutation in catalog.mutations.values():
        tree = export_head(mutation.product, tmp_path / mutation.name)
        for edit in mutation.edits:
            before = (tree / edit.path).read_text(encoding="utf-8")
            apply_edit(tree, edit, mutation.name)
            assert (tree / edit.path).read_text(encoding="utf-8") != before, (mutation.name, edit.path)
        assert mutation.predicted or mutation.capability_lost, \
            f"{mutation.name} predicts nothing: it would prove nothing"
        selected = set(mutation.scenarios) | set(mutation.neighbour_scenarios)
        assert {p.scenario.split("[")[0] for p in mutation.predicted} <= selected, mutation.name


def test_a_vanished_anchor_fails_loudly(tmp_path: Path) -> None:
    tree = export_head("gateways/refgw", tmp_path)
    with pytest.raises(MutationError, match="occurs 0 times"):
        apply_edit(tree, Edit("src/refgw/core.py", "this line was refactored away\n", ""), "probe")


@pytest.mark.slow
def test_mutants_turn_exactly_the_predicted_cells_red(tmp_path: Path) -> None:
    catalog = load_catalog()
    mutations = list(catalog.mutations.values())
    before = _descendants()
    started = _now()
    wheels_dir = tmp_path / "wheels"
    # uv build runs are mostly waiting on the build backend's subprocesses: build them side by side.
    with ThreadPoolExecutor(max_workers=3) as pool:
        client = pool.submit(build, None, "clients/refclient", tmp_path / "src-client", wheels_dir, retag=False)
        baseline_wheel = pool.submit(build, None, "gateways/refgw", tmp_path / "src-baseline", wheels_dir)
        mutant_wheels = {m.name: pool.submit(build, m, m.product, tmp_path / f"src-{m.name}", wheels_dir)
                         for m in mutations}
        client_wheel = client.result()
        built = {name: future.result() for name, future in mutant_wheels.items()}
        baseline_path = baseline_wheel.result()
    timings = {"build": _now() - started}
    cache = tmp_path / "cache"
    common = ["-n", "2"]

    started = _now()
    union = selection(catalog, (s for m in mutations for s in m.scenarios),
                      (s for m in mutations for s in m.neighbour_scenarios))
    base_run = run_matrix(cache, tmp_path / "baseline.json", *common, "--compat-candidate", f"gateway={baseline_path}",
                          "--compat-candidate", f"client={client_wheel}", *union)
    baseline = verdicts(tmp_path / "baseline.json", base_run)
    timings["baseline"] = _now() - started
    assert baseline, f"the baseline ran nothing:\n{base_run.stdout[-3000:]}"

    problems: dict[str, list[str]] = {}
    lines = [f"baseline: {len(baseline)} pairs, not green: "
             f"{sorted((k, v) for k, v in baseline.items() if v not in EXPLAINED)}"]
    for mutation in mutations:
        started = _now()
        report = tmp_path / f"{mutation.name}.json"
        head = "*+mutant.*" if mutation.role == "client" else "*+candidate"
        run = run_matrix(cache, report, *common,
                         *candidates(mutation, built[mutation.name], baseline_path, client_wheel),
                         *selection(catalog, mutation.scenarios, mutation.neighbour_scenarios,
                                    mutation.clients, head))
        mutant = verdicts(report, run)
        timings[mutation.name] = _now() - started
        lines.append(summary(mutation.name, baseline, mutant, timings[mutation.name]))
        found = judge(mutation, baseline, mutant) + capability_problems(mutation, report)
        if found:
            problems[mutation.name] = found
    lines.append("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print("\n".join(lines))
    assert not problems, "\n".join(f"{name}:\n  " + "\n  ".join(p) for name, p in problems.items()) \
        + "\n\n" + "\n".join(lines)
    assert _descendants() <= before, "processes of the matrix runs survived them"


def _now() -> float:
    return timing.monotonic()
