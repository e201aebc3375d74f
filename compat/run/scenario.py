"""What a scenario body holds: named client sessions on a cell's stack, fresh symbols and users.

Scenarios call the operations the product's adapter defines (``Session.<op>(...)``), never one
client version's API, so the same body runs in every cell and on every venue
(docs/writing-scenarios.md).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat.config.cell import Release
from compat.driver.handle import DriverHandle, answered_by_driver
from compat.errors import (
    ArtifactError,
    ConfigError,
    DriverCallError,
    HarnessError,
    OperationUnsupported,
    StartError,
    SwapTargetError,
)
from compat.exchange.audit import read_audit
from compat.exchange.client import ObxClient
from compat.exchange.instruments import load_config
from compat.exchange.proto import obx_pb2 as obx
from compat.run.oracle.model import Oracle, Waiver
from compat.run.stack import Stack
from compat.timing import Deadline

_test_counter = itertools.count(1)
# A failure that is the driver's answer shows the scenario's line, not this module's frames.
__tracebackhide__ = answered_by_driver
# Client errors that mean "the gateway or exchange refused this order" (as opposed to a break).
REJECT_ERRORS = frozenset({"OrderRejected", "Throttled", "RiskRejected"})


@dataclass
class Session:
    """One gateway session held by a driver; every op is sent with this session's name."""

    handle: DriverHandle
    name: str
    username: str
    stack: Stack
    connect_info: dict[str, Any] = field(default_factory=dict)

    def connect(self, **extra: Any) -> dict[str, Any]:
        args = self.stack.connect_args(self.username, **extra)
        self.connect_info = self.call("connect", **args)
        return self.connect_info

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        return self.handle.call(op, session=self.name, **args)

    def __getattr__(self, op: str) -> Callable[..., dict[str, Any]]:
        if op.startswith("_"):
            raise AttributeError(op)
        return lambda **args: self.call(op, **args)

    def next_event(self, kinds: Sequence[str] | None = None, client_order_id: str | None = None,
                   timeout_s: float = 5.0) -> dict[str, Any]:
        result = self.call("next_event", timeout_s=timeout_s, kinds=list(kinds) if kinds else None,
                           client_order_id=client_order_id)
        event: dict[str, Any] = result["event"]
        return event

    def place(self, symbol: str, side: str, qty: int, price: str | None, tif: str = "GTC",
              order_type: str = "LIMIT", timeout_s: float = 5.0, **extra: Any) -> dict[str, Any]:
        """Insert and return the order's first ``accepted`` or ``rejected`` event.

        Client versions differ in how a reject reaches the application: some raise from
        ``insert`` (OrderRejected, Throttled), some deliver an event. Both become a
        ``rejected`` event here, so a scenario asserts on the gateway's answer, not on the API.
        """
        try:
            order = self.call("insert", symbol=symbol, side=side, qty=qty, price=price, tif=tif,
                              order_type=order_type, **extra)
        except DriverCallError as error:
            if error.type not in REJECT_ERRORS:
                raise
            return {"kind": "rejected", "code": error.code, "raw_code": error.raw_code,
                    "reason": error.error.get("message"), "client_order_id": None, "raised": error.type}
        event = self.next_event(["accepted", "rejected"], order["client_order_id"], timeout_s=timeout_s)
        event.setdefault("client_order_id", order["client_order_id"])
        return event

    def expect_error(self, op: str, **args: Any) -> DriverCallError:
        """Run ``op`` and return the client error it must raise; a success is a break."""
        try:
            result = self.call(op, **args)
        except DriverCallError as exc:
            return exc
        raise AssertionError(f"{op} was expected to raise a client error but returned {result!r}")

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(self.connect_info.get("capabilities") or ())

    @property
    def negotiated_version(self) -> int:
        return int(self.connect_info.get("negotiated_version") or 1)


