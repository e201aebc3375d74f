"""The terminal of a real matrix run (issue 16): it names every break when something is broken,
and ends with what changed and the gate decision. A mutant of the reference gateway (the
``price-scale`` mutation of tests/matrix/mutations: prices sent at ten times their value) runs
as the candidate against released client 3.0.0 on one venue, in a few scenarios, the way a user
runs the matrix (a pytest subprocess, output through a pipe). That the whole reference matrix
fits one screen when nothing is broken is measured on a run of it (CHANGELOG.md); the size of
its compat section is held by tests/report/test_front_page.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "mutations"))

from mutate import build, load_catalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCREEN_ROWS, SCREEN_COLUMNS = 50, 120  # "one screen": a terminal of 50 rows of 120 columns
RUN_TIMEOUT_S = 600


def _pytest(*args: str) -> tuple[list[str], dict[str, str]]:
    """(a pytest command line with only pytest, xdist and compat loaded, its environment): any other
    pytest plugin that happens to be installed on the machine adds its own header line
    (pytest-benchmark prints its defaults), which is not compat's to budget."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": str(SCREEN_COLUMNS),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("COMPAT_RUN_ID", None)
    return [sys.executable, "-m", "pytest", "-p", "xdist", "-p", "compat", *args], env


def _rows(lines: list[str], columns: int = SCREEN_COLUMNS) -> int:
    """Screen rows the lines take on a terminal ``columns`` wide (long lines wrap)."""
    return sum(max(1, -(-len(line) // columns)) for line in lines)


def test_the_terminal_names_every_break_of_a_mutant_and_ends_with_the_gate(tmp_path: Path) -> None:
    mutation = load_catalog().mutations["price-scale"]
    wheel = build(mutation, mutation.product, tmp_path / "src", tmp_path / "wheels")
    released_client = ROOT / "wheelhouse" / "refclient-3.0.0-py3-none-any.whl"
    report = tmp_path / "matrix.json"
    command, env = _pytest("tests/compat", "-m", "compat",
                           "--compat-cache-dir", str(tmp_path / "cache"),
                           "--compat-store", str(tmp_path / "results.db"),
                           "--compat-report-json", str(report),
                           # the candidate client is a released wheel (nothing to build); its cells are not selected
                           "--compat-candidate", f"gateway={wheel}", "--compat-candidate", f"client={released_client}",
                           "--compat-cells", "client-3.0.0--gateway-*+mutant.*--venue-tlx",
                           "-k", "test_price_exact_fill[ or test_insert_ack[ or test_logon[")
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    out = run.stdout.splitlines()
    assert report.exists(), f"no report (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    document = json.loads(report.read_text())
    breaks = [(c, s) for c in document["cells"] for s in c["scenarios"] if s["verdict"] == "fail"]
    assert len(breaks) >= 4, [(c["cell_id"], s["scenario"], s["verdict"]) for c in document["cells"]
                              for s in c["scenarios"]]  # price_exact_fill × 4 parameters, predicted by the catalog
    start = next(i for i, line in enumerate(out) if re.match(r"^=+ compat matrix =+$", line))
    section = out[start + 1:next(i for i in range(start + 1, len(out)) if out[i].startswith("====="))]
    listed = [line for line in section if line.startswith("  ✗ ")]
    for cell, scenario in breaks:  # every break: its scenario, with its gateway, client and venue
        assert any(scenario["scenario"] in line and f"gateway {cell['gateway_version']}" in line
                   and cell["client_version"] in line and cell["venue"] in line for line in listed), \
            (cell["cell_id"], scenario["scenario"], listed)
    assert section[-1].startswith(f"release gate: BLOCKED by {len(breaks)} inside the support window: "
                                  f"{len(breaks)} breaks; stale expectations block"), section[-1]
    assert section[-2].startswith("since the last release run: no release run to compare with"), section[-2]
    # what runs before pytest's failure listing (-rfE): no dot per scenario, the progress line
    # (whole lines, through a pipe) instead; with the compat section it fits one screen
    head = out[:next(i for i, line in enumerate(out) if re.match(r"^=+ (FAILURES|short test summary)", line))]
    assert not [line for line in head if re.fullmatch(r"[.FxnsE]+\s*(\[\s*\d+%\])?", line.strip())], head
    assert any(line.startswith("compat: 1/1 cells · ") for line in head), head
    assert _rows(head + section) <= SCREEN_ROWS, "\n".join(head + section)
    print("\n".join([*head, "…", *section]))


def _pytest_lines(run: subprocess.CompletedProcess[str]) -> tuple[list[str], list[str]]:
    """(every line of the output but the warnings that only a slice of the matrix gives, the
    compat section's lines without its title rule). A slice leaves most of matrix.yaml's
    expectations unmatched, and pytest lists each UnmatchedExpectationWarning; the whole matrix
    matches every one (tests/config holds that), so they are left out here, and only they."""
    out = run.stdout.splitlines()
    head = next((i for i, line in enumerate(out) if re.match(r"^=+ warnings summary =+$", line)), None)
    if head is not None:
        end = next(i for i in range(head, len(out)) if out[i].startswith("-- Docs: "))
        told = [line for line in out[head + 1:end] if line.startswith("  ") and not line.startswith("    ")]
        assert told and all("UnmatchedExpectationWarning" in line for line in told), out[head:end]
        out = out[:head] + out[end + 1:]
    start = next(i for i, line in enumerate(out) if re.match(r"^=+ compat matrix =+$", line))
    end = next(i for i in range(start + 1, len(out)) if out[i].startswith("====="))
    return out, out[start + 1:end]


def test_a_clean_run_prints_no_more_around_the_compat_section_than_the_budget(tmp_path: Path) -> None:
    """The README's command (`pytest -m compat -n auto --compat-report-dir report`) on a clean slice of
    the reference matrix, through a pipe, fresh and then replayed from the verdict cache: what
    pytest and the progress print around the compat section fits ``AROUND_LINES`` (the progress
    counted as the ``LOG_UPDATES`` lines a full matrix prints), so with the section budget that
    a clean run of the reference matrix's shape holds (tests/report/test_terminal_budget.py) the
    whole output fits ``SCREEN_LINES`` (tests/support/terminal_budget.py)."""
    from terminal_budget import AROUND_LINES, HEADER_LINES, SCREEN_LINES, SECTION_LINES

    from compat.plugin.console import LOG_UPDATES

    # no test path given (as in the README): option values joined with `=`, or pytest takes a path for one
    command, env = _pytest("-m", "compat", "-n", "auto",
                           f"--compat-report-dir={tmp_path / 'report'}",
                           f"--compat-cache-dir={tmp_path / 'cache'}", f"--compat-store={tmp_path / 'results.db'}",
                           "--compat-no-candidate", "--compat-cells=client-3.0.0--gateway-3.0.0--venue-obx",
                           "-k", "test_insert_ack[ or test_logon[")
    for attempt in ("fresh", "replayed"):
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        assert run.returncode == 0, f"{attempt} (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
        out, section = _pytest_lines(run)
        progress = [line for line in out if re.match(r"^compat: \d+/\d+ cells · ", line)]
        assert progress and len(progress) <= LOG_UPDATES, (attempt, progress)
        first = out.index(progress[0])
        assert first <= HEADER_LINES, (attempt, out[:first])
        around = len(out) - len(section) + (LOG_UPDATES - len(progress))  # the progress of 72 cells
        assert around <= AROUND_LINES and around + SECTION_LINES <= SCREEN_LINES, (attempt, "\n".join(out))
        assert section[-1].startswith("release gate: clear"), (attempt, section)
        if attempt == "replayed":
            assert any(line.startswith("compat verdict cache: ") and " reused " in line for line in out), out
        print(f"{attempt}: {len(out)} lines, {len(section)} in the compat section\n" + "\n".join(out))
