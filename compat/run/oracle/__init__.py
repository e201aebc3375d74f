"""The invariant oracle: after every scenario that passed, reconcile what each session was told
with the exchange and the protocol's invariants; a violation fails the scenario.

- ``model``: the interface (``Oracle``, ``Violation``, ``OracleResult``) and ``Waiver``;
- ``invariants``: the trading protocol's invariants, pure functions over what was seen;
- ``exchange_view``: the built-in exchange's audit log (read incrementally) and the gateway's member;
- ``trading``: the built-in oracle (``TradingOracle``), for compat's simulated exchange.

``verify`` is what the plugin calls after a scenario's body returned (``compat.plugin.fixtures``).
"""

from __future__ import annotations

import json
from pathlib import Path

from compat.errors import InvariantViolation
from compat.run.oracle.model import Oracle, OracleResult, ScenarioView, Violation, Waiver, split_waived
from compat.run.oracle.trading import TradingOracle

__all__ = ["Oracle", "OracleResult", "TradingOracle", "Violation", "Waiver", "default_oracle", "verify"]

_SHOWN = 12  # violations listed in the failure message; the count says how many more


def default_oracle(builtin_exchange: bool) -> Oracle | None:
    """The oracle a cell gets unless the ``compat_oracle`` fixture is overridden: the trading
    oracle on compat's built-in exchange, none with an own simulator or no exchange."""
    return TradingOracle() if builtin_exchange else None


def verify(oracle: Oracle, scenario: ScenarioView, log: Path | None = None, name: str = "") -> OracleResult:
    """Run ``oracle`` over ``scenario``; raise ``InvariantViolation`` naming what it found.

    ``log``: a JSON-lines file the result is appended to (the scenario's ``name``, what was
    checked, skipped, how long it took), beside the cell's process logs.
    """
    result = oracle.check(scenario)
    # The scenario's waivers apply to whatever an oracle found (one that applied them already
    # finds nothing more to move).
    result.violations, waived = split_waived(result.violations, scenario.waivers)
    result.waived = [*result.waived, *waived]
    if log is not None:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"scenario": name, **result.record()}, default=str) + "\n")
    if result.violations:
        raise InvariantViolation(_message(result), tuple(dict.fromkeys(v.invariant for v in result.violations)))
    return result


def _message(result: OracleResult) -> str:
    violations = result.violations
    names = ", ".join(dict.fromkeys(v.invariant for v in violations))
    lines = [f"invariant oracle ({result.oracle}): {len(violations)} violation(s) of {names} "
             "after the scenario passed"]
    lines += [f"  {v.line()}" for v in violations[:_SHOWN]]
    if len(violations) > _SHOWN:
        lines.append(f"  … and {len(violations) - _SHOWN} more")
    if result.waived:
        lines.append(f"  ({len(result.waived)} more waived by the scenario)")
    return "\n".join(lines)
