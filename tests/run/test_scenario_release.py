"""``Scenario.release``: every session a test opened is disconnected, then forgotten by its driver,
in one round trip per driver (a ``batch``).

A cell's driver lives as long as the cell: a session it kept after its test would keep the
client's state (unread events, wire ring, orders) for the rest of the cell. The drivers here are
real driver processes (``compat/driver/driver.py``) with a small adapter that records what it was
asked; an adapter without ``forget`` answers unsupported, which must not stop the release of the
other sessions, and a driver that is gone must not make release raise.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from compat.driver import DRIVER_SCRIPT
from compat.driver.handle import DriverHandle
from compat.harness.command import Command
from compat.harness.local import LocalHost, LocalProcess
from compat.run.scenario import Scenario, Session
from compat.run.stack import Stack

# disconnect takes a while (a loop turn with a timer): were the batch's calls run side by side
# instead of one after the other, forget would overtake it and the record would show it.
_ADAPTER = '''
import asyncio

class Adapter:
    def __init__(self, ctx):
        self.calls = []

    async def op_disconnect(self, session="s1"):
        self.calls.append(["disconnect-begin", session])
        await asyncio.sleep(0.01)
        self.calls.append(["disconnect-end", session])
        return {}

    async def op_recorded(self):
        return {"calls": self.calls}
'''
_FORGET = '''
    async def op_forget(self, session="s1"):
        self.calls.append(["forget", session])
        return {}
'''


class _CountingChannel:
    """The driver process's channel, counting the lines the host sends (one per round trip)."""

    def __init__(self, process: LocalProcess) -> None:
        self.process = process
        self.name = process.name
        self.sent = 0

    def send_line(self, line: str) -> None:
        self.sent += 1
        self.process.send_line(line)

    def read_line(self, timeout_s: float) -> str:
        return self.process.read_line(timeout_s)

    def poll(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 20) -> str:
        return self.process.log_tail(lines)


StartDriver = Callable[[str, bool], tuple[DriverHandle, _CountingChannel]]


@pytest.fixture
def start_driver(tmp_path: Path) -> Iterator[StartDriver]:
    started: list[LocalProcess] = []

    def start(name: str, forget: bool) -> tuple[DriverHandle, _CountingChannel]:
        adapter = tmp_path / f"{name}_adapter.py"
        adapter.write_text(textwrap.dedent(_ADAPTER) + (_FORGET if forget else ""))
        command = Command(argv=(sys.executable, str(DRIVER_SCRIPT), "--adapter", str(adapter), "--package", "pytest"),
                          name=name, control=True)
        process = LocalHost().start(command, None, tmp_path / "logs")
        started.append(process)
        channel = _CountingChannel(process)
        handle = DriverHandle(channel=channel)
        handle.handshake(20.0)
        return handle, channel

    yield start
    for process in started:
        process.stop(grace_s=5.0)


def _release(sessions: list[tuple[DriverHandle, str]]) -> None:
    stack = cast(Stack, object())
    scenario = Scenario(stack, symbols=lambda pool: pool)
    for handle, name in sessions:
        scenario._sessions.append(Session(handle=handle, name=name, username="u", stack=stack))
    scenario.release()
    assert scenario._sessions == []


def _recorded(handle: DriverHandle) -> list[tuple[str, str]]:
    return [(op, session) for op, session in handle.call("recorded")["calls"]]


def test_each_session_is_disconnected_then_forgotten_in_one_round_trip_per_driver(start_driver: StartDriver) -> None:
    c1, channel1 = start_driver("c1", True)
    c2, channel2 = start_driver("c2", True)
    _release([(c1, "t1-a"), (c2, "t1-c"), (c1, "t1-b")])
    assert (channel1.sent, channel2.sent) == (1, 1)
    assert _recorded(c1) == [("disconnect-begin", "t1-a"), ("disconnect-end", "t1-a"), ("forget", "t1-a"),
                             ("disconnect-begin", "t1-b"), ("disconnect-end", "t1-b"), ("forget", "t1-b")]
    assert _recorded(c2) == [("disconnect-begin", "t1-c"), ("disconnect-end", "t1-c"), ("forget", "t1-c")]


def test_an_adapter_without_forget_still_has_every_session_disconnected(start_driver: StartDriver) -> None:
    c1, channel = start_driver("c1", False)
    _release([(c1, "t2-a"), (c1, "t2-b")])
    assert channel.sent == 1
    assert _recorded(c1) == [("disconnect-begin", "t2-a"), ("disconnect-end", "t2-a"),
                             ("disconnect-begin", "t2-b"), ("disconnect-end", "t2-b")]


def test_a_batch_answers_each_call_as_if_sent_alone(start_driver: StartDriver) -> None:
    c1, _ = start_driver("c1", False)
    answers = c1.batch([("disconnect", {"session": "s"}), ("forget", {"session": "s"}),
                        ("disconnect", {"bogus": 1}), ("shutdown", {})], host_timeout_s=20.0)
    assert [a["status"] for a in answers] == ["ok", "unsupported", "crash", "crash"]
    assert answers[1]["capability"] == "op.forget"
    assert c1.channel.poll() is None  # a shutdown inside a batch is refused, not obeyed


def test_a_driver_that_is_gone_does_not_make_release_raise(start_driver: StartDriver) -> None:
    c1, channel = start_driver("c1", True)
    c1.shutdown(timeout_s=10.0)
    assert channel.process.wait(10.0) is not None
    _release([(c1, "t3-a")])
