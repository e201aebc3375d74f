"""A pytest plugin for benchmarks/matrix_speed.py: where a matrix run's time goes.

Loaded with ``-p matrix_speed_probe`` (the benchmark puts this folder on PYTHONPATH); appends
one JSON line per event to the file named by ``COMPAT_SPEED_PROBE``:

- ``collected``: seconds from this process's start of the plugin to the end of its collection
  (plan, candidate build, importing the scenarios), once per process (each xdist worker collects);
- ``report``: one per test phase, as the controller sees it (a worker's own duration), with
  whether it was replayed from the verdict cache;
- ``reporting``: seconds the controller spent in ``pytest_sessionfinish`` (the JSON, Markdown
  and HTML reports, the store).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from typing import Any

import pytest

from compat import timing

_STARTED = timing.monotonic()
_PROBE = "COMPAT_SPEED_PROBE"


def _emit(**record: Any) -> None:
    path = os.environ.get(_PROBE)
    if path:
        with open(path, "a", encoding="utf-8") as out:  # one short line per write: appends do not interleave
            out.write(json.dumps(record) + "\n")


def _worker(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput is not None else None


def pytest_collection_finish(session: pytest.Session) -> None:
    _emit(kind="collected", worker=_worker(session.config), seconds=round(timing.monotonic() - _STARTED, 3),
          items=len(session.items))


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller logs every worker's reports once
    cached = any(name == "compat_cached" for name, _ in report.user_properties)
    _emit(kind="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
          duration=round(report.duration, 6), cached=cached)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    started = timing.monotonic()
    try:
        yield
    finally:
        if _worker(session.config) is None:
            _emit(kind="reporting", seconds=round(timing.monotonic() - started, 3))
