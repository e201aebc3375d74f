"""The one stop escalation, on a fake process: which signals go out, what is logged, what is raised."""

from __future__ import annotations

import logging
import signal

import pytest

from compat.errors import StopError
from compat.harness.stopping import STOP_STEPS, StopStep, escalate, signal_name


class FakeProcess:
    """Exits with ``-sig`` on the first signal in ``dies_on``; ``gone`` makes every delivery fail."""

    def __init__(self, dies_on: tuple[int, ...] = (), gone: bool = False) -> None:
        self.dies_on = dies_on
        self.gone = gone
        self.sent: list[tuple[int, ...]] = []
        self.waits: list[float] = []
        self.notes: list[tuple[int, str]] = []
        self.code: int | None = None

    def deliver(self, step: StopStep) -> bool:
        if self.gone:
            return False
        self.sent.append(step.signals)
        if step.signal in self.dies_on and self.code is None:
            self.code = -step.signal
        return True

    def wait(self, timeout_s: float) -> int | None:
        self.waits.append(timeout_s)
        return self.code

    def note(self, message: str, level: int) -> None:
        self.notes.append((level, message))

    def stop(self, grace_s: float = 0.5) -> int | None:
        return escalate(deliver=self.deliver, wait=self.wait, note=self.note, target="process group 42",
                        grace_s=grace_s, who="stubborn (pid 42) on host local", hint="log: stubborn.log")


def test_a_process_that_honours_sigint_gets_one_step() -> None:
    process = FakeProcess(dies_on=(signal.SIGINT,))
    assert process.stop() == -signal.SIGINT
    assert process.sent == [(signal.SIGINT, signal.SIGCONT)]  # SIGCONT wakes a SIGSTOPped process
    assert process.notes == [
        (logging.INFO, "stop: SIGINT to process group 42; waiting up to 0.5s"),
        (logging.INFO, "stop: exited with code -2 after SIGINT"),
    ]


def test_each_step_is_logged_until_sigkill() -> None:
    process = FakeProcess(dies_on=(signal.SIGKILL,))
    assert process.stop(grace_s=0.3) == -signal.SIGKILL
    assert process.sent == [(signal.SIGINT, signal.SIGCONT), (signal.SIGTERM, signal.SIGCONT), (signal.SIGKILL,)]
    assert process.waits == [0.3, 0.3, 0.3]
    assert [message for _, message in process.notes] == [
        "stop: SIGINT to process group 42; waiting up to 0.3s",
        "stop: still running 0.3s after SIGINT",
        "stop: SIGTERM to process group 42; waiting up to 0.3s",
        "stop: still running 0.3s after SIGTERM",
        "stop: SIGKILL to process group 42; waiting up to 0.3s",
        "stop: exited with code -9 after SIGKILL",
    ]
    assert [level for level, message in process.notes if "still running" in message] == [logging.WARNING] * 2


def test_a_survivor_of_every_step_raises_naming_it() -> None:
    process = FakeProcess()
    with pytest.raises(StopError) as raised:
        process.stop(grace_s=0.1)
    assert str(raised.value) == (
        "stubborn (pid 42) on host local survived SIGINT, SIGTERM and SIGKILL (0.1s apart); log: stubborn.log"
    )
    assert len(process.sent) == len(STOP_STEPS)


def test_nobody_left_to_signal_ends_with_a_short_wait() -> None:
    process = FakeProcess(gone=True)
    process.code = 3
    assert process.stop(grace_s=5.0) == 3
    assert process.waits == [2.0]
    assert [message for _, message in process.notes] == ["stop: SIGINT to process group 42; waiting up to 5.0s"]


def test_signal_names() -> None:
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(999) == "signal 999"
