"""The one stop escalation every host uses: INT, then TERM, then KILL by default, each step logged.

A product may declare its own sequence in matrix.yaml (``stop: [TERM, KILL]``);
:func:`steps_for` turns those names into the steps ``escalate`` runs.

A host supplies only how to deliver a step's signals and how to wait for the exit (the
shape of tox 4's ``execute/local_sub_process`` ``interrupt()``); the steps, their log
lines and the error naming what survived live here, once::

    escalate(deliver=..., wait=..., note=..., target="process group 4242", grace_s=5.0,
             who="gateway (pid 4242) on host local", hint="log: .../gateway.log")

    stop: SIGINT to process group 4242; waiting up to 5.0s
    stop: still running 5.0s after SIGINT                       (WARNING)
    stop: SIGTERM to process group 4242; waiting up to 5.0s
    stop: exited with code -15 after SIGTERM

A process paused by a SIGSTOP fault would never act on INT or TERM, so those steps wake it
with SIGCONT right after (``StopStep.then``); KILL needs no waking.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from signal import Signals

from compat.errors import StopError

GONE_WAIT_S = 2.0  # how long to wait for the exit code once nobody is left to signal


def signal_name(sig: int) -> str:
    """``SIGTERM`` for 15; ``signal 99`` for a number this platform has no name for."""
    try:
        return Signals(sig).name
    except ValueError:
        return f"signal {sig}"


@dataclass(frozen=True)
class StopStep:
    """One step of the escalation: ``signal``, then ``then`` at once (SIGCONT to wake a paused process)."""

    signal: Signals
    then: tuple[Signals, ...] = ()

    @property
    def name(self) -> str:
        return signal_name(self.signal)

    @property
    def signals(self) -> tuple[Signals, ...]:
        return (self.signal, *self.then)


INTERRUPT = StopStep(signal.SIGINT, then=(signal.SIGCONT,))
TERMINATE = StopStep(signal.SIGTERM, then=(signal.SIGCONT,))
KILL = StopStep(signal.SIGKILL)
STOP_STEPS: tuple[StopStep, ...] = (INTERRUPT, TERMINATE, KILL)
DEFAULT_STOP_SIGNALS: tuple[str, ...] = ("INT", "TERM", "KILL")  # the names of STOP_STEPS


def signal_of(name: str) -> Signals | None:
    """``TERM``, ``SIGTERM`` or ``term`` → SIGTERM; None for a name this platform has no signal for.

    SIGSTOP and SIGCONT are not stop steps (a stopped process never exits), so they are None too.
    """
    text = name.strip().upper()
    text = text if text.startswith("SIG") else f"SIG{text}"
    found = Signals.__members__.get(text)
    if found is None or found in (signal.SIGSTOP, signal.SIGCONT):
        return None
    return found


def steps_for(names: tuple[str, ...] | list[str] | None) -> tuple[StopStep, ...]:
    """The escalation for signal names (``("TERM", "KILL")``); ``None`` or empty: ``STOP_STEPS``.

    Every step but SIGKILL also sends SIGCONT, so a process paused by a fault still acts on it.
    """
    if not names:
        return STOP_STEPS
    steps: list[StopStep] = []
    for name in names:
        sig = signal_of(name)
        if sig is None:
            raise ValueError(f"{name!r} is not a signal a stop sequence can send (e.g. INT, TERM, KILL)")
        steps.append(KILL if sig == signal.SIGKILL else StopStep(sig, then=(signal.SIGCONT,)))
    return tuple(steps)

Deliver = Callable[[StopStep], bool]  # send the step's signals; False when nobody is left to signal
Wait = Callable[[float], int | None]  # the exit code, or None while it still runs after the timeout
Note = Callable[[str, int], None]  # a harness event, into the process log and the compat.harness logger


def escalate(
    *,
    deliver: Deliver,
    wait: Wait,
    note: Note,
    target: str,
    grace_s: float,
    who: str,
    hint: str,
    steps: tuple[StopStep, ...] = STOP_STEPS,
) -> int | None:
    """Run ``steps`` ``grace_s`` apart until the process exits; its exit code.

    ``target`` names what is signalled in the log ("process group 4242"); ``who`` and
    ``hint`` frame the StopError raised when the process outlives every step. When
    ``deliver`` finds nobody left to signal, the exit code is whatever ``wait`` reports
    within ``GONE_WAIT_S`` (None if even that is unknown).
    """
    for step in steps:
        note(f"stop: {step.name} to {target}; waiting up to {grace_s:.1f}s", logging.INFO)
        if not deliver(step):
            return wait(GONE_WAIT_S)
        code = wait(grace_s)
        if code is not None:
            note(f"stop: exited with code {code} after {step.name}", logging.INFO)
            return code
        note(f"stop: still running {grace_s:.1f}s after {step.name}", logging.WARNING)
    names = [step.name for step in steps]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    raise StopError(f"{who} survived {listed} ({grace_s:.1f}s apart); {hint}")


__all__ = [
    "DEFAULT_STOP_SIGNALS",
    "GONE_WAIT_S",
    "INTERRUPT",
    "KILL",
    "STOP_STEPS",
    "TERMINATE",
    "StopStep",
    "escalate",
    "signal_name",
    "signal_of",
    "steps_for",
]
