"""The netns host: a Linux network namespace on this machine acts as another "machine".

``netns:NAME`` creates, on first use, a namespace ``compat-NAME-<pid>`` (the pid keeps xdist
workers and concurrent runs apart) joined to the root namespace by one veth pair::

    root namespace  cxrN 10.231.N.1/30  <──veth──>  cxnN 10.231.N.2/30  namespace (plus lo)

``N`` is the first /30 of 10.231.0.0/16 no interface on this box uses, chosen under a file
lock. The namespace has only loopback and that /30: no default route, no other address, so
nothing in it reaches anything but the root side of its own link.

Processes run through ``ip netns exec NS argv``. iproute2 ``ip netns exec`` *execs* the
command after ``setns()`` (it does not fork), so the pid the harness holds is the real
process and stop()/fault signals reach it (tests/harness/test_netns.py proves this).

How addresses cross the boundary:

* ``listen_host`` is ``0.0.0.0``: launch templates bind ``{listen_host}`` (the Stack fills it
  from the host), so the process listens on the namespace's veth address too.
* ``reachable_address(bound)`` maps a wildcard bind to ``10.231.N.2``: how the test process
  (root namespace) and other hosts' relays reach it. A bind to 127.0.0.1 inside the namespace
  is reachable from nowhere else, so it is refused with an error naming the fix.
* ``connect_address(address)`` is how a process *inside* the namespace reaches a server the
  root namespace reaches at ``address`` (loopback, or another namespace's veth address): a
  :class:`~compat.harness.proxy.FaultProxy` relay listening on ``10.231.N.1`` (the root end
  of this link), so no ip forwarding, routes or iptables are needed, and a fault can be
  injected on the link between hosts with the same proxy API.

``close()`` is deterministic: it stops the processes this host started that still run, closes
the relays, deletes the root end of the veth pair (``ip link del`` is synchronous and takes the
peer with it) and then the namespace, and returns only once the kernel no longer lists either
(polled with a deadline, ``TEARDOWN_TIMEOUT_S``); what is still there raises HostError naming
it. Deleting only the namespace would tear its veth pair down asynchronously, in the kernel's
netns cleanup work, so the root end could still be listed after close() returned.

``cut()``/``heal()`` set the root end of the link down/up: a partition of this "machine"
from everything else (live TCP connections stall, they are not reset).

tc netem is used where the kernel has it (``netem_available``); the kernels these tests run
on lack ``sch_netem``, so ``delay()`` raises HostError there and tests skip with that reason.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import logging
import os
import re
import shutil
import threading
from pathlib import Path

from filelock import FileLock

from compat import timing
from compat.errors import ConfigError, HostError
from compat.harness import command as _command
from compat.harness.command import Command, Outcome
from compat.harness.local import LocalHost, LocalProcess
from compat.harness.proxy import FaultProxy
from compat.harness.ready import PortOpen, Probe

logger = logging.getLogger("compat.harness")

SUBNET = ipaddress.ip_network("10.231.0.0/16")  # the private test range; /30 links cut from it
NAMESPACE_PREFIX = "compat-"
_LOCK_PATH = Path("/run/compat-netns.lock")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")
_IP_TIMEOUT_S = 10.0
TEARDOWN_TIMEOUT_S = 10.0  # how long close() waits for the kernel to drop the link and the namespace
_TEARDOWN_POLL_S = 0.02
_STALE = re.compile(rf"^{re.escape(NAMESPACE_PREFIX)}.+-(?P<pid>\d+)$")


def _ip(*args: str, check: bool = True) -> Outcome:
    outcome = _command.run(Command(("ip", *args), name="ip"), _IP_TIMEOUT_S)
    if check and outcome.returncode != 0:
        raise HostError(
            f"`ip {' '.join(args)}` exited {outcome.returncode}: {outcome.stderr.strip() or outcome.stdout.strip()}; "
            "the netns host needs root and iproute2 (`ip netns`)"
        )
    return outcome


def netns_unavailable_reason() -> str | None:
    """Why netns hosts cannot run here (for a skip), or None when they can."""
    if shutil.which("ip") is None:
        return "iproute2 `ip` is not installed (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "netns hosts need root (ip netns add, veth pairs)"
    outcome = _ip("netns", "list", check=False)
    if outcome.returncode != 0:
        return f"`ip netns list` failed: {outcome.stderr.strip()}"
    return None


def _used_links() -> tuple[set[str], set[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """Interface names and the /30 blocks of SUBNET already in use in the root namespace."""
    blocks: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    for line in _ip("-o", "addr", "show").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "inet":
            address = ipaddress.ip_interface(fields[3])
            if address.ip in SUBNET:
                blocks.add(ipaddress.ip_network(f"{address.ip}/30", strict=False))
    return _link_names(), blocks


def _link_names() -> set[str]:
    """Interface names in the root namespace (``ip -o link show``)."""
    names: set[str] = set()
    for line in _ip("-o", "link", "show").stdout.splitlines():
        fields = line.split(":", 2)
        if len(fields) >= 2:
            names.add(fields[1].strip().split("@", 1)[0])
    return names


def _namespace_names() -> set[str]:
    """Namespaces ``ip netns list`` shows (``NAME`` or ``NAME (id: 3)``)."""
    return {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.split()}


def wait_gone(namespace: str, links: tuple[str, ...], timeout_s: float | None = None) -> list[str]:
    """Poll the kernel until ``namespace`` and ``links`` are no longer listed; what is left at the deadline.

    Empty when everything is gone. A deadline (``TEARDOWN_TIMEOUT_S`` by default), not a sleep:
    returns as soon as the kernel agrees.
    """
    deadline = timing.Deadline(TEARDOWN_TIMEOUT_S if timeout_s is None else timeout_s)
    pause = threading.Event()  # never set: the poll interval
    while True:
        left = [f"link {name}" for name in links if name and name in _link_names()]
        if namespace and namespace in _namespace_names():
            left.append(f"namespace {namespace}")
        if not left or deadline.expired():
            return left
        pause.wait(min(_TEARDOWN_POLL_S, max(deadline.remaining(), 0.0)))


def _remove_stale_namespaces() -> None:
    """Namespaces of dead compat processes (a crashed run): deleting one removes its veth pair."""
    for line in _ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        found = _STALE.match(name)
        if found is None:
            continue
        pid = int(found["pid"])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logger.warning("netns: removing namespace %s left by dead process %d", name, pid)
            _ip("netns", "del", name, check=False)
        except PermissionError:
            pass


class NetnsHost(LocalHost):
    """Processes inside a network namespace of this machine, reached over a veth pair."""

    listen_host = "0.0.0.0"
    clock_domain = "this-machine"  # same kernel, same clocks as the local host

    def __init__(self, name: str) -> None:
        if not _NAME.match(name):
            raise ConfigError(
                f"netns host name {name!r}: use 1-24 characters from A-Z a-z 0-9 _ . - (e.g. netns:gw1)"
            )
        self.name = name
        self.spec = f"netns:{name}"
        self.namespace = f"{NAMESPACE_PREFIX}{name}-{os.getpid()}"
        self.root_link = ""
        self.inner_link = ""
        self.root_address = ""
        self.address = ""
        self.netem_available: bool | None = None
        self.netem_reason = ""
        self._created = False
        self._attempted = False  # set once we created anything, so teardown knows to look
        self._closed = False
        self._is_cut = False
        self._lock = threading.RLock()
        self._relays: dict[tuple[str, int], FaultProxy] = {}
        self._processes: list[LocalProcess] = []  # started here; close() stops those still running

    @classmethod
    def from_spec(cls, spec: str) -> NetnsHost:
        kind, _, name = spec.strip().partition(":")
        if kind != "netns" or not name:
            raise ConfigError(f"host spec {spec!r}: write netns:NAME (e.g. netns:gw1)")
        return cls(name)

    # -- lifecycle -------------------------------------------------------------------------

    def setup(self) -> NetnsHost:
        """Create the namespace and its link (idempotent); undone completely on failure."""
        with self._lock:
            if self._created:
                return self
            if self._closed:
                raise HostError(f"host {self.spec} was closed; create a new one")
            reason = netns_unavailable_reason()
            if reason is not None:
                raise HostError(f"cannot create host {self.spec}: {reason}")
            try:
                with FileLock(str(_LOCK_PATH), timeout=30.0):
                    _remove_stale_namespaces()
                    self._create()
            except BaseException:
                try:
                    self._teardown()
                except HostError as leftover:  # the setup error is the one to raise; this one is logged
                    logger.warning("netns: undoing the failed setup of %s: %s", self.spec, leftover)
                raise
            self._created = True
            atexit.register(self.close)  # a session that forgets close() still leaves nothing
            self._probe_netem()
            logger.info(
                "netns host %s: namespace %s, %s (root %s) <-> %s (%s)",
                self.spec, self.namespace, self.root_link, self.root_address, self.inner_link, self.address,
            )
            return self

    def _create(self) -> None:
        names, blocks = _used_links()
        for block in SUBNET.subnets(new_prefix=30):
            index = int(block.network_address) - int(SUBNET.network_address)
            root_link, inner_link = f"cxr{index >> 2}", f"cxn{index >> 2}"
            if block not in blocks and root_link not in names and inner_link not in names:
                break
        else:
            raise HostError(f"no free /30 left in {SUBNET} for host {self.spec}; remove stale compat-* namespaces")
        hosts = list(block.hosts())
        self.inner_link = inner_link
        self.root_address, self.address = str(hosts[0]), str(hosts[1])
        ns = self.namespace
        self._attempted = True
        _ip("netns", "add", ns)
        _ip("link", "add", root_link, "type", "veth", "peer", "name", inner_link)
        self.root_link = root_link  # ours from here on: teardown may delete it
        _ip("link", "set", inner_link, "netns", ns)
        _ip("addr", "add", f"{self.root_address}/30", "dev", root_link)
        _ip("-n", ns, "addr", "add", f"{self.address}/30", "dev", inner_link)
        _ip("link", "set", root_link, "up")
        _ip("-n", ns, "link", "set", inner_link, "up")
        _ip("-n", ns, "link", "set", "lo", "up")

    def _probe_netem(self) -> None:
        outcome = _ip("-n", self.namespace, "link", "show", self.inner_link, check=False)
        if outcome.returncode != 0 or shutil.which("tc") is None:
            self.netem_available, self.netem_reason = False, "tc (iproute2) is not installed"
            return
        probe = _command.run(
            Command(("ip", "netns", "exec", self.namespace, "tc", "qdisc", "add", "dev", self.inner_link,
                     "root", "netem", "delay", "0ms"), name="tc"),
            _IP_TIMEOUT_S,
        )
        if probe.returncode == 0:
            self.netem_available = True
            _command.run(Command(("ip", "netns", "exec", self.namespace, "tc", "qdisc", "del", "dev",
                                  self.inner_link, "root"), name="tc"), _IP_TIMEOUT_S)
        else:
            self.netem_available = False
            self.netem_reason = (
                f"this kernel has no tc netem qdisc (sch_netem): `tc qdisc add ... netem` said "
                f"{probe.stderr.strip()!r}; use the userspace fault proxy for delay/jitter instead"
            )

    def close(self) -> None:
        """Remove everything this host created; return only once it is gone. Safe to call any number of times.

        Stops the processes it started that still run, closes the relays, deletes the link and
        the namespace, and waits (bounded by ``TEARDOWN_TIMEOUT_S``) until the kernel no longer
        lists them. Raises HostError naming whatever is left.
        """
        with self._lock:
            self._closed = True
            self._teardown()

    def _teardown(self) -> None:
        left: list[str] = []
        processes, self._processes = self._processes, []
        for process in processes:
            try:
                process.stop(grace_s=2.0)
            except Exception as exc:  # keep tearing down; reported below
                left.append(f"process {process.name} (pid {process.pid}): {exc}")
        relays, self._relays = list(self._relays.values()), {}
        for relay in relays:
            with contextlib.suppress(Exception):
                relay.close()
            if relay.running:
                left.append(f"relay {relay.name} (its thread did not end)")
        if self._attempted:
            # The root end first: deleting one end of a veth pair removes both, synchronously.
            # Deleting only the namespace would leave the pair to the kernel's asynchronous
            # netns cleanup, and the root end could outlive close() (and collide with the next).
            if self.root_link and self.root_link in _link_names():
                _ip("link", "del", self.root_link, check=False)
            if self.namespace in _namespace_names():
                _ip("netns", "del", self.namespace, check=False)
            leftovers = wait_gone(self.namespace, (self.root_link,))
            left += leftovers
            if not leftovers:
                self._created = self._attempted = False
        if left:
            raise HostError(
                f"closing host {self.spec}: still present {TEARDOWN_TIMEOUT_S:.0f}s after teardown: "
                f"{'; '.join(left)} (remove a link with `ip link del NAME`, a namespace with `ip netns del NAME`)"
            )

    def exists(self) -> bool:
        """True while the namespace is present in ``ip netns list``."""
        listed = _ip("netns", "list").stdout.split()
        return self.namespace in listed

    # -- processes -------------------------------------------------------------------------

    def wrap(self, command: Command) -> Command:
        """The same command, run inside the namespace (``ip netns exec`` execs: same pid)."""
        self.setup()
        return Command(
            argv=("ip", "netns", "exec", self.namespace, *command.argv),
            name=command.name,
            env=command.env,
            cwd=command.cwd,
            control=command.control,
        )

    def start(self, command: Command, ready: Probe | None, log_dir: Path) -> LocalProcess:
        if isinstance(ready, PortOpen):
            # The probe runs in the test process (root namespace): look where others look.
            host, port = self.reachable_address((ready.host, ready.port))
            ready = PortOpen(host, port, ready.timeout_s)
        process = super().start(self.wrap(command), ready, log_dir)
        with self._lock:
            self._processes = [p for p in self._processes if p.poll() is None]
            self._processes.append(process)
        return process

    def run(self, command: Command, timeout_s: float) -> Outcome:
        return _command.run(self.wrap(command), timeout_s)

    # -- addresses -------------------------------------------------------------------------

    def reachable_address(self, bound: tuple[str, int]) -> tuple[str, int]:
        """How the root namespace reaches a server bound at ``bound`` inside the namespace."""
        self.setup()
        host, port = bound
        if host in ("", "0.0.0.0", self.address):
            return (self.address, port)
        if host.startswith("127.") or host == "localhost":
            raise HostError(
                f"a process on host {self.spec} bound {host}:{port}, the namespace's own loopback, which "
                f"nothing outside the namespace can reach; bind {{listen_host}} (0.0.0.0 here) or {self.address}"
            )
        raise HostError(
            f"a process on host {self.spec} reported {host}:{port}; the namespace has only lo and "
            f"{self.address}, so that address is not one of its own"
        )

    def connect_address(self, address: tuple[str, int]) -> tuple[str, int]:
        """How a process inside the namespace reaches a server the root namespace reaches at ``address``.

        A relay (a FaultProxy) on the root end of the link forwards to ``address``; one per
        target, kept until close(). ``relay(address)`` returns it for fault injection.
        """
        self.setup()
        if address[0] == self.address:
            return address  # a server in this same namespace: reached directly
        return self.relay(address).address

    def relay(self, address: tuple[str, int]) -> FaultProxy:
        """The fault proxy carrying this namespace's connections to ``address`` (created on first use)."""
        self.setup()
        key = (address[0], int(address[1]))
        with self._lock:
            relay = self._relays.get(key)
            if relay is None:
                relay = FaultProxy(upstream=key, name=f"{self.spec}->{key[0]}:{key[1]}",
                                   listen_host=self.root_address)
                self._relays[key] = relay
            return relay

    def shares_clock_with(self, other: object) -> bool:
        """Same kernel as the local host and every other namespace here: one clock."""
        return getattr(other, "clock_domain", None) == self.clock_domain

    # -- faults ----------------------------------------------------------------------------

    def cut(self) -> None:
        """Partition: set the root end of the link down; nothing crosses until heal()."""
        self.setup()
        _ip("link", "set", self.root_link, "down")
        self._is_cut = True
        logger.info("netns host %s: link %s cut", self.spec, self.root_link)

    def heal(self) -> None:
        """Undo cut(): the link comes back up with its addresses and routes."""
        self.setup()
        _ip("link", "set", self.root_link, "up")
        self._is_cut = False
        logger.info("netns host %s: link %s healed", self.spec, self.root_link)

    @property
    def is_cut(self) -> bool:
        return self._is_cut

    def delay(self, ms: float, jitter_ms: float = 0.0) -> None:
        """Kernel-level delay on the namespace's end of the link (tc netem), where the kernel has it."""
        self.setup()
        if not self.netem_available:
            raise HostError(f"cannot delay the link of host {self.spec}: {self.netem_reason}")
        _command.run(
            Command(("ip", "netns", "exec", self.namespace, "tc", "qdisc", "replace", "dev", self.inner_link,
                     "root", "netem", "delay", f"{ms}ms", f"{jitter_ms}ms"), name="tc"),
            _IP_TIMEOUT_S,
        )

    def __repr__(self) -> str:
        return f"NetnsHost({self.spec!r}, namespace={self.namespace!r}, address={self.address or '?'})"


__all__ = ["SUBNET", "NetnsHost", "netns_unavailable_reason"]
