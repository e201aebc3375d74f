"""compat's client driver: a stdlib-only program that runs inside one client version's venv.

Run as ``<client-venv>/bin/python driver.py --adapter PATH --package NAME``. It imports only
the standard library, the client library (through the adapter) and, for load plans, its
sibling stdlib modules. It speaks control protocol version 1 (docs/contracts.md): one JSON
object per line on the *original* stdout. Before anything else runs, fd 1 is duplicated for
the channel and then pointed at fd 2, so whatever the client library prints goes to the log
and can never corrupt the channel.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import traceback
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TextIO

PROTOCOL_VERSION = 1


class Unsupported(Exception):
    """Raised by an adapter for an operation the installed client version cannot do."""

    def __init__(self, capability: str, message: str = "") -> None:
        super().__init__(message or f"client lacks capability {capability}")
        self.capability = capability


def _take_control_channel() -> TextIO:
    """Keep the real stdout for the channel; everything else printing to fd 1 goes to stderr."""
    sys.stdout.flush()
    channel_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    return os.fdopen(channel_fd, "w", buffering=1, encoding="utf-8")


def _load_adapter(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("compat_adapter", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"driver: cannot load adapter from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_adapter"] = module
    spec.loader.exec_module(module)
    return module


def _client_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Driver:
    def __init__(self, channel: TextIO, adapter: Any) -> None:
        self._channel = channel
        self._adapter = adapter
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    def send(self, message: dict[str, Any]) -> None:
        self._channel.write(json.dumps(message, separators=(",", ":"), default=str) + "\n")
        self._channel.flush()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while not self._stopping.is_set():
            line = await reader.readline()
            if not line:
                break  # the host closed our stdin: it is gone, so are we
            try:
                request = json.loads(line)
                request_id = request["id"]
                op = str(request["op"])
                args = dict(request.get("args") or {})
            except (ValueError, KeyError, TypeError) as exc:
                self.send({"id": None, "status": "crash", "error": _error(exc, "bad request line")})
                continue
            if op == "shutdown":
                await self._shutdown()
                self.send({"id": request_id, "status": "ok", "result": {}})
                return
            answer = self._batch(args) if op == "batch" else self._run(op, args)
            task = asyncio.create_task(self._answer(request_id, answer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._shutdown()

    async def _answer(self, request_id: Any, answer: Coroutine[Any, Any, dict[str, Any]]) -> None:
        self.send({"id": request_id, **(await answer)})

    async def _batch(self, args: dict[str, Any]) -> dict[str, Any]:
        """``batch``: run ``args["calls"]`` (``[{"op": ..., "args": {...}}, ...]``) one after the
        other, each as if sent alone, and answer them together: ``{"answers": [answer, ...]}``
        (each without its id), so the host pays one round trip for a sequence (a scenario's
        release: ``disconnect`` then ``forget`` of every session)."""
        answers: list[dict[str, Any]] = []
        for call in args.get("calls") or ():
            try:
                op, call_args = str(call["op"]), dict(call.get("args") or {})
            except (KeyError, TypeError, ValueError) as exc:
                answers.append({"status": "crash", "error": _error(exc, "bad call in a batch")})
                continue
            if op in ("batch", "shutdown"):
                refused = {"type": "ValueError", "message": f"{op} cannot be batched"}
                answers.append({"status": "crash", "error": refused})
                continue
            answers.append(await self._run(op, call_args))
        return {"status": "ok", "result": {"answers": answers}}

    async def _run(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """One operation of the adapter; its answer without the request's id."""
        method = getattr(self._adapter, "op_" + op, None)
        if method is None:
            return {"status": "unsupported", "capability": f"op.{op}",
                    "message": f"the adapter has no operation {op!r}"}
        try:
            result = await method(**args)
        except Unsupported as exc:
            return {"status": "unsupported", "capability": exc.capability, "message": str(exc)}
        except TypeError as exc:
            if _is_signature_error(exc):
                return {"status": "crash", "error": _error(exc, f"bad arguments to {op}")}
            return {"status": "error", "error": _error(exc)}
        except Exception as exc:  # a client-level error the scenario may assert on
            return {"status": "error", "error": _error(exc)}
        return {"status": "ok", "result": result if result is not None else {}}

    async def _shutdown(self) -> None:
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        close = getattr(self._adapter, "close", None)
        if close is not None:
            try:
                await asyncio.wait_for(close(), timeout=5.0)
            except Exception:
                traceback.print_exc()


def _is_signature_error(exc: TypeError) -> bool:
    tb = exc.__traceback__
    # A TypeError raised while binding arguments has no frame inside the adapter method.
    return tb is not None and tb.tb_next is None


def _plain(value: Any) -> Any:
    """An error attribute as JSON carries it. Some client libraries expose ``code`` as a method
    (``exc.code()``, as grpc does): call it. An enum gives its value. Anything else JSON cannot
    carry becomes a string that names its type, never a silent ``<bound method ...>``."""
    if callable(value) and not isinstance(value, type):
        try:
            value = value()
        except Exception as exc:  # the attribute is not a getter after all: say what it was
            return f"<{type(value).__name__} {getattr(value, '__qualname__', '?')} failed: {exc!r}>"
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return f"<{type(value).__name__}> {value!s}"


def _error(exc: BaseException, context: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": f"{context}: {exc}" if context else str(exc),
    }
    for attribute in ("code", "raw_code", "capability", "retry_after_ms", "supported"):
        value = _plain(getattr(exc, attribute, None))
        if value is not None:
            error[attribute] = value
    error["traceback"] = "".join(traceback.format_exception(exc))[-4000:]
    return error


async def _main_async(channel: TextIO, adapter_module: ModuleType, package: str) -> None:
    ctx: dict[str, Any] = {"Unsupported": Unsupported, "package": package,
                           "driver_dir": os.path.dirname(os.path.abspath(__file__))}
    adapter = adapter_module.Adapter(ctx)
    # What exists now (the interpreter, the client library, the adapter) lives as long as the
    # driver: keep it out of every later collection, so a full one (an adapter's ``forget``
    # collects the cycles of the session it drops: ~10 ms a time with all of it, ~1 ms without)
    # walks only what the scenarios created.
    gc.freeze()
    driver = Driver(channel, adapter)
    driver.send({
        "compat_driver": PROTOCOL_VERSION,
        "event": "hello",
        "client_version": _client_version(package),
        "python": platform.python_version(),
        "pid": os.getpid(),
    })
    await driver.serve()


def main() -> int:
    parser = argparse.ArgumentParser(description="compat client driver (control protocol v1)")
    parser.add_argument("--adapter", required=True, help="path of the product's compat_adapter.py")
    parser.add_argument("--package", required=True, help="distribution name of the client library")
    args = parser.parse_args()
    channel = _take_control_channel()
    try:
        adapter_module = _load_adapter(args.adapter)
    except Exception as exc:
        channel.write(json.dumps({"compat_driver": PROTOCOL_VERSION, "event": "fatal",
                                  "error": _error(exc, f"loading adapter {args.adapter}")}) + "\n")
        channel.flush()
        traceback.print_exc()
        return 3
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main_async(channel, adapter_module, args.package))
    else:  # the client venv may carry uvloop; it measurably lowers latency under load
        uvloop.run(_main_async(channel, adapter_module, args.package))
    return 0


if __name__ == "__main__":
    sys.exit(main())
