"""A pytest plugin that leaves one orphan behind on purpose (``-p soak_orphan_plugin``).

tests/matrix/test_soak.py loads it into the runs of a soak to show that the soak's survivor
check can fail: the orphan double-forks and calls ``setsid()``, so it leaves pytest's process
tree, session and process group, and nothing in the run will stop it. It carries the run's
environment (and so the soak's marker variable) and names ``$SOAK_ORPHAN_TOKEN`` in its command
line so the test can find it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_ORPHAN = (
    "import os, threading\n"
    "if os.fork():\n"
    "    os._exit(0)\n"
    "os.setsid()\n"
    "threading.Event().wait(600)  # the orphan's whole job is to outlive the run\n"
)


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # once per run, on the controller
    token = os.environ.get("SOAK_ORPHAN_TOKEN", "soak-orphan")
    subprocess.run([sys.executable, "-c", _ORPHAN, token], check=True, timeout=30,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
