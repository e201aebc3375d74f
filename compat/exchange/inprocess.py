"""The exchange on a background thread with its own event loop, for tests and tools that
want real sockets without a subprocess. Everything exchange-side still runs on that one loop.

    with InProcessExchange(venue="both") as ex:
        ObxClient(*ex.addresses["obx"]) ...
    # stopped: sessions logged out, audit log flushed
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType

from compat.errors import HarnessError
from compat.exchange.client import parse_ready_line
from compat.exchange.hub import Hub
from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE
from compat.exchange.server import ExchangeOptions, serve


class InProcessExchange:
    def __init__(
        self,
        venue: str = "both",
        instruments: Path = DEFAULT_INSTRUMENTS_FILE,
        audit_log: Path | None = None,
        seed: int = 0,
        ready_timeout_s: float = 10.0,
    ) -> None:
        self.options = ExchangeOptions(venue=venue, instruments=instruments, audit_log=audit_log, seed=seed)
        self.ready_timeout_s = ready_timeout_s
        self.addresses: dict[str, tuple[str, int]] = {}
        self.hub: Hub | None = None
        self.exit_code: int | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="compat-exchange", daemon=True)

    def _announce(self, line: str) -> None:
        self.addresses = parse_ready_line(line)
        self._ready.set()

    def _set_hub(self, hub: Hub) -> None:
        self.hub = hub

    def _run(self) -> None:
        async def main() -> int:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            return await serve(self.options, self._announce, stop=self._stop, on_hub=self._set_hub)

        try:
            self.exit_code = asyncio.run(main())
        except BaseException as exc:
            self.error = exc
        finally:
            self._ready.set()

    def start(self) -> InProcessExchange:
        self._thread.start()
        if not self._ready.wait(self.ready_timeout_s) or not self.addresses:
            self.stop()
            raise HarnessError(
                f"in-process exchange not ready within {self.ready_timeout_s}s"
                + (f": {self.error!r}" if self.error else "")
            )
        return self

    def call(self, fn: object) -> None:
        """Run a zero-argument callable on the exchange loop (e.g. an admin action)."""
        assert self._loop is not None and callable(fn)
        self._loop.call_soon_threadsafe(fn)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise HarnessError(f"in-process exchange did not stop within {timeout_s}s")

    def __enter__(self) -> InProcessExchange:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
