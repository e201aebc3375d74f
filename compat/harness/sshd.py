"""A throwaway sshd on 127.0.0.1 for tests and demos of the ssh host.

``with throwaway_sshd(tmp_dir) as server:`` generates a host key and a user key in
``tmp_dir``, writes an sshd_config that accepts only that user key for the current user on
127.0.0.1:<free port>, starts ``sshd -D -e`` through the harness (so it is stopped and
leak-checked like any role) and yields a :class:`SshdServer` whose ``spec`` and
``identity``/``known_hosts`` (or ``environment()`` for a subprocess) configure an
:class:`~compat.harness.ssh.SshHost` to reach it.

Needs Debian's ``openssh-server`` (``/usr/sbin/sshd``) and ``ssh-keygen``; ``sshd_missing()``
names what is absent, for a skip. sshd must run as root (privilege separation), which is how
these machines run the tests.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from compat.errors import HostError, StartError
from compat.harness import command as _command
from compat.harness.command import Command
from compat.harness.local import LocalHost, LocalProcess
from compat.harness.ready import ReadyLine

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
_READY = r"Server listening on (?P<host>127\.0\.0\.1) port (?P<port>\d+)"


def sshd_binary() -> str | None:
    for candidate in SSHD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("sshd")


def sshd_missing() -> str | None:
    """What is missing for a throwaway sshd (a skip reason), or None when it can run."""
    if sshd_binary() is None:
        return "sshd is not installed (Debian: apt-get install -y openssh-server)"
    for tool in ("ssh", "ssh-keygen", "scp"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install -y openssh-client)"
    if os.geteuid() != 0:
        return "a throwaway sshd needs root here (sshd privilege separation)"
    return None


@dataclass(frozen=True)
class SshdServer:
    user: str
    port: int
    identity: Path  # the throwaway user's private key
    known_hosts: Path  # pins the throwaway host key
    process: LocalProcess

    @property
    def spec(self) -> str:
        return f"ssh:{self.user}@127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """COMPAT_SSH_IDENTITY / COMPAT_SSH_KNOWN_HOSTS for a pytest subprocess."""
        return {"COMPAT_SSH_IDENTITY": str(self.identity), "COMPAT_SSH_KNOWN_HOSTS": str(self.known_hosts)}


def _keygen(path: Path) -> None:
    outcome = _command.run(
        Command(("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "compat-throwaway", "-f", str(path)),
                name="ssh-keygen"),
        30.0,
    )
    if not outcome.ok:
        raise HostError(f"ssh-keygen for {path} exited {outcome.returncode}: {outcome.stderr.strip()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def throwaway_sshd(directory: Path, *, attempts: int = 3) -> Iterator[SshdServer]:
    """A loopback sshd accepting one throwaway key for the current user; stopped on exit."""
    missing = sshd_missing()
    if missing is not None:
        raise HostError(f"cannot start a throwaway sshd: {missing}")
    binary = sshd_binary()
    assert binary is not None
    directory.mkdir(parents=True, exist_ok=True)
    host_key, user_key = directory / "host_ed25519", directory / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    authorized = directory / "authorized_keys"
    authorized.write_text(user_key.with_suffix(".pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    user = getpass.getuser()
    last_error: StartError | None = None
    for _ in range(attempts):  # the free port may be taken between probe and bind: retry
        port = _free_port()
        config = directory / "sshd_config"
        config.write_text(
            "\n".join([
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {directory / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                f"AllowUsers {user}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "MaxSessions 64",
                "MaxStartups 64",
                "LogLevel INFO",
                "Subsystem sftp internal-sftp",  # scp speaks sftp since OpenSSH 9
                "",
            ])
        )
        command = Command((binary, "-D", "-e", "-f", str(config)), name=f"sshd-{port}")
        try:
            process = LocalHost().start(command, ReadyLine(_READY, 10.0), directory)
        except StartError as exc:
            last_error = exc
            continue
        host_public = host_key.with_suffix(".pub").read_text().split()
        known_hosts = directory / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_public[0]} {host_public[1]}\n")
        try:
            yield SshdServer(user, port, user_key, known_hosts, process)
        finally:
            process.stop(grace_s=2.0)
        return
    raise HostError(f"throwaway sshd did not start after {attempts} attempts: {last_error}")


__all__ = ["SshdServer", "sshd_missing", "throwaway_sshd"]
