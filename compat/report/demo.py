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


# --- a matrix of the reference matrix's size ---------------------------------------------------

# The reference matrix (matrix.yaml): 6 client × 6 gateway versions (the candidates included) on
# 2 venues, 45 scenarios per cell plus a live upgrade to the next gateway and a downgrade to the
# one before; about 56 % pass, 23 % expected-fail (each with pytest's ~2.5 KB failure text, of
# which the reports keep the cause: compat.results.evidence) and 20 % n/a; CPU/RSS of 3 roles per
# cell; the schema changes of every pair (~115 KB of meta). Measured on a run of it (3,360
# results): JSON 2.3 MB, HTML 2.5 MB.
REFERENCE_CLIENTS = ("1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0", "3.1.0.dev0+candidate")
REFERENCE_GATEWAYS = ("1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0", "3.1.0.dev0+candidate")
REFERENCE_SCENARIOS = 45

_DECLARED_FAILURE = """compat = <compat.run.scenario.Scenario object at 0x7f122a41b390>

    def test_{name}(compat: Scenario) -> None:
        \"\"\"Old clients send only the float price, new ones ticks: both land on the same exact price.\"\"\"
        symbol = compat.symbol("FLT")
        s = compat.session()
        event = s.place(symbol, "SELL", 1, "0.3")
        assert event["kind"] == "accepted", event
        fills = s.wait_for(lambda e: e["kind"] == "fill", timeout_s=5.0)
        assert [(f["qty"], f["price"]) for f in fills] == [(1, "0.30")], fills
        book = compat.exchange_book(symbol)
        assert book.best_ask is None, book
{filler}
>       assert event["kind"] == "accepted", event
E       AssertionError: {{'kind': 'rejected', 'code': 'PRICE_NOT_ON_TICK', 'raw_code': 3, 'reason': \
'PRICE_NOT_ON_TICK (3): price 0.3 is not a multiple of the tick 0.1', ...}}
E       assert 'rejected' == 'accepted'
E
E         - accepted
E         + rejected

tests/compat/test_{name}.py:54: AssertionError"""


def _reference_scenario(venue: str, cell_id: str, client: int, gateway: int, index: int) -> ScenarioResult:
    name = f"scenario_{index:02d}_" + ("price_exact_fill[FLT-0.3]" if index % 9 == 0 else "orders")
    nodeid = f"tests/compat/test_reference_{index % 7}.py::test_{name}[{cell_id}]@{cell_id}"
    reason = ("refgw <=3.0 never reconnects to the exchange: when its venue connection drops it logs it and "
              "carries on with the dead link, so orders are never answered (no reject, no reason)")
    if gateway - client >= 4 or (client - gateway >= 4 and index % 2) or index % 9 == 4:
        declared = "G1.x float on-tick check rejects 0.3 at tick 0.1"
        expectation = {"kind": "incompatible", "reason": declared, "ticket": None, "expires": None, "line": 83}
        message = _DECLARED_FAILURE.format(name=name, filler="        # …\n" * 75)
        return ScenarioResult(cell_id, name, Verdict.EXPECTED_FAIL, 1.2, declared, message, expectation,
                              nodeid=nodeid)
    if index % 5 == 3:
        return ScenarioResult(cell_id, name, Verdict.NA, 0.0004, f"n/a: {reason}",
                              expectation={"kind": "unsupported", "reason": reason, "ticket": None,
                                           "expires": None, "line": 47}, nodeid=nodeid)
    return ScenarioResult(cell_id, name, Verdict.PASS, 0.4 + 0.01 * index, nodeid=nodeid,
                          metrics={"reconnect_gap_s": 0.41} if index == 44 else {})


def _role_figures(seed: int) -> dict[str, object]:
    return {"samples": 120 + seed, "cpu_pct_mean": 1.75, "cpu_pct_max": 8.0, "rss_start_bytes": 29_122_560,
            "rss_max_bytes": 30_875_648 + seed, "rss_end_bytes": 30_875_648, "rss_slope_bytes_per_s": 1347.9,
            "leak_suspected": False, "leak_reason": None, "duration_s": 30.4, "pids": [13000 + seed],
            "skipped": None, "leak_judged": True}


