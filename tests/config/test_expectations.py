"""Expectation matching: version ranges, venue and scenario globs, first match wins, expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from packaging.specifiers import SpecifierSet

from compat.config.cell import Cell, Release
from compat.config.expectations import (
    Expectation,
    Failure,
    FailurePattern,
    declared_failure_matches,
    expired,
    find,
    unmatched,
)

TODAY = dt.date(2026, 11, 25)


def release(role: str, version: str, candidate: bool = False) -> Release:
    return Release(
        role, "ref" + role, version, Path(f"/w/{role}-{version}.whl"), "0" * 64, candidate=candidate
    )


def cell(client: str, gateway: str, venue: str = "obx", candidate: bool = False) -> Cell:
    return Cell(release("client", client), release("gateway", gateway, candidate), venue)


def rule(
    client: str = "",
    gateway: str = "",
    venue: str = "*",
    scenario: str = "*",
    kind: str = "incompatible",
    reason: str = "r",
    expires: dt.date | None = None,
    line: int = 1,
) -> Expectation:
    return Expectation(
        SpecifierSet(client), SpecifierSet(gateway), venue, scenario, kind, reason, expires=expires, line=line
    )


def test_version_ranges() -> None:
    r = rule(client=">=3.0", gateway="<2.0")
    assert find([r], cell("3.0.0", "1.1.0"), "test_s01_logon", TODAY) is r
    assert find([r], cell("2.1.0", "1.1.0"), "test_s01_logon", TODAY) is None
    assert find([r], cell("3.0.0", "2.0.0"), "test_s01_logon", TODAY) is None


def test_ranges_apply_to_prerelease_candidates() -> None:
    r = rule(gateway=">=3.0")
    assert find([r], cell("1.0.0", "3.1.0.dev0", candidate=True), "s", TODAY) is r


def test_empty_range_matches_everything() -> None:
    r = rule()
    assert find([r], cell("0.1", "99.0"), "anything", TODAY) is r


def test_venue_and_scenario_globs() -> None:
    r = rule(venue="t*", scenario="test_s1[12]_*")
    assert find([r], cell("1.0", "1.0", venue="tlx"), "test_s11_amend", TODAY) is r
    assert find([r], cell("1.0", "1.0", venue="obx"), "test_s11_amend", TODAY) is None
    assert find([r], cell("1.0", "1.0", venue="tlx"), "test_s13_book", TODAY) is None


def test_scenario_glob_is_case_sensitive() -> None:
    assert find([rule(scenario="S01*")], cell("1.0", "1.0"), "s01_logon", TODAY) is None


def test_first_match_wins() -> None:
    narrow = rule(client="==2.1.0", kind="unsupported", line=10)
    broad = rule(client=">=2", line=20)
    assert find([narrow, broad], cell("2.1.0", "1.0"), "s", TODAY) is narrow
    assert find([broad, narrow], cell("2.1.0", "1.0"), "s", TODAY) is broad
    assert find([narrow, broad], cell("2.0.0", "1.0"), "s", TODAY) is broad


def test_expired_expectation_does_not_match_and_is_reported() -> None:
    old = rule(expires=dt.date(2026, 11, 24), line=5)
    fallback = rule(kind="unsupported", line=9)
    assert find([old, fallback], cell("1.0", "1.0"), "s", TODAY) is fallback
    assert find([old], cell("1.0", "1.0"), "s", TODAY) is None
    assert expired([old, fallback], TODAY) == [old]


def test_expiry_day_itself_still_matches() -> None:
    r = rule(expires=TODAY)
    assert find([r], cell("1.0", "1.0"), "s", TODAY) is r
    assert expired([r], TODAY) == []


def test_describe_names_the_line() -> None:
    text = rule(client="<2", reason="needs v2", line=42).describe()
    assert "client <2" in text and "needs v2" in text and "line 42" in text


def test_a_scenario_pattern_may_carry_the_test_prefix() -> None:
    assert rule(scenario="test_legacy_*").matches(cell("1.0", "2.0"), "legacy_v1_positional")
    assert rule(scenario="legacy_*").matches(cell("1.0", "2.0"), "legacy_v1_positional")
    assert not rule(scenario="test_other").matches(cell("1.0", "2.0"), "legacy_v1_positional")


def test_unmatched_names_the_rule_and_each_pattern_that_matched_nothing() -> None:
    cells = [cell("1.0", "2.0", "obx"), cell("2.0", "3.0", "tlx")]
    scenarios = ["cancel", "insert", "bad_frame[oversize]"]
    rules = [
        rule(scenario="cancel"),  # matches: not reported
        rule(client=">=9", scenario="canel", line=12),  # two misses in one rule
        rule(venue="fix*", line=14),
        rule(client="==1.0", gateway="==3.0", scenario="cancel", line=16),  # each matches, never together
        rule(gateway="==2.0", scenario="bad_frame[[]*"),  # a parametrized scenario (fnmatch: [[] is a literal [)
    ]
    lines = unmatched(rules, cells, scenarios)
    assert len(lines) == 3, lines
    assert lines[0].startswith("matrix.yaml line 12: expectation (incompatible: ")
    assert "client >=9 matches none of the client versions run (1.0, 2.0)" in lines[0]
    assert ("scenario 'canel' matches none of the 3 scenarios collected (bad_frame[oversize], cancel, insert)"
            in lines[0])
    assert "venue 'fix*' matches none of the venues run (obx, tlx)" in lines[1]
    assert "line 16" in lines[2] and "no collected (cell, scenario) matches them all" in lines[2]


def test_rules_about_scenarios_the_run_left_out_are_not_judged() -> None:
    assert unmatched([rule(scenario="upgrade_blip")], [cell("1.0", "2.0")], ["cancel"], not_run=["upgrade_blip"]) == []
    assert len(unmatched([rule(scenario="upgrade_blip")], [cell("1.0", "2.0")], ["cancel"])) == 1


def test_a_failure_pattern_matches_every_field_it_gives() -> None:
    failure = Failure(types=("ProtocolVersionError", "DriverCallError", "CompatibilityBreak", "AssertionError"),
                      code="UNSUPPORTED_PROTOCOL_VERSION", text="connect raised ProtocolVersionError: supports 2..3")
    assert FailurePattern(error="ProtocolVersionError").matches(failure)
    assert FailurePattern(error="AssertionError").matches(failure)  # a base class matches too
    assert FailurePattern(code="UNSUPPORTED_PROTOCOL_VERSION", message=r"supports \d\.\.\d").matches(failure)
    assert not FailurePattern(error="ProtocolVersionError", message="Timeout").matches(failure)
    assert not FailurePattern(error="Timeout").matches(failure)
    assert declared_failure_matches([], failure)  # a rule that says nothing accepts any failure
    either = [FailurePattern(error="Timeout"), FailurePattern(code="UNSUPPORTED_PROTOCOL_VERSION")]
    assert declared_failure_matches(either, failure)
    assert not declared_failure_matches([FailurePattern(error="Timeout")], failure)
    assert FailurePattern.from_record({"error": "X", "message": "y"}) == FailurePattern(error="X", message="y")


def test_a_rule_describes_how_it_fails() -> None:
    r = Expectation(SpecifierSet(), SpecifierSet(), "*", "s", "incompatible", "why", line=9,
                    fails_with=(FailurePattern(error="Timeout", message="instrument_status"),))
    assert "fails with [error 'Timeout', message 'instrument_status']" in r.describe()
