"""The Host and Process seams. Callers (the Stack, the driver handle) see only these.

A host kind is registered in ``HOST_KINDS`` as ``kind -> "module:factory"``; the factory
takes the full spec string (``"local"``, ``"netns:compat0"``, ``"ssh:user@h:22"``) and
returns a Host. Adding netns or ssh is one line here plus its module; no caller changes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, runtime_checkable

from compat.errors import ConfigError
from compat.harness.command import Command, Outcome
from compat.harness.ready import Probe
from compat.harness.stopping import StopStep

# kind -> "module:callable(spec) -> Host". Import is lazy so a missing optional
# dependency of one host kind never breaks the others.
HOST_KINDS: dict[str, str] = {
    "local": "compat.harness.local:LocalHost.from_spec",
    "netns": "compat.harness.netns:NetnsHost.from_spec",
    "ssh": "compat.harness.ssh:SshHost.from_spec",
}


@runtime_checkable
class Process(Protocol):
    """A running process started by a Host, ready when returned."""

    name: str
    pid: int
    host: Host
    log_path: Path
    ready_info: dict[str, str]  # named groups of the ready-line regex (or host/port for PortOpen)
    ready_line: str  # the full ready line ("" for PortOpen or no probe)

    def poll(self) -> int | None: ...

    def stop(self, grace_s: float = 5.0, steps: tuple[StopStep, ...] | None = None) -> int | None: ...
    # steps: the escalation (harness/stopping.py); None: INT → TERM → KILL

    def send_signal(self, sig: int) -> None: ...

    def log_tail(self, lines: int = 20) -> str: ...

    def send_line(self, line: str) -> None: ...

    def read_line(self, timeout_s: float) -> str: ...


@runtime_checkable
class Host(Protocol):
    """Where processes run: this machine, a network namespace, a remote box over ssh."""

    spec: str
    listen_host: str  # the address launch templates bind ({listen_host}) so others can connect
    clock_domain: str  # hosts in one domain read the same clock ("this-machine" for local/netns)

    def start(self, command: Command, ready: Probe | None, log_dir: Path) -> Process: ...

    def run(self, command: Command, timeout_s: float) -> Outcome: ...

    def reachable_address(self, bound: tuple[str, int]) -> tuple[str, int]: ...

    def connect_address(self, address: tuple[str, int]) -> tuple[str, int]: ...  # from this host to `address`

    def shares_clock_with(self, other: Host) -> bool: ...  # one-way latency is honest only then

    def close(self) -> None: ...  # undo what the host set up (namespaces, remote dirs); idempotent


def host_from_spec(spec: str) -> Host:
    """``"local"`` → LocalHost; unknown kinds raise ConfigError naming the allowed ones."""
    kind = spec.split(":", 1)[0].strip()
    target = HOST_KINDS.get(kind)
    if target is None:
        allowed = ", ".join(sorted(HOST_KINDS))
        raise ConfigError(
            f"unknown host kind {kind!r} in host spec {spec!r}; allowed kinds: {allowed} "
            "(e.g. hosts: [local] in matrix.yaml)"
        )
    module_name, _, attribute = target.partition(":")
    factory: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        factory = getattr(factory, part)
    if not callable(factory):
        raise ConfigError(f"host kind {kind!r} is registered as {target!r}, which is not callable")
    host = factory(spec)
    if not isinstance(host, Host):
        raise ConfigError(f"host kind {kind!r} ({target}) returned {host!r}, which is not a Host")
    return host