def _swap_scenarios(cell_id: str, gateway: int) -> list[ScenarioResult]:
    """The live swaps of a cell (as matrix.yaml's ``swaps:`` declares them): an upgrade to the
    next gateway and a downgrade to the one before; a downgrade across a major declared
    incompatible (the journal format changed), an upgrade from 1.x n/a (no session resume)."""
    swaps = []
    for direction, target in (("upgrade", gateway + 1), ("downgrade", gateway - 1)):
        if not 0 <= target < len(REFERENCE_GATEWAYS):
            continue
        source, to = REFERENCE_GATEWAYS[gateway], REFERENCE_GATEWAYS[target]
        name = f"live_{direction}[to-{to}]"
        nodeid = f"tests/compat/test_live_{direction}.py::test_live_{direction}[{cell_id}-to-{to}]@{cell_id}"
        swap = {"from": source, "to": to, "direction": direction}
        if direction == "downgrade" and source[0] != to[0]:
            declared = "the journal format changed between the majors: the older gateway cannot resume from it"
            swaps.append(ScenarioResult(cell_id, name, Verdict.EXPECTED_FAIL, 3.1, declared,
                                        "RuntimeError: journal version 3 unreadable", nodeid=nodeid, swap=swap,
                                        expectation={"kind": "incompatible", "reason": declared, "line": 120}))
        elif source.startswith("1."):
            swaps.append(ScenarioResult(cell_id, name, Verdict.NA, 0.35, f"n/a: gateway {source} did not grant "
                                        "session.resume (capability session.resume)", nodeid=nodeid, swap=swap,
                                        capability="session.resume"))
        else:
            swaps.append(ScenarioResult(cell_id, name, Verdict.PASS, 4.2, nodeid=nodeid, swap=swap,
                                        metrics={"reconnect_gap_s": 0.41}))
    return swaps


def reference_size_results(*, broken: bool = True) -> RunResults:
    """A synthetic run the size and shape of the reference matrix's (``REFERENCE_*``), with a
    break of the candidate gateway on both venues, flips since a release run and a declared known
    issue: what the size bounds and the browser test of the HTML report are measured on. Without
    ``broken``, the same run with nothing broken (no break, nothing flipped): what the terminal's
    line budget is measured on."""
    cells = []
    for venue in ("obx", "tlx"):
        for ci, client in enumerate(REFERENCE_CLIENTS):
            for gi, gateway in enumerate(REFERENCE_GATEWAYS):
                cell_id = f"client-{client}--gateway-{gateway}--venue-{venue}"
                scenarios = [_reference_scenario(venue, cell_id, ci, gi, i) for i in range(REFERENCE_SCENARIOS)]
                scenarios += _swap_scenarios(cell_id, gi)
                if broken and gateway.endswith("candidate") and ci >= 2:  # the candidate gateway drops the fill price
                    scenarios[1] = ScenarioResult(
                        cell_id, scenarios[1].scenario, Verdict.FAIL, 2.1, None,
                        "AssertionError: fill price '' != '10.00'\nassert '' == '10.00'",
                        log_tails={"gateway": f"gateway {gateway} started\nsent ExecutionReport without price",
                                   "client": "driver: fill event price=''"},
                        wire=_frames(gateway, True), nodeid=scenarios[1].nodeid)
                roles = {"client:c1": _role_figures(ci), "exchange": _role_figures(50), "gateway": _role_figures(gi)}
                cells.append(CellResult(cell_id, client, gateway, venue, tuple(scenarios),
                                        hosts={"exchange": "local", "gateway": "local", "client": "local"},
                                        resources={"interval_s": 0.25, "duration_s": 30.4, "roles": roles}))
    changes = [{"kind": "field-added", "breaking": False, "where": f"refgw.InsertOrder.field_{i} ({i})",
                "detail": f"added string field_{i}"} for i in range(6)]
    pairs = [{"client_version": c, "gateway_version": g, "a": f"refclient-{c}-py3-none-any.whl",
              "b": f"refgw-{g}-py3-none-any.whl", "changes": changes}
             for c in REFERENCE_CLIENTS for g in REFERENCE_GATEWAYS]
    failing = [c for c in cells if any(s.verdict is Verdict.FAIL for s in c.scenarios)]
    flips = [{"venue": c.venue, "cell_id": c.cell_id, "scenario": c.scenarios[1].scenario, "before": "pass",
              "after": "fail"} for c in failing]
    if broken:
        flips.append({"venue": "obx", "cell_id": cells[8].cell_id, "scenario": cells[8].scenarios[2].scenario,
                      "before": "fail", "after": cells[8].scenarios[2].verdict.value})
    meta = {
        "matrix": {"id": "matrix.yaml", "path": "matrix.yaml", "sha256": "0" * 64},
        "schema": {"pairs": pairs},
        "support_window": {"client_minors": 3, "gateway_minors": 2, "source": "matrix.yaml settings.support_window"},
        "known_issues": [{"role": "client", "versions": "<3.1.dev0,>=2.0", "finding": "memory-growth",
                          "reason": "refclient 2.0-3.0 keeps every order for its session's lifetime",
                          "ticket": None, "line": 44, "source": "matrix.yaml"}],
        "since_release": {"label": "release", "baseline": "run 41 (release, 0123abcdef01, 2026-11-25T16:05:00Z)",
                          "flips": flips, "new_cells": 0, "gone_cells": 0, "note": None, "edited": None},
    }
    envs = tuple(EnvRecord(product, version, f"{i:02d}" * 32, f".compat/envs/{product}-{version}", built=False)
                 for product, versions in (("refclient", REFERENCE_CLIENTS), ("refgw", REFERENCE_GATEWAYS))
                 for i, version in enumerate(versions))
    return RunResults(cells=tuple(cells), envs=envs, started_at="2026-12-07T14:51:00Z",
                      finished_at="2026-12-07T15:14:24Z", matrix_path="matrix.yaml", meta=meta)
