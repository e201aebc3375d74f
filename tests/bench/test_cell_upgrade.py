"""Per-cell live-upgrade blip (pytest -m bench): the cell's gateway swapped to the next release
under open-loop load, on the cell's own stack, through its fault proxy, with the matrix's auth.

The load is spread over several sessions at a fifth of the per-session throttle each (the
matrix's throttle stays in force, and the backlog resent after the outage must fit it). The
blip (reconnect gap, max, affected orders, before/during/after p99) is attached to the cell's
result, next to its verdicts. n/a when the cell's gateway is the newest in the plan or does
not grant session.resume. The audit log is not reconciled here (the cell's exchange has other
scenarios' orders); loss and duplicates still void it.
"""

from __future__ import annotations

import json

import pytest

from compat.artifacts.envs import EnvCache
from compat.bench.floor import MidRun
from compat.bench.gateway import GatewayLoad
from compat.bench.upgrade import DEFAULT_BUCKET_MS, analyse, describe, swap_gateway
from compat.errors import OperationUnsupported
from compat.results.verdicts import DETAILS
from compat.run.scenario import Scenario

pytestmark = [pytest.mark.bench, pytest.mark.compat_disruptive]

SESSIONS = 8
# A fifth of the per-session throttle: after an outage of T s each session resends its backlog
# (rate x T orders) at once, which must still fit the throttle's window (with T up to ~4 s).
THROTTLE_FRACTION = 0.2
SKIP_USERS = 16  # the last 16 users are test_cell_latency's; take the ones before them
DURATION_S = 5.0
WARMUP_S = 0.5


def _users_and_limit(compat: Scenario) -> tuple[list[str], str, float]:
    auth_path = compat.stack.settings.auth
    if auth_path is None:
        return [], "", 1000.0
    data = json.loads(auth_path.read_text(encoding="utf-8"))
    users = sorted(dict(data.get("users", {})).items())[-(SKIP_USERS + SESSIONS):-SKIP_USERS]
    passwords = {password for _, password in users}
    if len(users) < SESSIONS or len(passwords) > 1:
        pytest.skip(f"the blip needs {SESSIONS} more users sharing one password in the auth file")
    throttle = data.get("throttle", {})
    limit = float(throttle.get("limit", 1000)) / float(throttle.get("window_s", 1.0))
    return [user for user, _ in users], passwords.pop(), limit


def test_upgrade_blip(compat: Scenario, compat_env_cache: EnvCache, request: pytest.FixtureRequest) -> None:
    target = compat.neighbour_gateway(+1)
    if target is None:
        raise OperationUnsupported("scenario", "gateway.neighbour",
                                   f"no gateway after {compat.gateway_version} in the plan")
    compat.require(compat.session(), "session.resume")
    users, password, per_session_limit = _users_and_limit(compat)
    rate = THROTTLE_FRACTION * per_session_limit * SESSIONS
    stack = compat.stack
    load = GatewayLoad(stack, connections=SESSIONS, usernames=users, password=password, symbol=compat.symbol(),
                       via_proxy=True, name="blip").connect()
    env = compat_env_cache.ensure(target)
    plan = {"rate": rate, "duration_s": DURATION_S, "warmup_s": WARMUP_S,
            "timeline_bucket_ms": DEFAULT_BUCKET_MS, "drain_timeout_s": 15.0}
    swap = MidRun(WARMUP_S + 0.3 * DURATION_S, lambda: swap_gateway(stack, target, env), "the gateway swap")
    point, results, record = load.run_raw(plan, f"blip {compat.cell_id}", swap, order={"reconnect": True})
    blip = analyse(point, results, record)
    windows = {name: round(w.percentiles().p99 / 1000, 1) for name, w in blip.windows.items()}
    summary = {"to": target.version, "reconnect_gap_ms": round(blip.gap_ns / 1e6, 1),
               "max_ms": round(blip.max_ns / 1e6, 1), "affected": blip.affected, "resent": blip.resent,
               "p99_us": windows, "valid": point.valid and blip.valid,
               "invalid_reasons": point.invalid_reasons + blip.reasons, "rate": rate}
    compat.record("upgrade_blip", summary)
    request.node.user_properties.append((DETAILS, json.dumps({"upgrade_blip": summary})))
    assert point.valid and blip.valid, "the blip run is void:\n" + "\n".join(
        point.invalid_reasons + describe(blip))
