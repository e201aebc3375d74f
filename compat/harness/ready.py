"""Ready probes: how a host knows a started process is ready to be used.

A probe is a value; the host does the waiting (a local host watches the stdout pipe, a
netns or ssh host may watch differently), so probes stay portable across hosts.

Every long-running program of the reference system prints one ready line
``NAME READY key=host:port ...`` (see docs/contracts.md, "Ready lines"); ``READY_PATTERN``
matches it and :func:`parse_addresses` turns its ``addrs`` group into addresses.
"""

from __future__ import annotations

import contextlib
import re
import socket
from dataclasses import dataclass, field

from compat.errors import ConfigError

READY_PATTERN = r"^(?P<name>[A-Z]+) READY (?P<addrs>.*)$"


@dataclass(frozen=True)
class ReadyLine:
    """Ready when a line of stdout matches ``pattern`` (``re.search``, named groups kept)."""

    pattern: str = READY_PATTERN
    timeout_s: float = 10.0
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "regex", re.compile(self.pattern))
        except re.error as exc:
            raise ConfigError(f"ready pattern {self.pattern!r} is not a valid regex: {exc}") from exc

    def match(self, line: str) -> dict[str, str] | None:
        """The named groups when ``line`` is the ready line, else None."""
        found = self.regex.search(line)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}

    def describe(self) -> str:
        return "report ready"

    def expectation(self) -> str:
        return f"expected a stdout line matching {self.pattern!r}"

    @classmethod
    def named(cls, name: str, timeout_s: float = 10.0) -> ReadyLine:
        """The standard ready line of one role: ``ReadyLine.named("GATEWAY")``."""
        return cls(rf"^(?P<name>{re.escape(name)}) READY (?P<addrs>.*)$", timeout_s)


@dataclass(frozen=True)
class PortOpen:
    """Ready when ``host:port`` accepts a TCP connection."""

    host: str
    port: int
    timeout_s: float = 10.0

    def attempt(self, connect_timeout_s: float = 0.2) -> bool:
        """One connection attempt, closed straight away."""
        with (
            contextlib.suppress(OSError),
            socket.create_connection((self.host, self.port), connect_timeout_s),
        ):
            return True
        return False

    def describe(self) -> str:
        return f"accept connections on {self.host}:{self.port}"

    def expectation(self) -> str:
        return f"expected {self.host}:{self.port} to accept a TCP connection"

    def info(self) -> dict[str, str]:
        return {"host": self.host, "port": str(self.port)}


Probe = ReadyLine | PortOpen


_ADDRESS = re.compile(r"(?P<key>[A-Za-z0-9_.-]+)=(?P<host>\[[^\]]+\]|[^\s:=]+):(?P<port>\d+)")


def parse_addresses(line: str) -> dict[str, tuple[str, int]]:
    """``"GATEWAY READY client=127.0.0.1:40003"`` → ``{"client": ("127.0.0.1", 40003)}``.

    Works on a whole ready line or just its ``addrs`` group; IPv6 hosts are written
    ``[::1]:40003`` and come back without brackets.
    """
    addresses: dict[str, tuple[str, int]] = {}
    for found in _ADDRESS.finditer(line):
        host = found["host"]
        if host.startswith("["):
            host = host[1:-1]
        addresses[found["key"]] = (host, int(found["port"]))
    return addresses
