"""A failure's one-liner keeps its cause: the argparse error of a gateway that died at start,
the fields an assertion found different, an exception's last line; context after it, cut
first. Identical failures are listed once per wheel and cause."""

from __future__ import annotations

from types import SimpleNamespace

from compat.results.grid import group_failures, scenario_reason
from compat.results.model import CellResult, ScenarioResult, Verdict
from compat.results.verdicts import cause_line, judge, split_cause

# What pytest prints for a ProcessStartError raised by compat/harness/local.py (_wait_ready).
START_ERROR = """\
    @pytest.fixture(scope="session")
    def compat_cell_stack(compat_cell, compat_envs):
>       stack.start()

compat/plugin/fixtures.py:88:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
E   compat.errors.ProcessStartError: gateway-1.0.0 died at start with exit code 2 on host local, 0.4s after \
start, before it could report ready (expected a line matching 'GATEWAY READY (?P<host>\\S+):(?P<port>\\d+)' on \
stdout); log: /work/.compat/runs/client-2.0.0--gateway-1.0.0--venue-obx/gateway.log (last 20 lines below)
E   usage: refgw [-h] --port PORT [--exchange HOST:PORT]
E   refgw: error: unrecognized arguments: --venue obx

compat/harness/local.py:362: ProcessStartError"""

DICT_ASSERT = """\
    def test_fill(compat):
>       assert fill == {"price": 100.25, "qty": 5, "side": "buy"}
E       AssertionError: assert {'price': 200.5, 'qty': 5, 'side': 'buy', 'venue': 'obx', 'account': 'ACC-000001'} == \
{'price': 100.25, 'qty': 5, 'side': 'buy'}
E
E         Common items:
E         {'qty': 5, 'side': 'buy'}
E         Left contains 2 more items:
E         {'account': 'ACC-000001', 'venue': 'obx'}
E         Differing items:
E         {'price': 200.5} != {'price': 100.25}
E         Use -v to get more diff

tests/compat/test_fill.py:12: AssertionError"""

DATACLASS_ASSERT = """\
E       AssertionError: assert Fill(order_id='O-1', price=200.5, qty=5, side='buy', venue='obx', text='a long one') \
== Fill(order_id='O-1', price=100.25, qty=5, side='buy', venue='obx', text='a long one')
E
E         Matching attributes:
E         ['order_id', 'qty', 'side', 'venue', 'text']
E         Differing attributes:
E         ['price']
E
E         Drill down into differing attribute price:
E           price: 200.5 != 100.25
E         Use -v to get more diff"""

REMOTE = """\
E   compat.errors.DriverCallError: insert on client-1.0.0 failed in the client library:
E   Traceback (most recent call last):
E     File "/venv/lib/python3.12/site-packages/refclient/session.py", line 88, in insert
E       return self._codec.encode(order)
E   KeyError: 'price_ticks'"""


def test_a_process_that_died_at_start_reads_as_its_last_log_line_first() -> None:
    cause, context = split_cause(START_ERROR)
    assert cause == "refgw: error: unrecognized arguments: --venue obx"
    assert context.startswith("ProcessStartError: gateway-1.0.0 died at start with exit code 2")
    line = cause_line(START_ERROR)
    assert line.startswith("refgw: error: unrecognized arguments: --venue obx — ProcessStartError: gateway-1.0.0")
    assert len(line) <= 160 and line.endswith("…")


def test_an_assertion_on_two_values_reads_as_the_fields_that_differ() -> None:
    assert cause_line(DICT_ASSERT).startswith("differs: {'price': 200.5} != {'price': 100.25} — AssertionError")
    assert cause_line(DATACLASS_ASSERT).startswith("differs: price: 200.5 != 100.25 — AssertionError: assert Fill(")


def test_an_exception_reads_as_its_last_line_and_a_message_stays_first() -> None:
    assert cause_line(REMOTE) == (
        "KeyError: 'price_ticks' — DriverCallError: insert on client-1.0.0 failed in the client library:"
    )
    custom = "E   AssertionError: gateway 2.0.0 dropped the price field\nE   assert '2.0.0' != '2.0.0'"
    assert cause_line(custom) == "AssertionError: gateway 2.0.0 dropped the price field — assert '2.0.0' != '2.0.0'"
    assert cause_line("compat: no line from the driver\nsecond line") == "compat: no line from the driver"
    assert cause_line("gw died; log: /tmp/gw.log (last 20 lines below)\nusage: gw\ngw: error: bad") == (
        "gw: error: bad — gw died"  # an exception's message with a log tail, outside a pytest longrepr
    )
    assert cause_line("") == ""


