"""The host side of the driver control protocol: call an operation, get a result or a typed error."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from compat.errors import DriverCallError, DriverError, HarnessError, OperationUnsupported

PROTOCOL_VERSION = 1


def answered_by_driver(excinfo: Any) -> bool:
    """Whether a failure is the driver's answer (``DriverCallError``: the client library raised;
    ``OperationUnsupported``: the version cannot do it), for ``__tracebackhide__``: pytest then
    leaves this module's frames (and those of ``compat.run.scenario``) out of the failure's
    traceback, which ends at the scenario's own line, followed by the answer. Any other
    exception (a harness bug) keeps every frame. Each frame pytest prints costs a parse of its
    file (about 0.03 s): the matrix's ~800 declared incompatibilities print theirs every run."""
    return excinfo is not None and bool(excinfo.errisinstance((DriverCallError, OperationUnsupported)))


__tracebackhide__ = answered_by_driver  # module-wide: see answered_by_driver
# Slack on top of an operation's own timeout before the host gives up on the driver itself.
_CALL_SLACK_S = 15.0


class ControlChannel(Protocol):
    name: str

    def send_line(self, line: str) -> None: ...

    def read_line(self, timeout_s: float) -> str: ...

    def poll(self) -> int | None: ...

    def log_tail(self, lines: int = 20) -> str: ...


@dataclass
class DriverHandle:
    """One driver process; ``call`` is synchronous from the test's point of view."""

    channel: ControlChannel
    client_version: str = ""
    hello: dict[str, Any] = field(default_factory=dict)
    _next_id: int = 0
    _pending: dict[int, dict[str, Any]] = field(default_factory=dict)

    def handshake(self, timeout_s: float = 30.0) -> None:
        message = self._read_message(timeout_s, "hello")
        if message.get("event") == "fatal":
            raise DriverError(
                f"driver {self.channel.name} could not start: {message.get('error', {}).get('message')}\n"
                f"{self.channel.log_tail()}"
            )
        if message.get("compat_driver") != PROTOCOL_VERSION or message.get("event") != "hello":
            raise DriverError(f"driver {self.channel.name} spoke an unknown protocol: {message!r}")
        self.hello = message
        self.client_version = str(message.get("client_version", ""))

    def call(self, op: str, *, host_timeout_s: float | None = None, **args: Any) -> dict[str, Any]:
        """Run ``op`` in the driver. ``args`` go to the adapter as they are (``timeout_s``
        included, for operations that wait); the host waits for the answer that long plus a
        slack, or ``host_timeout_s`` when given."""
        self._next_id += 1
        request_id = self._next_id
        self.channel.send_line(json.dumps({"id": request_id, "op": op, "args": args}, default=str))
        wait_s = host_timeout_s if host_timeout_s is not None else float(args.get("timeout_s", 5.0)) + _CALL_SLACK_S
        answer = self._await_answer(request_id, op, wait_s)
        status = answer.get("status")
        if status == "ok":
            result = answer.get("result") or {}
            return dict(result)
        if status == "unsupported":
            raise OperationUnsupported(op, str(answer.get("capability", op)), str(answer.get("message", "")))
        if status == "error":
            raise DriverCallError(op, dict(answer.get("error") or {}))
        error = dict(answer.get("error") or {})
        raise DriverError(
            f"driver {self.channel.name} crashed in {op}: {error.get('type')}: {error.get('message')}\n"
            f"{error.get('traceback', '')}"
        )

    def batch(self, calls: list[tuple[str, dict[str, Any]]], *, host_timeout_s: float) -> list[dict[str, Any]]:
        """Run ``calls`` (``(op, args)`` pairs) one after the other in the driver, in one round
        trip; each one's raw answer (``status`` ok, unsupported, error or crash), in order. The
        host waits ``host_timeout_s`` for all of them."""
        self._next_id += 1
        request_id = self._next_id
        batch = [{"op": op, "args": args} for op, args in calls]
        self.channel.send_line(json.dumps({"id": request_id, "op": "batch", "args": {"calls": batch}}, default=str))
        answer = self._await_answer(request_id, "batch", host_timeout_s)
        if answer.get("status") != "ok":
            error = dict(answer.get("error") or {})
            raise DriverError(f"driver {self.channel.name} could not run a batch: {answer.get('status')}: "
                              f"{error.get('type')}: {error.get('message')}")
        answers = (answer.get("result") or {}).get("answers")
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise DriverError(f"driver {self.channel.name} answered a batch of {len(calls)} with {answers!r}")
        return [dict(each) for each in answers]

    def shutdown(self, timeout_s: float = 10.0) -> None:
        if self.channel.poll() is not None:
            return
        self._next_id += 1
        self.channel.send_line(json.dumps({"id": self._next_id, "op": "shutdown"}))
        self._await_answer(self._next_id, "shutdown", timeout_s)

    def _await_answer(self, request_id: int, op: str, timeout_s: float) -> dict[str, Any]:
        while request_id not in self._pending:
            message = self._read_message(timeout_s, op)
            answer_id = message.get("id")
            if isinstance(answer_id, int):
                self._pending[answer_id] = message
            elif message.get("status") == "crash":
                raise DriverError(f"driver {self.channel.name} rejected a request: {message.get('error')}")
        return self._pending.pop(request_id)

    def _read_message(self, timeout_s: float, waiting_for: str) -> dict[str, Any]:
        try:
            line = self.channel.read_line(timeout_s)
        except HarnessError as exc:
            code = self.channel.poll()
            state = f"exit code {code}" if code is not None else "still running"
            raise DriverError(
                f"driver {self.channel.name} gave no answer to {waiting_for} ({state}): {exc}\n"
                f"log tail:\n{self.channel.log_tail()}"
            ) from exc
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise DriverError(f"driver {self.channel.name} wrote a non-JSON control line: {line[:200]!r}") from exc
        if not isinstance(message, dict):
            raise DriverError(f"driver {self.channel.name} wrote a non-object control line: {line[:200]!r}")
        return message
