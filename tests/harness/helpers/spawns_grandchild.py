"""Forks a long-lived grandchild and reports its pid on the ready line.

Argument ``same-session`` keeps the grandchild in our session (it is orphaned when we are
killed); ``own-session`` makes it call setsid(), so only its parentage links it to us.
"""

from __future__ import annotations

import signal
import subprocess
import sys

mode = sys.argv[1]
grandchild = subprocess.Popen(
    [sys.executable, "-c", "import signal\nwhile True: signal.pause()"],
    start_new_session=(mode == "own-session"),
)
print(f"PARENT READY grandchild={grandchild.pid}", flush=True)
while True:
    signal.pause()
