"""The client driver: ``driver.py`` runs inside a client venv (stdlib only); ``handle`` is its host side."""

from __future__ import annotations

from pathlib import Path

DRIVER_DIR = Path(__file__).resolve().parent
DRIVER_SCRIPT = DRIVER_DIR / "driver.py"
# Files shipped next to the driver into a client's venv or a remote host (all stdlib-only).
DRIVER_FILES = ("driver.py", "loadplan.py", "hdrlite.py")
