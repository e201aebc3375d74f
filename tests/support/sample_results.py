"""Literal RunResults shared by the tests of results/ and report/, handed out by the ``lit``
fixture. A plugin (tests/conftest.py loads it; pyproject puts tests/support on sys.path),
because the suite runs with --import-mode=importlib, so test modules cannot import a conftest.

Venue obx: clients 1.0.0 and 2.0.0 by gateways 2.1.0, 2.2.0 and 10.0.0 (10.0.0 sorts last
only under packaging.Version). Venue tlx: one cell. Cell ids follow Cell.id's format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from compat.results.model import CellResult, EnvRecord, RunResults, ScenarioResult, Verdict, WireFrame

LOGON_OUT = WireFrame("out", "LogonRequest", {"username": "u1", "protocol_max": 2}, 1)
LOGON_IN_21 = WireFrame("in", "LogonResponse", {"negotiated_version": 2, "gateway_version": "2.1.0"}, 2)
LOGON_IN_22 = WireFrame("in", "LogonResponse", {"negotiated_version": 2, "gateway_version": "2.2.0"}, 2)
ORDER_OUT = WireFrame("out", "NewOrder", {"symbol": "ABC", "price_ticks": 10025, "qty": 10}, 3)
ACK_21 = WireFrame("in", "ExecutionReport", {"status": "ACCEPTED", "price_ticks": 10025, "seq": 1}, 4)
ACK_22 = WireFrame("in", "ExecutionReport", {"status": "ACCEPTED", "price_ticks": 20050, "seq": 7}, 4)


def cell(client: str, gateway: str, venue: str, *scenarios: ScenarioResult, **kw: object) -> CellResult:
    cid = f"client-{client}--gateway-{gateway}"
    fixed = tuple(
        replace(s, cell_id=cid, nodeid=f"tests/compat/test_s.py::{s.scenario}[{cid}]") for s in scenarios
    )
    return CellResult(cid, client, gateway, venue, fixed, **kw)  # type: ignore[arg-type]


def sr(scenario: str, verdict: Verdict, **kw: object) -> ScenarioResult:
    return ScenarioResult("", scenario, verdict, **kw)  # type: ignore[arg-type]


def sample() -> RunResults:
    return RunResults(
        cells=(
            cell(
                "1.0.0",
                "2.1.0",
                "obx",
                sr("S01_logon", Verdict.PASS, duration_s=0.25),
                sr("S13_md", Verdict.PASS, duration_s=0.5, wire=(LOGON_OUT, LOGON_IN_21, ORDER_OUT, ACK_21)),
                hosts={"gateway": "local", "exchange": "local"},
                bench={"p50_us": 41.5, "p99_us": 120.0, "rate": 5000},
            ),
            cell(
                "1.0.0",
                "2.2.0",
                "obx",
                sr("S01_logon", Verdict.PASS, duration_s=0.25),
                sr(
                    "S13_md",
                    Verdict.FAIL,
                    duration_s=1.5,
                    message="AssertionError: fill price 200.50 != 100.25\nassert 20050 == 10025",
                    log_tails={
                        "gateway": "gw line 1\nprice_ticks decoded as sint64",
                        "client": "client tail",
                    },
                    wire=(LOGON_OUT, LOGON_IN_22, ORDER_OUT, ACK_22),
                ),
            ),
            cell(
                "1.0.0",
                "10.0.0",
                "obx",
                sr(
                    "S01_logon",
                    Verdict.EXPECTED_FAIL,
                    reason="C1 cannot log on to G10 (min protocol 3)",
                    expectation={"kind": "incompatible", "reason": "min protocol 3", "ticket": "GW-10"},
                ),
                sr("S13_md", Verdict.NA, reason="capability md.incremental missing"),
            ),
            cell(
                "2.0.0",
                "2.1.0",
                "obx",
                sr(
                    "S01_logon",
                    Verdict.STALE,
                    reason="declared incompatible but passed",
                    expectation={"kind": "incompatible", "reason": "old bug", "ticket": "GW-7"},
                ),
                sr("S13_md", Verdict.FLAKY, attempts=2, reason="timeout on first attempt"),
            ),
            cell(
                "2.0.0",
                "2.2.0",
                "obx",
                sr(
                    "S01_logon",
                    Verdict.ERROR,
                    message="StartError: gateway 2.2.0 did not report ready within 10.0s",
                ),
            ),
            cell("1.0.0", "2.1.0", "tlx", sr("S01_logon", Verdict.PASS, duration_s=0.125)),
        ),
        envs=(
            EnvRecord("refgw", "2.1.0", "a" * 64, "/envs/refgw-2.1.0", built=True, seconds=3.5),
            EnvRecord("refclient", "1.0.0", "b" * 64, "/envs/refclient-1.0.0", built=False),
        ),
        started_at="2026-11-25T16:00:00Z",
        finished_at="2026-11-25T16:05:00Z",
        matrix_path="matrix.yaml",
        meta={"git_sha": "0123abc"},
    )


@pytest.fixture
def results() -> RunResults:
    return sample()


@dataclass(frozen=True)
class Literals:
    cell: Callable[..., CellResult]
    sr: Callable[..., ScenarioResult]
    sample: Callable[[], RunResults]
    LOGON_OUT: WireFrame = LOGON_OUT
    LOGON_IN_21: WireFrame = LOGON_IN_21
    LOGON_IN_22: WireFrame = LOGON_IN_22
    ORDER_OUT: WireFrame = ORDER_OUT
    ACK_21: WireFrame = ACK_21
    ACK_22: WireFrame = ACK_22


@pytest.fixture(scope="session")
def lit() -> Literals:
    return Literals(cell=cell, sr=sr, sample=sample)
