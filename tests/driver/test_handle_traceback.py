"""A failure that is the driver's answer shows the scenario's frames, not the harness's: pytest
leaves out the frames of ``compat.driver.handle`` (and ``compat.run.scenario``) for a
``DriverCallError`` or ``OperationUnsupported``, and keeps them for anything else (a harness bug)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat.driver import handle as handle_module
from compat.driver.handle import DriverHandle
from compat.errors import DriverCallError, DriverError, OperationUnsupported

HANDLE_FILE = Path(handle_module.__file__).resolve()


class CannedChannel:
    """A control channel whose driver answers every request with ``answer`` (its id filled in)."""

    name = "canned"

    def __init__(self, answer: dict[str, object]) -> None:
        self.answer = answer
        self.sent: list[dict[str, object]] = []

    def send_line(self, line: str) -> None:
        self.sent.append(json.loads(line))

    def read_line(self, timeout_s: float) -> str:
        return json.dumps({**self.answer, "id": self.sent[-1]["id"]})

    def poll(self) -> int | None:
        return None

    def log_tail(self, lines: int = 20) -> str:
        return ""


def _shown_files(excinfo: pytest.ExceptionInfo[BaseException]) -> set[Path]:
    """The files of the frames pytest prints (its __tracebackhide__ filter applied)."""
    return {Path(str(entry.path)).resolve() for entry in excinfo.traceback.filter(excinfo)}


@pytest.mark.parametrize(("answer", "raised"), [
    ({"status": "error", "error": {"type": "LogonRejected", "message": "unsupported protocol version"}},
     DriverCallError),
    ({"status": "unsupported", "capability": "order.amend", "message": "no amend"}, OperationUnsupported),
])
def test_a_drivers_answer_hides_the_handles_frames(answer: dict[str, object], raised: type[Exception]) -> None:
    driver = DriverHandle(channel=CannedChannel(answer))
    with pytest.raises(raised) as excinfo:
        driver.call("connect", session="s1")
    shown = _shown_files(excinfo)
    assert HANDLE_FILE not in shown, shown
    assert Path(__file__).resolve() in shown, "the caller's own frame must stay"


def test_a_driver_crash_keeps_every_frame() -> None:
    driver = DriverHandle(channel=CannedChannel({"status": "crash", "error": {"type": "TypeError"}}))
    with pytest.raises(DriverError) as excinfo:
        driver.call("connect", session="s1")
    assert HANDLE_FILE in _shown_files(excinfo), "a harness failure keeps the frames that raised it"
