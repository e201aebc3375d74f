"""Run a command with a throwaway sshd on loopback: the ssh host kind, end to end, on one box.

    python scripts/with_loopback_sshd.py -- pytest -m compat -n 2 \
        --compat-host gateway={ssh} --compat-host client={ssh}

Starts Debian's sshd on 127.0.0.1:<free port> accepting one throwaway key
(``compat.harness.sshd.throwaway_sshd``), replaces ``{ssh}`` in the command's arguments with
its spec (``ssh:USER@127.0.0.1:PORT``), runs the command with ``COMPAT_SSH_IDENTITY`` and
``COMPAT_SSH_KNOWN_HOSTS`` set (host keys checked strictly), stops sshd afterwards and exits
with the command's status. Needs root and openssh-server (``.ci/run`` installs it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from compat.harness.sshd import sshd_missing, throwaway_sshd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="keys, sshd_config and sshd's log (default: a temp dir)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command; {ssh} = the host spec")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    missing = sshd_missing()
    if missing is not None:
        print(f"with_loopback_sshd: cannot start sshd: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="compat-sshd-") as scratch:
        directory = args.dir or Path(scratch)
        with throwaway_sshd(directory) as server:
            print(f"with_loopback_sshd: {server.spec} (keys and log in {directory})", flush=True)
            env = dict(os.environ, **server.environment())
            argv_run = [part.replace("{ssh}", server.spec) for part in command]
            try:
                return subprocess.call(argv_run, env=env)
            except KeyboardInterrupt:
                return 130


if __name__ == "__main__":
    sys.exit(main())