def test_the_phase_verdict_records_the_cause() -> None:
    report = SimpleNamespace(when="setup", skipped=False, failed=True, longreprtext=START_ERROR, duration=0.1)
    verdict = judge(report, SimpleNamespace(excinfo=None), None)
    assert verdict is not None and verdict["verdict"] == "error"
    assert verdict["reason"].startswith("refgw: error: unrecognized arguments: --venue obx — ")


def _cell(client: str, gateway: str, venue: str, *scenarios: ScenarioResult) -> CellResult:
    cell_id = f"client-{client}--gateway-{gateway}--venue-{venue}"
    return CellResult(cell_id=cell_id, client_version=client, gateway_version=gateway, venue=venue,
                      scenarios=tuple(ScenarioResult(cell_id, s.scenario, s.verdict, reason=s.reason,
                                                     message=s.message) for s in scenarios))


def _error(name: str, message: str = START_ERROR) -> ScenarioResult:
    # the reason an older compat recorded: the message's first E line, cut before the cause
    old_reason = "compat.errors.ProcessStartError: gateway-1.0.0 died at start with exit code 2 on host local"
    return ScenarioResult("", name, Verdict.ERROR, reason=old_reason, message=message)


def test_scenario_reason_puts_the_cause_first_even_for_an_older_recorded_reason() -> None:
    cell = _cell("2.0.0", "1.0.0", "obx", _error("S01_logon"))
    assert scenario_reason(cell.scenarios[0]).startswith("refgw: error: unrecognized arguments: --venue obx — ")
    declared = ScenarioResult("c", "S02", Verdict.EXPECTED_FAIL, reason="client 2.0 has no amend",
                              message=DICT_ASSERT)
    assert scenario_reason(declared) == "client 2.0 has no amend"  # an expected-fail reads as its declaration


def test_identical_failures_are_one_entry_per_wheel_and_cause() -> None:
    other_path = START_ERROR.replace("venue-obx/gateway.log", "venue-tlx/gateway.log")
    cells = [
        _cell("1.0.0", "1.0.0", "obx", _error("S01_logon"), _error("S02_fill")),
        _cell("2.0.0", "1.0.0", "tlx", _error("S01_logon", other_path), _error("S02_fill", other_path)),
        _cell("1.0.0", "2.0.0", "obx", ScenarioResult("", "S02_fill", Verdict.FAIL, message=DICT_ASSERT)),
        _cell("2.0.0", "2.0.0", "obx", ScenarioResult("", "S02_fill", Verdict.FAIL, message=DICT_ASSERT)),
        _cell("2.0.0", "3.0.0", "obx", ScenarioResult("", "S02_fill", Verdict.FAIL, message=DICT_ASSERT)),
        _cell("1.0.0", "3.0.0", "obx", ScenarioResult("", "S02_fill", Verdict.FAIL, message=REMOTE)),
    ]
    groups = group_failures([(c, s) for c in cells for s in c.scenarios])
    assert [(g.verdict, g.wheel, len(g.pairs)) for g in groups] == [
        (Verdict.ERROR, "gateway 1.0.0", 4),
        (Verdict.FAIL, "gateway 2.0.0", 2),
        (Verdict.FAIL, "client 2.0.0 × gateway 3.0.0", 1),
        (Verdict.FAIL, "client 1.0.0 × gateway 3.0.0", 1),
    ]
    assert groups[0].line() == (
        "gateway 1.0.0: refgw: error: unrecognized arguments: --venue obx (2 cells, 2 scenarios: S01_logon, S02_fill)"
    )
    assert groups[0].cells == ("client-1.0.0--gateway-1.0.0--venue-obx", "client-2.0.0--gateway-1.0.0--venue-tlx")
    assert groups[1].line() == (
        "gateway 2.0.0: differs: {'price': 200.5} != {'price': 100.25} (2 cells, 1 scenario: S02_fill)"
    )
