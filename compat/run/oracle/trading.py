"""The built-in invariant oracle: every session's delivered events against the built-in exchange.

After a scenario passed, it asks each session's driver for everything the client library
delivered to the application (the adapter's ``delivered_events`` operation, which also takes the
events the scenario never read), reads the exchange's audit log for the scenario's own symbols
(the ones it leased with ``compat.symbol()``: no other scenario trades them) and judges the
invariants of ``compat.run.oracle.invariants``. Events can still be in flight when a scenario
ends (an ack it did not wait for, an audit record the exchange flushes a few ms later), so while something is
violated it looks again, for at most ``settle_s``: a violation is what remains at the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from compat import timing
from compat.errors import DriverCallError, OperationUnsupported
from compat.run.oracle.exchange_view import audit_tail, gateway_member
from compat.run.oracle.invariants import (
    INVARIANTS,
    ExchangeRecords,
    Findings,
    SessionLog,
    check_against_exchange,
    check_session,
)
from compat.run.oracle.model import OracleResult, ScenarioView, SessionView, split_waived

SESSION_INVARIANTS = ("cum_qty", "leaves_qty", "sequence")
EXCHANGE_INVARIANTS = ("fill_once", "audit_values", "order_known", "order_acknowledged")
_POLL_S = 0.01  # the exchange flushes its audit log 5 ms after writing a record


class TradingOracle:
    """The oracle of the trading operation profile on compat's built-in exchange."""

    name = "trading"

    def __init__(self, settle_s: float = 3.0) -> None:
        self.settle_s = settle_s

    @property
    def invariants(self) -> Mapping[str, str]:
        return INVARIANTS

    def check(self, scenario: ScenarioView) -> OracleResult:
        started = timing.monotonic()
        result = OracleResult(self.name)
        deadline = timing.Deadline(self.settle_s)
        while True:
            result.rounds += 1
            findings, checked = self._observe(scenario)
            kept, waived = split_waived(findings.violations, scenario.waivers)
            if not kept or deadline.expired():
                break
            time.sleep(_POLL_S)  # polling for events in flight, bounded by the deadline
        result.violations, result.waived = kept, waived
        result.skipped, result.checked = findings.skipped, checked
        result.seconds = timing.monotonic() - started
        return result

    def _observe(self, scenario: ScenarioView) -> tuple[Findings, list[str]]:
        found = Findings()
        logs = self._session_logs(scenario.sessions, found)
        if logs is None:
            return found, []
        for log in logs:
            check_session(log, found)
        checked = list(SESSION_INVARIANTS)
        stack = scenario.stack
        if not stack.matrix.exchange.builtin:
            found.skip("exchange", "the matrix does not run compat's built-in exchange")
            return found, checked
        symbols = frozenset(scenario.symbols_taken)
        if not symbols:
            return found, checked  # no leased symbol: nothing at the exchange is this scenario's alone
        exchange = stack.exchange
        member = gateway_member(exchange.log_path) if exchange is not None else None
        if member is None:
            found.skip("exchange", "no member logon in the exchange's log: the gateway's orders are unknown")
            return found, checked
        tail = audit_tail(stack.audit_path)
        records = ExchangeRecords(symbols, tail.records(symbols), frozenset({member}), dict(tail.instruments))
        check_against_exchange(logs, records, found)
        return found, [*checked, *EXCHANGE_INVARIANTS]

    @staticmethod
    def _session_logs(sessions: Sequence[SessionView], found: Findings) -> list[SessionLog] | None:
        logs: list[SessionLog] = []
        for session in sessions:
            try:
                answer = session.call("delivered_events")
            except OperationUnsupported:
                found.skip("all", "the product's adapter has no delivered_events operation")
                return None
            except DriverCallError as error:
                if error.type == "NotConnected":  # never connected (a refused logon): told nothing
                    continue
                raise
            logs.append(SessionLog(session.name, tuple(answer.get("events") or ()),
                                   int(answer.get("resume_gaps") or 0)))
        return logs
