"""A deterministic synthetic matrix, for previewing the reports at scale (``compat report
--demo``) and for the readability test at 10 by 10 versions in 2 venues. Not real results."""

from __future__ import annotations

from compat.results.model import CellResult, EnvRecord, RunResults, ScenarioResult, Verdict, WireFrame

_SCENARIOS = ("S01_logon", "S04_insert_cancel", "S05_cross", "S08_ioc", "S11_amend", "S13_md_snapshot")


def _version(i: int) -> str:
    return f"{1 + i // 4}.{i % 4}.0"


def _verdict(ci: int, gi: int, si: int) -> tuple[Verdict, str | None]:
    """A plausible pattern: old clients cannot log on to new gateways, one broken gateway,
    capability gaps, one stale expectation, one flaky and one infra error."""
    if gi - ci >= 6:
        return (Verdict.EXPECTED_FAIL, "client protocol range is disjoint from the gateway's")
    if gi == 7 and si == 5 and ci >= 4:
        return (Verdict.FAIL, None)
    if si == 4 and ci < 5:
        return (Verdict.NA, "capability order.amend missing")
    if (ci, gi, si) == (2, 3, 1):
        return (Verdict.STALE, "declared incompatible but passed")
    if (ci, gi, si) == (6, 2, 2):
        return (Verdict.FLAKY, "timeout on first attempt")
    if (ci, gi, si) == (9, 9, 0):
        return (Verdict.ERROR, "gateway did not report ready within 10.0s")
    return (Verdict.PASS, None)


def _frames(gateway: str, broken: bool) -> tuple[WireFrame, ...]:
    price = 20050 if broken else 10025
    return (
        WireFrame("out", "LogonRequest", {"username": "u1", "protocol_max": 3}, 1),
        WireFrame("in", "LogonResponse", {"negotiated_version": 2, "gateway_version": gateway}, 2),
        WireFrame("out", "NewOrder", {"symbol": "ABC", "price_ticks": 10025, "qty": 10}, 3),
        WireFrame("in", "ExecutionReport", {"status": "ACCEPTED", "price_ticks": price}, 4),
    )


def demo_results(
    clients: int = 10, gateways: int = 10, venues: tuple[str, ...] = ("obx", "tlx")
) -> RunResults:
    cells = []
    for venue in venues:
        for ci in range(clients):
            for gi in range(gateways):
                client, gateway = _version(ci), _version(gi)
                cell_id = f"client-{client}--gateway-{gateway}"
                scenarios = []
                for si, name in enumerate(_SCENARIOS):
                    verdict, reason = _verdict(ci, gi, si)
                    failed = verdict in (Verdict.FAIL, Verdict.ERROR)
                    scenarios.append(
                        ScenarioResult(
                            cell_id=cell_id,
                            scenario=name,
                            verdict=verdict,
                            duration_s=0.05 + 0.01 * ((ci * 7 + gi * 3 + si) % 11),
                            reason=reason,
                            message=(
                                f"AssertionError: fill price 200.50 != 100.25 (gateway {gateway})\n"
                                "assert 20050 == 10025"
                                if verdict is Verdict.FAIL
                                else (f"StartError: {reason}" if failed else None)
                            ),
                            expectation=(
                                {"kind": "incompatible", "reason": reason, "ticket": "DEMO-1"}
                                if verdict in (Verdict.EXPECTED_FAIL, Verdict.STALE)
                                else None
                            ),
                            log_tails=(
                                {
                                    "gateway": f"gateway {gateway} started\ndecoded price_ticks=20050",
                                    "exchange": "EXCHANGE READY obx=127.0.0.1:40001\nfill 10@200.50",
                                    "client": "driver: insert ok\nfill event price=200.50",
                                }
                                if failed
                                else {}
                            ),
                            wire=_frames(gateway, gi == 7) if si == 5 else (),
                            attempts=2 if verdict is Verdict.FLAKY else 1,
                            nodeid=f"tests/compat/test_demo.py::test_{name}[{venue}-{cell_id}]",
                        )
                    )
                cells.append(
                    CellResult(
                        cell_id=cell_id,
                        client_version=client,
                        gateway_version=gateway,
                        venue=venue,
                        scenarios=tuple(scenarios),
                        hosts={"exchange": "local", "gateway": "local", "client": "local"},
                        bench={"p50_us": 40 + gi, "p99_us": 110 + 3 * gi, "rate_per_s": 5000}
                        if ci == clients - 1
                        else None,
                    )
                )
    envs = tuple(
        EnvRecord(
            product, _version(i), f"{i:02d}" * 32, f".compat/envs/{product}-{_version(i)}", built=i % 2 == 0
        )
        for product in ("refclient", "refgw")
        for i in range(max(clients, gateways))
    )
    return RunResults(
        cells=tuple(cells),
        envs=envs,
        started_at="2026-11-25T16:00:00Z",
        finished_at="2026-11-25T16:20:00Z",
        matrix_path="matrix.yaml",
        meta={"demo": True},
    )
