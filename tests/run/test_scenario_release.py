"""``Scenario.release``: every session a test opened is disconnected, then forgotten by its driver.

A cell's driver lives as long as the cell: a session it kept after its test would keep the
client's state (unread events, wire ring, orders) for the rest of the cell. The driver is a
stand-in recording calls (this unit tests the scenario layer only); an adapter without
``forget`` answers unsupported, which must not stop the release of the other sessions.
"""

from __future__ import annotations

from typing import Any, cast

from compat.driver.handle import DriverHandle
from compat.errors import OperationUnsupported
from compat.run.scenario import Scenario, Session
from compat.run.stack import Stack


class _Driver:
    def __init__(self, supports_forget: bool) -> None:
        self.calls: list[tuple[str, str]] = []
        self.supports_forget = supports_forget

    def call(self, op: str, host_timeout_s: float = 0.0, **args: Any) -> dict[str, Any]:
        self.calls.append((op, args["session"]))
        if op == "forget" and not self.supports_forget:
            raise OperationUnsupported("driver", "forget", "this adapter has no op_forget")
        return {}


def _released(driver: _Driver, names: list[str]) -> list[tuple[str, str]]:
    stack = cast(Stack, object())
    scenario = Scenario(stack, symbols=lambda pool: pool)
    for name in names:
        scenario._sessions.append(Session(handle=cast(DriverHandle, driver), name=name, username="u", stack=stack))
    scenario.release()
    assert scenario._sessions == []
    return driver.calls


def test_each_session_is_disconnected_then_forgotten() -> None:
    calls = _released(_Driver(supports_forget=True), ["t1-a", "t1-b"])
    assert calls == [("disconnect", "t1-a"), ("forget", "t1-a"), ("disconnect", "t1-b"), ("forget", "t1-b")]


def test_an_adapter_without_forget_still_has_every_session_disconnected() -> None:
    calls = _released(_Driver(supports_forget=False), ["t2-a", "t2-b"])
    assert [op for op, _ in calls] == ["disconnect", "forget", "disconnect", "forget"]
