"""A thin blocking wrapper: runs the asyncio client on a private event-loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from refclient.client import GatewayClient

T = TypeVar("T")


class SyncClient:
    """``SyncClient.connect(host, port, username=..., password=...)`` then the same methods, blocking."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="refclient-loop", daemon=True)
        self._thread.start()
        self._client: GatewayClient | None = None

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @classmethod
    def connect(cls, host: str, port: int, **kwargs: Any) -> SyncClient:
        self = cls()
        self._client = self._run(GatewayClient.connect(host, port, **kwargs))
        return self

    @property
    def client(self) -> GatewayClient:
        assert self._client is not None, "not connected"
        return self._client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(attr(*args, **kwargs))

        return call

    def close(self) -> None:
        if self._client is not None:
            self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
