"""A declared stop sequence (matrix.yaml ``stop: [TERM, KILL]``) on a real process: the steps
``Process.stop`` takes, in order, and the default when none is given."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from compat.harness.command import Command
from compat.harness.local import LocalHost
from compat.harness.ready import ReadyLine
from compat.harness.stopping import KILL, STOP_STEPS, signal_of, steps_for

HELPERS = Path(__file__).resolve().parent / "helpers"


def test_steps_for_names() -> None:
    assert steps_for(None) == STOP_STEPS and steps_for(()) == STOP_STEPS
    steps = steps_for(("TERM", "SIGKILL"))
    assert [s.signal for s in steps] == [signal.SIGTERM, signal.SIGKILL]
    assert steps[0].then == (signal.SIGCONT,) and steps[1] == KILL
    assert signal_of("hup") == signal.SIGHUP and signal_of("STOP") is None and signal_of("NOPE") is None
    with pytest.raises(ValueError, match="'NOPE' is not a signal"):
        steps_for(("NOPE",))


def test_a_process_ignoring_term_is_killed_by_a_kill_only_sequence(tmp_path: Path) -> None:
    command = Command(argv=(sys.executable, str(HELPERS / "ignores_term.py")), name="stubborn")
    process = LocalHost().start(command, ReadyLine(timeout_s=10.0), tmp_path)
    assert process.stop(grace_s=5.0, steps=steps_for(("KILL",))) == -signal.SIGKILL
    log = process.log_path.read_text()
    assert "stop: SIGKILL to process group" in log and "SIGINT" not in log and "SIGTERM" not in log