class Scenario:
    """Per-test view of a cell: sessions with unique names/users, released at the end."""

    def __init__(self, stack: Stack, symbols: Callable[[str], str],
                 gateway_releases: Sequence[Release] = (),
                 restart: Callable[[Release], None] | None = None,
                 users: Callable[[], str] | None = None,
                 probe: Callable[[Release], None] | None = None, oracle: Oracle | None = None) -> None:
        self.stack = stack
        self.oracle = oracle  # judges every session after the body passed (compat.run.oracle)
        self._gateway_releases = tuple(gateway_releases)
        self.read_gateway_order = False  # whether the body looked at the plan's gateway releases
        self._restart = restart
        self._probe = probe
        self.test_number = next(_test_counter)
        self._sessions: list[Session] = []
        self._symbols = symbols
        counter = itertools.count(1)
        self._users = users or (lambda: f"t{self.test_number}u{next(counter)}")
        self.metrics: dict[str, Any] = {}
        self._symbols_taken: list[str] = []
        self._waivers: list[Waiver] = []

    @property
    def gateway_releases(self) -> tuple[Release, ...]:
        """The plan's gateway releases, oldest first. Reading them makes the result depend on
        their order (recorded for the verdict cache: a new release in between reruns it)."""
        self.read_gateway_order = True
        return self._gateway_releases

    @property
    def cell_id(self) -> str:
        return self.stack.cell.id

    @property
    def client_version(self) -> str:
        return self.stack.cell.client.version

    @property
    def gateway_version(self) -> str:
        return self.stack.gateway_release.version

    @property
    def venue(self) -> str:
        return self.stack.cell.venue

    def session(self, name: str = "s1", driver: str = "c1", username: str | None = None,
                connect: bool = True, **connect_args: Any) -> Session:
        user = username or self._users()
        session = Session(handle=self.stack.client(driver), name=f"t{self.test_number}-{name}",
                          username=user, stack=self.stack)
        self._sessions.append(session)
        if connect:
            session.connect(**connect_args)
        return session

    def symbol(self, pool: str = "ABC") -> str:
        """A symbol of ``pool`` no other test of this cell has used (books start empty)."""
        symbol = self._symbols(pool)
        self._symbols_taken.append(symbol)  # the oracle reconciles these with the exchange
        return symbol

    @property
    def sessions(self) -> tuple[Session, ...]:
        return tuple(self._sessions)

    @property
    def symbols_taken(self) -> tuple[str, ...]:
        return tuple(self._symbols_taken)

    @property
    def waivers(self) -> tuple[Waiver, ...]:
        return tuple(self._waivers)

    def waive_invariant(self, invariant: str, reason: str) -> Waiver:
        """Declare that this scenario breaks ``invariant`` on purpose from now on (a fault before
        its recovery): until the end of the ``with`` block, or of the scenario when not used as
        one (docs/writing-scenarios.md, "The invariant oracle")."""
        if self.oracle is not None and invariant not in self.oracle.invariants:
            raise ValueError(f"unknown invariant {invariant!r}; the {self.oracle.name} oracle checks "
                             f"{', '.join(sorted(self.oracle.invariants))}")
        waiver = Waiver(invariant, reason, self._delivered_counts)
        self._waivers.append(waiver)
        return waiver

    def _delivered_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for session in self._sessions:
            try:
                counts[session.name] = int(session.call("delivered_events", count_only=True)["count"])
            except (DriverCallError, OperationUnsupported):
                continue  # not connected (yet), or an adapter without the operation: nothing delivered
        return counts

    def record(self, key: str, value: Any) -> None:
        """Attach a figure (e.g. the reconnect gap) to this (cell, scenario)'s result."""
        self.metrics[key] = value

    def require(self, session: Session, capability: str) -> None:
        """n/a unless the negotiated session has ``capability``."""
        if capability not in session.capabilities:
            raise OperationUnsupported("scenario", capability,
                                       f"gateway {self.gateway_version} did not grant {capability}")

    def require_builtin_exchange(self, what: str) -> None:
        """n/a unless the cell runs compat's built-in exchange: ``what`` (its audit log, its admin
        messages, a raw venue client) exists only there, not with an own simulator or none."""
        exchange = self.stack.matrix.exchange
        if not exchange.builtin:
            raise OperationUnsupported(
                "scenario", "exchange.builtin",
                f"{what} needs compat's built-in exchange; this matrix runs {exchange.describe()}")

    def raw_connection(self, timeout_s: float = 5.0) -> socket.socket:
        """A bare TCP connection to the gateway's client port, for bad-input scenarios."""
        return socket.create_connection(self.stack.gateway_client_address, timeout=timeout_s)

    def neighbour_gateway(self, step: int) -> Release | None:
        """The gateway release ``step`` positions after (1) or before (-1) the cell's, if any."""
        ordered = list(self.gateway_releases)
        if self.stack.cell.gateway not in ordered:
            return None
        index = ordered.index(self.stack.cell.gateway) + step
        return ordered[index] if 0 <= index < len(ordered) else None

    def restart_gateway(self, release: Release) -> None:
        """Stop the gateway and start ``release`` on the same journal (live upgrade/downgrade)."""
        if self._restart is None:
            raise RuntimeError("this scenario was not given a way to restart the gateway")
        self._restart(release)

    def swap_gateway(self, target: Release) -> None:
        """A live swap to ``target`` on the cell's journal, with the failure charged to the right end.

        ``target`` refusing the journal the cell's gateway wrote (it exits at start) is the pair's
        answer: an ``AssertionError``, judged by the pair's expectation (matrix.yaml ``from``/``to``).
        ``target`` that does not start on a fresh journal either (or whose env cannot be built)
        cannot be swapped to at all: a ``SwapTargetError`` (verdict error) naming ``target``, never a
        refusal charged to the source. A start that timed out stays an infrastructure error."""
        source = self.gateway_version
        try:
            self.restart_gateway(target)
        except ArtifactError as broken:
            raise SwapTargetError(f"swap {source} → {target.label}: the target gateway {target.label} cannot be "
                                  f"installed: {broken}", target.label) from None
        except StartError as refusal:
            if getattr(refusal, "exit_code", None) is None:
                raise
            if self._probe is not None:
                try:
                    self._probe(target)
                except (StartError, ArtifactError) as own:
                    raise SwapTargetError(
                        f"swap {source} → {target.label}: the target gateway {target.label} does not start, "
                        f"not even on a fresh journal, so the swap was never tried (charged to {target.label}, "
                        f"not to {source}):\n{own}", target.label) from None
            raise AssertionError(f"gateway {target.label} refused to resume what {source} wrote "
                                 f"(it starts on a fresh journal):\n{refusal}") from None

    def audit(self, until: Callable[[list[dict[str, Any]]], bool] | None = None,
              timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The exchange's audit records; with ``until``, wait (bounded) for the log to satisfy it.

        The exchange flushes its audit log 5 ms after the first record since its last flush, so
        a record may trail the event a client already saw; waiting on the condition is the synchronisation, not a sleep.
        n/a (``OperationUnsupported``) unless the cell runs the built-in exchange.
        """
        self.require_builtin_exchange("reading the exchange's audit log")
        deadline = Deadline(timeout_s)
        while True:
            records = read_audit_records(self.stack.audit_path)
            if until is None or until(records) or deadline.expired():
                return records
            time.sleep(0.01)

    def set_instrument_status(self, symbol: str, status: str, cancel_resting: bool = False,
                              timeout_s: float = 5.0) -> None:
        """Halt (``"HALTED"``), resume (``"OPEN"``), ... ``symbol`` at the exchange.

        Sent as an admin member over the exchange's OBX port, whatever venue the cell's gateway
        uses (the stack's exchange serves both); returns once the exchange has applied it, so
        an order sent afterwards meets the new status at the exchange. n/a
        (``OperationUnsupported``) unless the cell runs the built-in exchange.
        """
        self.require_builtin_exchange(f"setting {symbol} {status} (an admin message of the exchange)")
        names = list(obx.InstrumentStatus.keys())
        if status not in names:
            raise ValueError(f"unknown instrument status {status!r}; one of {names}")
        address = self.stack.exchange_addresses.get("obx")
        if address is None:
            raise HarnessError(f"the exchange of {self.cell_id} serves no OBX port for admin messages "
                               f"(it reported {sorted(self.stack.exchange_addresses)})")
        member, token = _admin_member(self.stack.instruments_path, f"COMPAT-ADMIN-{self.test_number}")
        with ObxClient(*address, timeout_s=timeout_s) as admin:
            logon = admin.logon(member, token)
            if logon.result_code != 0:
                raise HarnessError(f"the exchange at {address} refused admin member {member!r}: "
                                   f"{logon.result_code} {logon.text}")
            rid = admin.request_id()
            admin.send(obx.AdminSetInstrumentStatus(request_id=rid, symbol=symbol, cancel_resting=cancel_resting,
                                                    status=status))
            answer = admin.expect(obx.AdminResponse, where=lambda m: m.request_id == rid)
            if answer.result_code != 0:
                raise HarnessError(f"the exchange refused to set {symbol} {status}: "
                                   f"{answer.result_code} {answer.text}")
            admin.send(obx.LogoutRequest(reason="admin action done"))

    def wire_logs(self) -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = []
        for session in self._sessions:
            try:
                frames.extend(session.handle.call("wire_log", host_timeout_s=5.0, session=session.name)
                              .get("frames", []))
            except Exception:
                continue  # evidence gathering must never mask the scenario's own outcome
        return frames[-200:]

    def release(self) -> None:
        """Drop every session this test opened, so the next test starts clean, then let the
        driver forget them (``forget``: an adapter without it answers unsupported), so a
        cell's long-lived driver does not keep every session of every test it ran.

        One round trip per driver: its sessions' ``disconnect`` and ``forget``, in that order,
        go as one ``batch`` (the driver runs them one after the other). What each answers is
        ignored, as is a driver that cannot answer: release never masks the scenario's outcome.
        """
        by_driver: dict[int, tuple[DriverHandle, list[tuple[str, dict[str, Any]]]]] = {}
        for session in self._sessions:
            _, calls = by_driver.setdefault(id(session.handle), (session.handle, []))
            calls += [(op, {"session": session.name}) for op in ("disconnect", "forget")]
        for handle, calls in by_driver.values():
            with contextlib.suppress(Exception):
                handle.batch(calls, host_timeout_s=5.0 * len(calls))
        self._sessions.clear()


def read_audit_records(path: Path) -> list[dict[str, Any]]:
    """The exchange's audit records as plain dicts (none yet when the log does not exist)."""
    if not path.exists():
        return []
    return [dict(record.fields) for record in read_audit(path)]


def _admin_member(instruments: Path, default: str) -> tuple[str, str]:
    """(member_id, token) allowed to send admin messages: any member when the instruments file
    lists none (open access), else its first member flagged ``admin: true``."""
    members = load_config(instruments).members
    if members is None:
        return default, ""
    for member in members:
        if member.admin:
            return member.member_id, member.token
    raise ConfigError(f"{instruments}: lists members but none with 'admin: true'; scenarios that halt an "
                      "instrument need one (e.g. {member_id: OPS, token: ops, admin: true})")
