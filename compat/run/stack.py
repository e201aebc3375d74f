"""One cell's running system: exchange → gateway → client drivers.

The exchange is the role matrix.yaml chooses (``Matrix.exchange``): compat's built-in simulated
exchange, the firm's own simulator launched per cell from its ``argv`` template, or none at all
(no exchange process and no link proxy; the gateway's templates then cannot ask for one).
Every process is started and stopped by the launch contract of docs/matrix-yaml.md: its
template's placeholders, its ``env:``, its ready line and its ``stop:`` sequence.

A ``Stack`` starts the processes in that order inside an ``ExitStack`` and tears them down
in reverse, also when a start fails half-way. Clients reach the gateway through a fault
proxy whose upstream follows the gateway, so a live gateway swap (upgrade, downgrade, kill
and restart) keeps the address clients know, exactly as a load balancer would in production.

The gateway reaches the exchange through a second fault proxy, ``exchange_link``, on every
host kind (on a netns gateway host it is the relay of the host's link, so there is no extra
hop), so scenarios can drop, reset or partition that link anywhere. A stack whose settings
say ``exchange_link_proxy=False`` (the benchmark, whose floor has no such hop) connects the
gateway straight to the exchange and has no ``exchange_link``.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat.artifacts.envs import Env
from compat.config.cell import Cell, Release
from compat.config.matrix import DEFAULT_READY_PATTERN, Matrix, render_env
from compat.driver import DRIVER_SCRIPT
from compat.driver.handle import DriverHandle
from compat.errors import ConfigError, HarnessError, StartError
from compat.exchange.instruments import DEFAULT_INSTRUMENTS_FILE
from compat.harness import stopping
from compat.harness.command import Command
from compat.harness.host import Host, Process
from compat.harness.proxy import FaultProxy
from compat.harness.ready import ReadyLine, parse_addresses

EXCHANGE_READY = r"^EXCHANGE READY (?P<addrs>.+)$"  # the built-in exchange's ready line
GATEWAY_READY = DEFAULT_READY_PATTERN  # a gateway's ready line unless matrix.yaml gives its own `ready`


@dataclass(frozen=True)
class StackSettings:
    """Knobs of a stack that come from matrix.yaml ``settings`` or plugin options."""

    start_timeout_s: float = 20.0
    stop_grace_s: float = 3.0
    instruments: Path | None = None
    auth: Path | None = None
    gateway_args: Mapping[str, str] = field(default_factory=dict)
    exchange_link_proxy: bool = True  # a FaultProxy on the gateway→exchange link (fault scenarios)
    # Client drivers to start with the stack, alongside the exchange and the gateway (their start
    # overlaps), instead of on first use; each still shakes hands on first use (``Stack.client``).
    early_drivers: tuple[str, ...] = ()
    # Start the gateway while the exchange starts: its exchange address is the link proxy's, which
    # holds the gateway's connections until the exchange reported ready (matrix.yaml settings
    # ``gateway_with_exchange``). False: the gateway starts once the exchange is ready. Only with
    # a link proxy of the stack's own (not on a netns gateway host, whose relay needs the address).
    gateway_with_exchange: bool = True


class Stack:
    """Exchange, gateway and client drivers of one cell, on the hosts the matrix assigns."""

    def __init__(
        self,
        cell: Cell,
        matrix: Matrix,
        envs: Mapping[str, Env],
        log_dir: Path,
        hosts: Mapping[str, Host],
        settings: StackSettings | None = None,
    ) -> None:
        self.cell = cell
        self.matrix = matrix
        self.envs = dict(envs)
        self.log_dir = log_dir
        self.hosts = dict(hosts)
        self.settings = settings or StackSettings()
        self.journal_path = log_dir / "gateway.journal"
        self.audit_path = log_dir / "exchange-audit.log"
        self.exchange: Process | None = None
        self.gateway: Process | None = None
        self.gateway_release: Release = cell.gateway
        # Every release restart_gateway was asked to start, in order (a live swap's targets: the
        # verdict cache keys a swapping scenario's result by the wheels it swapped to).
        self.swap_targets: list[Release] = []
        self.exchange_address: tuple[str, int] | None = None
        self.exchange_addresses: dict[str, tuple[str, int]] = {}  # every venue the exchange serves
        self.gateway_proxy: FaultProxy | None = None
        self.exchange_link: FaultProxy | None = None  # the gateway→exchange link's fault proxy
        self._exchange_target: tuple[str, int] | None = None  # where the gateway connects for it
        self._auth_override: Path | None = None
        self._drivers: dict[str, tuple[Process, DriverHandle]] = {}
        self._unshaken: dict[str, tuple[Process, DriverHandle]] = {}  # started early, no handshake yet
        self._running_drivers: list[tuple[Process, DriverHandle]] = []  # every driver to stop with the stack
        self._drivers_registered = False
        self._exit = ExitStack()
        self._generation = 0  # counts gateway starts, so each gets its own log file
        self._epoch = 0  # counts whole-stack starts; a restarted stack never reuses old state
        self._gateway_registered = False
        self._gateway_pauses = 0  # SIGSTOPs so far (a paused process is the same one afterwards)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._epoch += 1
        self._auth_override = None  # a scenario's own auth file lasts until the gateway's next start
        if self._epoch > 1:
            # A fresh exchange knows nothing of the old journal's orders: keep it as evidence only.
            # The journal lives on the gateway's host (remote over ssh, where a rename here would
            # miss it and the next gateway would resume a journal some other release wrote), so
            # the new epoch gets a journal of its own name. The audit log is always on this
            # machine's filesystem (the exchange never runs over ssh).
            self.journal_path = self.log_dir / f"gateway-e{self._epoch}.journal"
            if self.audit_path.exists():
                self.audit_path.rename(self.audit_path.with_name(f"{self.audit_path.name}.epoch{self._epoch - 1}"))
        early: dict[str, tuple[Process, DriverHandle]] = {}
        try:
            client = self.matrix.products.get("client")
            if client is not None and client.adapter is not None and "client" in self.envs:
                for name in self.settings.early_drivers:
                    early[name] = self._spawn_driver(name)
            if not self.matrix.exchange.runs:
                self._start_gateway(self.envs["gateway"], self.cell.gateway)
            elif self._gateway_beside_exchange():
                self._start_exchange_and_gateway(self.envs["gateway"], self.cell.gateway)
            else:
                self._start_exchange()
                self._start_gateway(self.envs["gateway"], self.cell.gateway)
            proxy = FaultProxy(upstream=self._gateway_address())
            self._exit.callback(proxy.close)
            self.gateway_proxy = proxy
        except BaseException:
            for process, handle in early.values():
                self._stop_driver(process, handle)
            self.stop()
            raise
        for name, (process, handle) in early.items():
            # Registered only now, so drivers still stop before the gateway and the exchange.
            self._add_driver(process, handle)
            self._unshaken[name] = (process, handle)
        return self

    def stop(self) -> None:
        """Stop every process in reverse start order; each stop logs its escalation steps."""
        self._exit.close()
        self._gateway_registered = self._drivers_registered = False
        self._drivers.clear()
        self._unshaken.clear()
        self.exchange = self.gateway = None
        self.gateway_proxy = None
        self.exchange_link = None
        self._exchange_target = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- roles -----------------------------------------------------------------------------

    @property
    def gateway_address(self) -> tuple[str, int]:
        """The running gateway's own client address (how this process reaches it, no proxy)."""
        return self._gateway_address()

    @property
    def gateway_client_address(self) -> tuple[str, int]:
        """Where clients connect: the proxy in front of whichever gateway is running."""
        if self.gateway_proxy is None:
            raise HarnessError("the stack is not running")
        address: tuple[str, int] = self.gateway_proxy.address
        return address

    def client(self, name: str = "c1") -> DriverHandle:
        """The driver process ``name`` in the client's venv, started on first use (or with the
        stack, for ``StackSettings.early_drivers``)."""
        if name in self._drivers:
            process, handle = self._drivers[name]
            if process.poll() is None:
                return handle
            del self._drivers[name]
        if name in self._unshaken:
            process, handle = self._unshaken.pop(name)
        else:
            process, handle = self._spawn_driver(name)
            self._add_driver(process, handle)
        handle.handshake(self.settings.start_timeout_s)
        self._drivers[name] = (process, handle)
        return handle

    def _spawn_driver(self, name: str) -> tuple[Process, DriverHandle]:
        """Start driver ``name`` without waiting for its hello (the handshake reads it later)."""
        env = self.envs["client"]
        product = self.matrix.products["client"]
        if product.adapter is None:
            raise ConfigError(f"{self.matrix.path}: products.client has no adapter")
        release = self.cell.client
        values = {"matrix_dir": self.matrix.root, "log_dir": self.log_dir, "python": env.python,
                  "bin": env.bin_dir, "venv": env.path, "version": release.version, "venue": self.cell.venue}
        command = Command(
            argv=(str(env.python), str(DRIVER_SCRIPT), "--adapter", str(product.adapter),
                  "--package", product.package),
            name=f"client-{release.version}-{name}",
            env=render_env(product.env, values),
            control=True,
        )
        process = self.hosts["client"].start(command, None, self.log_dir)
        return process, DriverHandle(channel=process)

    def connect_args(self, username: str, password: str = "secret", **extra: Any) -> dict[str, Any]:
        """Arguments of the driver's ``connect`` op pointing at this stack's gateway."""
        # The driver runs on the client's host: a netns client reaches the proxy through a relay.
        host, port = self.hosts["client"].connect_address(self.gateway_client_address)
        return {"host": host, "port": port, "username": username, "password": password, **extra}

    def restart_gateway(self, release: Release | None = None, env: Env | None = None, *,
                        kill: bool = False, auth: Path | None = None) -> None:
        """Stop the gateway (gracefully, or SIGKILL) and start ``release`` on the same journal.

        The exchange keeps running and the proxy's upstream follows the new gateway, so clients
        reconnect to the address they already know. ``auth`` replaces the settings' auth file for
        this gateway only (a scenario's own limits); the next restart without it goes back.
        """
        self._auth_override = auth
        if self.gateway is not None:
            if kill:
                self.gateway.send_signal(signal.SIGKILL)
            self._stop_process("gateway")
        new_release = release or self.gateway_release
        new_env = env or self.envs["gateway"]
        self.swap_targets.append(new_release)
        self._start_gateway(new_env, new_release)
        if self.gateway_proxy is not None:
            self.gateway_proxy.set_upstream(self._gateway_address())

    def probe_gateway(self, release: Release, env: Env) -> None:
        """Start ``release`` on a fresh journal of its own, wait for its ready line, and stop it:
        whether it starts at all, apart from what the cell's journal holds. Raises the
        ``StartError`` of a start that fails; the cell's running gateway (if any) is untouched."""
        journal = self.log_dir / f"probe-{release.label}-{self._generation + 1}.journal"  # never used before
        process = self._launch_gateway(env, release, journal, "probe")
        self._stop(process, "gateway")

    def stop_gateway(self) -> int | None:
        """Stop the gateway and leave it down (a scenario restarts it with ``restart_gateway``)."""
        if self.gateway is None:
            return None
        return self._stop_process("gateway")

    @property
    def instruments_path(self) -> Path:
        """The instruments file the exchange is started with."""
        return self.settings.instruments or DEFAULT_INSTRUMENTS_FILE

    def healthy(self) -> bool:
        alive = [p for p in (self.exchange, self.gateway) if p is not None]
        expected = 2 if self.matrix.exchange.runs else 1
        return len(alive) == expected and all(p.poll() is None for p in alive) \
            and self.gateway_release == self.cell.gateway

    @property
    def gateway_as_configured(self) -> bool:
        """The running gateway is the cell's release, started with the settings' auth file (not a
        scenario's own, ``restart_gateway(auth=...)``)."""
        return (self.gateway is not None and self.gateway.poll() is None and self._auth_override is None
                and self.gateway_release == self.cell.gateway)

    def gateway_marker(self) -> tuple[int, ...]:
        """Changes whenever the gateway is restarted, swapped or paused, or a fault is asked of the
        link proxies on either side of it: equal markers before and after a scenario mean it never
        disturbed the gateway."""
        links = tuple(proxy.faults_injected if proxy is not None else -1
                      for proxy in (self.gateway_proxy, self.exchange_link))
        return (self._generation, self._gateway_pauses, *links)

    def processes(self) -> dict[str, Process]:
        """Role → current process: ``exchange``, ``gateway`` (whichever runs now), ``client:NAME``.

        Safe to call from another thread (the resource sampler calls it on every tick).
        """
        found: dict[str, Process] = {}
        for role, process in (("exchange", self.exchange), ("gateway", self.gateway)):
            if process is not None:
                found[role] = process
        for name, (process, _) in [*self._unshaken.items(), *self._drivers.items()]:
            found[f"client:{name}"] = process
        return found

    def log_tails(self, lines: int = 30) -> dict[str, str]:
        tails: dict[str, str] = {}
        for role, process in (("exchange", self.exchange), ("gateway", self.gateway)):
            if process is not None:
                tails[role] = process.log_tail(lines)
        for name, (process, _) in self._drivers.items():
            tails[f"client:{name}"] = process.log_tail(lines)
        return tails

    @contextmanager
    def paused_gateway(self) -> Iterator[None]:
        """SIGSTOP the gateway for the duration of the block (stall injection)."""
        if self.gateway is None:
            raise HarnessError("no gateway is running")
        self._gateway_pauses += 1
        self.gateway.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.gateway.send_signal(signal.SIGCONT)

    # -- internals -------------------------------------------------------------------------

    def _start_exchange(self) -> None:
        """Start the exchange, wait for its ready line, then open the gateway's link to it."""
        command, ready = self._exchange_command()
        self._exchange_ready(self.hosts["exchange"].start(command, ready, self.log_dir))
        self._open_exchange_link()

    def _gateway_beside_exchange(self) -> bool:
        """Whether the gateway may start while the exchange starts: the settings allow it and the
        gateway reaches the exchange through a link proxy of the stack's own, made before the
        exchange is up (a netns gateway host's relay needs the exchange's address)."""
        relay = getattr(self.hosts["gateway"], "relay", None)
        return self.settings.gateway_with_exchange and self.settings.exchange_link_proxy and not callable(relay)

    def _start_exchange_and_gateway(self, env: Env, release: Release) -> None:
        """Start the exchange and the gateway side by side: each one's interpreter start and imports
        overlap the other's. The gateway's exchange address is the link proxy's, made first with no
        upstream: it accepts the gateway's connection and holds it (nothing read, nothing lost)
        until the exchange reported ready, then relays it there. So the gateway still meets a
        ready exchange behind its address; only its first answer may come later. If the exchange
        fails to start, the link closes the held connection, the gateway is stopped, and the
        exchange's error is raised."""
        command, ready = self._exchange_command()
        link = FaultProxy(upstream=None, name=f"{self.cell.id}:gateway->exchange")
        self._exchange_target = self.hosts["gateway"].connect_address(link.address)
        launched: list[Process] = []
        failed: list[BaseException] = []

        def launch_gateway() -> None:
            try:
                launched.append(self._launch_gateway(env, release, self.journal_path))
            except BaseException as exc:  # raised on the stack's thread below
                failed.append(exc)

        thread = threading.Thread(target=launch_gateway, name=f"compat-start-gateway-{self.cell.id}", daemon=True)
        thread.start()
        try:
            self._exchange_ready(self.hosts["exchange"].start(command, ready, self.log_dir))
            assert self.exchange_address is not None
            link.set_upstream(self.exchange_address)
        except BaseException:
            link.close()  # closes the held connection: a gateway waiting on it gives up
            thread.join()
            for process in launched:
                self._stop(process, "gateway")
            raise
        self._exit.callback(link.close)
        self.exchange_link = link
        thread.join()
        if failed:
            raise failed[0]
        self._gateway_started(launched[0], release)

    def _exchange_command(self) -> tuple[Command, ReadyLine]:
        """How the exchange matrix.yaml chooses is launched: the built-in one or the firm's own."""
        if self.matrix.exchange.builtin:
            command = Command(
                # Both venues: the gateway uses the cell's, scenarios use OBX's admin messages
                # (halt/resume an instrument) whatever the cell's venue.
                argv=(sys.executable, "-m", "compat.exchange", "--venue", "both",
                      "--instruments", str(self.instruments_path), "--audit-log", str(self.audit_path),
                      "--host", self.hosts["exchange"].listen_host),
                name=f"exchange-{self.cell.venue}" + (f"-e{self._epoch}" if self._epoch > 1 else ""),
            )
            return command, ReadyLine(EXCHANGE_READY, self.settings.start_timeout_s)
        return self._simulator_command()

    def _simulator_command(self) -> tuple[Command, ReadyLine]:
        """The firm's own exchange simulator (``exchange:`` in matrix.yaml), one per cell start."""
        spec = self.matrix.exchange
        assert spec.launch is not None
        host = self.hosts["exchange"]
        suffix = f"-e{self._epoch}" if self._epoch > 1 else ""
        workdir = self.log_dir / f"exchange{suffix or '-e1'}"
        workdir.mkdir(parents=True, exist_ok=True)
        values: dict[str, object] = {
            "matrix_dir": self.matrix.root,
            "listen_host": host.listen_host,
            "listen_port": 0,
            "log_dir": self.log_dir,
            "workdir": workdir,
            "venue": self.cell.venue,
        }
        if (env := self.envs.get("exchange")) is not None:  # exchange.package: its own venv
            values |= {"python": env.python, "bin": env.bin_dir, "venv": env.path, "version": env.release.version}
        command = Command(argv=spec.launch.render(values), name=f"exchange-{self.cell.venue}{suffix}",
                          env=render_env(spec.env, values))
        return command, ReadyLine(spec.ready_pattern, self.settings.start_timeout_s)

    def _exchange_ready(self, process: Process) -> None:
        """The exchange reported ready: it is the stack's to stop, and its ready line names where
        each venue is (a StartError when the cell's venue is not among them)."""
        self._exit.callback(self._stop_process, "exchange")
        self.exchange = process
        host = self.hosts["exchange"]
        spec = self.matrix.exchange
        if spec.builtin:
            addresses = parse_addresses(process.ready_info.get("addrs", ""))
            if self.cell.venue not in addresses:
                raise StartError(
                    f"exchange reported {addresses} but no address for venue {self.cell.venue}; "
                    f"log: {process.log_path}"
                )
        else:
            addresses = venue_addresses(process.ready_info, spec.venues)
            if self.cell.venue not in addresses:
                raise StartError(
                    f"exchange simulator's ready line {process.ready_line!r} carried no address for venue "
                    f"{self.cell.venue} (found {sorted(addresses) or 'none'}); log: {process.log_path}"
                )
        self.exchange_addresses = {venue: host.reachable_address(address) for venue, address in addresses.items()}
        self.exchange_address = self.exchange_addresses[self.cell.venue]

    def _open_exchange_link(self) -> None:
        """Decide how the gateway reaches the exchange: through a fault proxy (``exchange_link``)
        unless the settings turn it off. A netns gateway host already relays that connection
        through a FaultProxy on its link: that relay is the link proxy (no second hop)."""
        assert self.exchange_address is not None
        gateway_host = self.hosts["gateway"]
        direct = gateway_host.connect_address(self.exchange_address)
        if not self.settings.exchange_link_proxy:
            self._exchange_target = direct
            return
        relay = getattr(gateway_host, "relay", None)
        if callable(relay) and direct != self.exchange_address:
            link: FaultProxy = relay(self.exchange_address)
            self._exchange_target = direct
        else:
            link = FaultProxy(upstream=self.exchange_address, name=f"{self.cell.id}:gateway->exchange")
            self._exit.callback(link.close)
            self._exchange_target = gateway_host.connect_address(link.address)
        self.exchange_link = link

    def _start_gateway(self, env: Env, release: Release) -> None:
        self._gateway_started(self._launch_gateway(env, release, self.journal_path), release)

    def _gateway_started(self, process: Process, release: Release) -> None:
        """``process`` (ready) is the cell's gateway now, stopped with the stack."""
        if not self._gateway_registered:
            self._exit.callback(self._stop_process, "gateway")
            self._gateway_registered = True
        self.gateway = process
        self.gateway_release = release

    def _launch_gateway(self, env: Env, release: Release, journal: Path, role: str = "") -> Process:
        """Start ``release`` on ``journal`` and wait for its ready line (``role`` names a process
        that is not the cell's gateway, e.g. a probe, in its log file's name)."""
        product = self.matrix.products["gateway"]
        template = product.launch_for(release.version)
        self._generation += 1
        workdir = self.log_dir / f"gateway-{self._generation}"
        workdir.mkdir(parents=True, exist_ok=True)
        values: dict[str, object] = {
            "python": env.python,
            "bin": env.bin_dir,
            "venv": env.path,
            "version": release.version,
            "venue": self.cell.venue,
            "listen_host": self.hosts["gateway"].listen_host,  # 0.0.0.0 in a netns, so others reach it
            "listen_port": 0,
            "journal": journal,
            "auth": self._auth_override or self.settings.auth or "",
            "log_dir": self.log_dir,
            "workdir": workdir,
            "matrix_dir": self.matrix.root,
            **self.settings.gateway_args,
        }
        if self._exchange_target is not None:
            # exchange_address is how this process reaches the exchange; the gateway goes through the
            # link proxy (and, on a netns host, the relay on its link): _open_exchange_link decided.
            # With exchange: none there is no target, and matrix.yaml may not ask for one (load time).
            exchange_host, exchange_port = self._exchange_target
            values |= {"exchange_host": exchange_host, "exchange_port": exchange_port,
                       "exchange": _host_port(exchange_host, exchange_port)}
        argv = template.render(values)
        suffix = "" if self._generation == 1 else f"-{self._generation}"
        command = Command(argv=argv, name=f"gateway-{release.version}{f'-{role}' if role else ''}{suffix}",
                          env=render_env(product.env, values))
        pattern = product.ready_pattern or GATEWAY_READY
        return self.hosts["gateway"].start(command, ReadyLine(pattern, self.settings.start_timeout_s), self.log_dir)

    def _gateway_address(self) -> tuple[str, int]:
        if self.gateway is None:
            raise HarnessError("no gateway is running")
        info = self.gateway.ready_info
        addresses = parse_addresses(info.get("addrs", ""))
        if "client" in addresses:
            bound = addresses["client"]
        elif "host" in info and "port" in info:
            bound = (_unbracket(info["host"]), int(info["port"]))
        else:
            raise StartError(f"gateway ready line carried no client address: {info}; log: {self.gateway.log_path}")
        return self.hosts["gateway"].reachable_address(bound)

    def stop_sequence(self, role: str) -> tuple[tuple[stopping.StopStep, ...], float]:
        """How ``role`` (exchange, gateway, client) is stopped: matrix.yaml's ``stop:`` steps and
        ``stop_grace_s``, else INT → TERM → KILL ``settings.stop_grace_s`` apart."""
        spec = self.matrix.exchange if role == "exchange" else self.matrix.products[role]
        grace = spec.stop_grace_s if spec.stop_grace_s is not None else self.settings.stop_grace_s
        return stopping.steps_for(spec.stop), grace

    def _stop_process(self, role: str) -> int | None:
        process = self.exchange if role == "exchange" else self.gateway
        if process is None:
            return None
        return self._stop(process, role)

    def _stop(self, process: Process, role: str) -> int | None:
        # also when dead: stop() reaps its group and closes its log
        steps, grace = self.stop_sequence(role)
        return process.stop(grace_s=grace, steps=steps)

    def _add_driver(self, process: Process, handle: DriverHandle) -> None:
        """A started driver, stopped with the stack (before the gateway and the exchange: the stop of
        every driver is registered after theirs, once per start)."""
        self._running_drivers.append((process, handle))
        if not self._drivers_registered:
            self._exit.callback(self._stop_drivers)
            self._drivers_registered = True

    def _stop_drivers(self) -> None:
        """Stop every driver of the stack side by side (each by its own escalation, logged in its
        own log): they depend on nothing of each other, so the stack waits for the slowest exit,
        not for their sum. The first error is raised once all are stopped."""
        drivers, self._running_drivers = self._running_drivers, []
        errors: list[BaseException] = []

        def stop(process: Process, handle: DriverHandle) -> None:
            try:
                self._stop_driver(process, handle)
            except BaseException as exc:  # raised below, once every driver is stopped
                errors.append(exc)

        threads = [threading.Thread(target=stop, args=driver, name=f"compat-stop-{driver[0].name}", daemon=True)
                   for driver in drivers[1:]]
        for thread in threads:
            thread.start()
        for driver in drivers[:1]:
            stop(*driver)
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _stop_driver(self, process: Process, handle: DriverHandle) -> None:
        steps, grace = self.stop_sequence("client")
        if process.poll() is None:
            # The stop below escalates and logs; a stuck driver must not block teardown.
            with contextlib.suppress(Exception):
                handle.shutdown(timeout_s=grace)
        process.stop(grace_s=grace, steps=steps)


def venue_addresses(info: Mapping[str, str], venues: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """An own simulator's venue addresses from its ready line's named groups (docs/matrix-yaml.md):
    ``addrs`` with ``venue=host:port`` pairs, a group per venue holding ``host:port``, or, for a
    simulator of one venue, groups ``host`` and ``port``."""
    if "addrs" in info:
        return parse_addresses(info["addrs"])
    found: dict[str, tuple[str, int]] = {}
    for venue in venues:
        if venue in info:
            found |= parse_addresses(f"{venue}={info[venue]}")
    if not found and len(venues) == 1 and "host" in info and "port" in info:
        found[venues[0]] = (_unbracket(info["host"]), int(info["port"]))
    return found


def _unbracket(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _host_port(host: str, port: int) -> str:
    """``127.0.0.1:4001``; an IPv6 host in brackets, ``[::1]:4001``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

