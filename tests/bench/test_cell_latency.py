"""Per-cell latency (pytest -m bench): order -> ack through each matrix cell's own stack.

Runs against the cell's gateway with the matrix's own auth (its per-session throttle stays
in force, so the load is spread over many sessions at half the throttle each). The
percentiles are attached to the (cell, scenario) result, next to its verdict. A client whose
adapter cannot run load plans is n/a (UnsupportedLoadPlan is an OperationUnsupported).
"""

from __future__ import annotations

import json

import pytest

from compat.bench.gateway import GatewayLoad
from compat.results.verdicts import DETAILS
from compat.run.scenario import Scenario

pytestmark = pytest.mark.bench

DRIVERS = 2
SESSIONS_PER_DRIVER = 8
DURATION_S = 3.0
WARMUP_S = 1.0


def _users_and_limit(compat: Scenario) -> tuple[list[str], str, float]:
    """The last users of the matrix's auth file (scenarios take the first ones) and the throttle."""
    auth_path = compat.stack.settings.auth
    if auth_path is None:
        return [], "", 1000.0
    data = json.loads(auth_path.read_text(encoding="utf-8"))
    users = sorted(dict(data.get("users", {})).items())
    wanted = users[-DRIVERS * SESSIONS_PER_DRIVER:]
    passwords = {password for _, password in wanted}
    if len(passwords) > 1:
        pytest.skip("the bench needs users sharing one password in the auth file")
    throttle = data.get("throttle", {})
    limit = float(throttle.get("limit", 1000)) / float(throttle.get("window_s", 1.0))
    return [user for user, _ in wanted], (passwords.pop() if passwords else ""), limit


def test_order_ack_latency(compat: Scenario, request: pytest.FixtureRequest) -> None:
    users, password, per_session_limit = _users_and_limit(compat)
    rate = 0.5 * per_session_limit * DRIVERS * SESSIONS_PER_DRIVER
    load = GatewayLoad(compat.stack, drivers=DRIVERS, connections=SESSIONS_PER_DRIVER, usernames=users,
                       password=password, symbol=compat.symbol()).connect()
    point, _ = load.run({"rate": rate, "duration_s": DURATION_S, "warmup_s": WARMUP_S},
                        label=f"cell {compat.cell_id}")
    pct = point.percentiles()
    bench = {
        "order_ack_us": {key: round(value / 1000, 1) for key, value in pct.as_dict().items() if key != "count"},
        "samples": pct.count, "valid": point.valid, "invalid_reasons": point.invalid_reasons,
        "target_rate": point.target_rate, "achieved_rate": round(point.achieved_rate, 1),
        "sessions": DRIVERS * SESSIONS_PER_DRIVER, "harness_overhead_ns": round(point.overhead_ns_mean),
    }
    compat.record("latency", bench)
    # The cell's "bench" entry of the matrix report (JSON, HTML grid), next to its verdicts.
    request.node.user_properties.append((DETAILS, json.dumps({"bench": bench})))
    assert point.valid, f"the latency run is void: {point.invalid_reasons}"
