"""Live swaps: which (from, to) pairs matrix.yaml's ``swaps:`` declares, and expectations by pair."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from compat.config.cell import Cell, Release
from compat.config.expectations import Expectation, find, unmatched
from compat.config.matrix import load_matrix
from compat.config.swaps import DEFAULT_RULES, Swap, SwapRule, plan_swaps, swaps_from
from compat.errors import MatrixError

TODAY = dt.date(2026, 11, 25)


def gw(version: str, candidate: bool = False) -> Release:
    return Release("gateway", "refgw", version, Path(f"/w/refgw-{version}.whl"), "0" * 64, candidate=candidate)


# oldest first, the candidate last: how a plan orders a role's releases
GATEWAYS = [gw("2.1.0"), gw("3.0.0"), gw("3.0.1"), gw("3.0.2"), gw("3.1.0.dev0", candidate=True)]


def pairs(swaps: tuple[Swap, ...]) -> list[str]:
    return [f"{s.source.version}>{s.target.version}" for s in swaps]


def test_default_is_every_two_adjacent_versions_both_ways() -> None:
    swaps = plan_swaps(DEFAULT_RULES, GATEWAYS)
    assert pairs(swaps) == ["2.1.0>3.0.0", "3.0.0>2.1.0", "3.0.0>3.0.1", "3.0.1>3.0.0", "3.0.1>3.0.2",
                            "3.0.2>3.0.1", "3.0.2>3.1.0.dev0", "3.1.0.dev0>3.0.2"]
    assert {s.direction for s in swaps if s.source.version == "3.0.0"} == {"downgrade", "upgrade"}
    assert plan_swaps((), GATEWAYS) == swaps  # no rules: the default


def test_adjacent_minors_swaps_the_newest_patch_of_each_line_and_never_patches_among_themselves() -> None:
    swaps = plan_swaps((SwapRule("adjacent_minors"),), GATEWAYS)
    assert pairs(swaps) == ["2.1.0>3.0.2", "3.0.2>2.1.0"]


def test_candidate_rule_pairs_the_candidate_with_the_newest_release_of_the_last_minors() -> None:
    gateways = [gw("1.1.0"), gw("2.0.0"), gw("2.1.0"), gw("3.0.0"), gw("3.0.1"), gw("3.1.0.dev0", candidate=True)]
    assert pairs(plan_swaps((SwapRule("candidate", minors=1),), gateways)) == ["3.0.1>3.1.0.dev0", "3.1.0.dev0>3.0.1"]
    every = pairs(plan_swaps((SwapRule("candidate"),), gateways))
    assert every == ["1.1.0>3.1.0.dev0", "2.0.0>3.1.0.dev0", "2.1.0>3.1.0.dev0", "3.0.1>3.1.0.dev0",
                     "3.1.0.dev0>1.1.0", "3.1.0.dev0>2.0.0", "3.1.0.dev0>2.1.0", "3.1.0.dev0>3.0.1"]
    assert plan_swaps((SwapRule("candidate"),), gateways[:-1]) == ()  # no candidate in the run


def test_explicit_pair_one_direction_and_dedup_across_rules() -> None:
    rules = (SwapRule("pair", pair=("candidate", "2.1.0"), directions=("downgrade",)),
             SwapRule("adjacent_minors"))
    swaps = plan_swaps(rules, GATEWAYS)
    assert pairs(swaps) == ["2.1.0>3.0.2", "3.0.2>2.1.0", "3.1.0.dev0>2.1.0"]
    assert plan_swaps((SwapRule("pair", pair=("9.9.9", "2.1.0")),), GATEWAYS) == ()  # not in the run: none
    assert [s.id for s in swaps_from(swaps, GATEWAYS[-1], "downgrade")] == ["to-2.1.0"]


def rule(swap_from: str | None, swap_to: str | None, scenario: str = "*") -> Expectation:
    return Expectation(SpecifierSet(), SpecifierSet(), "*", scenario, "incompatible", "journal format 3",
                       line=7, swap_from=None if swap_from is None else SpecifierSet(swap_from),
                       swap_to=None if swap_to is None else SpecifierSet(swap_to))


def swap(source: Release, target: Release) -> Swap:
    return Swap(source, target, "upgrade" if GATEWAYS.index(target) > GATEWAYS.index(source) else "downgrade")


def test_an_expectation_about_a_swap_matches_on_both_ends() -> None:
    """The rule keyed on the source alone (`gateway ==3.0.*`) covered 3.0.1 → 3.0.0 too, which
    works: by pair it covers only the swaps down to 2.x."""
    by_pair = rule("==3.0.*", "<3.0")
    client = Release("client", "refclient", "3.0.0", Path("/w/c.whl"), "0" * 64)
    source, patch_neighbour, old_line = GATEWAYS[2], GATEWAYS[1], GATEWAYS[0]
    cell = Cell(client, source, "tlx")
    assert find([by_pair], cell, "live_downgrade[to-2.1.0]", TODAY, swap=swap(source, old_line)) is by_pair
    assert find([by_pair], cell, "live_downgrade[to-3.0.0]", TODAY, swap=swap(source, patch_neighbour)) is None
    assert find([by_pair], cell, "logon", TODAY) is None  # a rule about swaps never matches other scenarios
    only_to = rule(None, ">=3.1.dev0")
    assert find([only_to], Cell(client, GATEWAYS[3], "tlx"), "live_upgrade[to-3.1.0.dev0+candidate]", TODAY,
                swap=swap(GATEWAYS[3], GATEWAYS[4])) is only_to


def test_a_swap_rule_matching_no_swap_of_the_run_is_reported() -> None:
    client = Release("client", "refclient", "3.0.0", Path("/w/c.whl"), "0" * 64)
    cells = [Cell(client, g, "tlx") for g in GATEWAYS]
    collected = [(Cell(client, s.source, "tlx"), f"live_downgrade[{s.id}]", s)
                 for s in plan_swaps(DEFAULT_RULES, GATEWAYS) if s.direction == "downgrade"]
    lines = unmatched([rule("==3.0.*", "<2.0")], cells, [name for _, name, _ in collected], swaps=collected)
    assert len(lines) == 1 and "from ==3.0.* to <2.0 matches none of the live swaps run" in lines[0]
    assert "3.0.1→3.0.0" in lines[0]
    assert unmatched([rule("==3.0.*", "<3.0")], cells, [name for _, name, _ in collected], swaps=collected) == []


def write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "adapter.py").write_text("")
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent("""\
        products:
          gateway: {package: refgw, launch: [{argv: "{bin}/refgw"}]}
          client: {package: refclient, adapter: adapter.py}
        exchange: none
        """) + textwrap.dedent(extra))
    return path


def test_matrix_reads_swaps_from_to_and_removals(tmp_path: Path) -> None:
    matrix = load_matrix(write(tmp_path, """\
        swaps:
          - between: adjacent_minors
          - between: candidate
            minors: 1
          - between: ["2.1.0", candidate]
            directions: [downgrade]
        expectations:
          - from: "==3.0.*"
            to: "<3.0"
            expect: incompatible
            reason: journal format 3
        removed_capabilities:
          - client: "4.0.0"
            capability: order.amend
            reason: replaced by replace_order
            ticket: CL-301
        """))
    assert [r.kind for r in matrix.swaps] == ["adjacent_minors", "candidate", "pair"]
    assert matrix.swaps[1].minors == 1 and matrix.swaps[2].pair == ("2.1.0", "candidate")
    assert matrix.swaps[2].directions == ("downgrade",)
    (expectation,) = matrix.expectations
    assert str(expectation.swap_from) == "==3.0.*" and str(expectation.swap_to) == "<3.0"
    (removal,) = matrix.removals
    assert removal.covers("client", "4.0.0", "order.amend") and not removal.covers("gateway", "4.0.0", "order.amend")
    assert not removal.covers("client", "3.0.0", "order.amend")
    assert removal.ticket == "CL-301" and removal.line > 0


@pytest.mark.parametrize(("extra", "message"), [
    ("swaps:\n  - between: neighbours\n", "swaps[0].between must be one of adjacent_releases, adjacent_minors, "
     "candidate"),
    ("swaps:\n  - between: adjacent_minors\n    minors: 2\n", "minors applies to between: candidate only"),
    ("swaps:\n  - between: [\"2.1.0\"]\n", "a pair names two different versions"),
    ("swaps:\n  - between: [\"2.1.0\", \"two\"]\n", "is not a PEP 440 version"),
    ("swaps:\n  - between: candidate\n    directions: [sideways]\n", "'sideways' is not one of upgrade, downgrade"),
    ("swaps: []\n", "swaps must list at least one rule"),
    ("expectations:\n  - from: \"three\"\n    expect: incompatible\n    reason: r\n", "expectations[0].from 'three'"),
    ("removed_capabilities:\n  - capability: x\n    reason: r\n", "exactly one of client: VERSION or gateway"),
    ("removed_capabilities:\n  - client: \"4.0\"\n    gateway: \"2.0\"\n    capability: x\n    reason: r\n",
     "got client and gateway"),
])
def test_matrix_refuses_bad_swaps_and_removals_naming_the_line(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(MatrixError, match=r"matrix\.yaml:[0-9]+: ") as caught:
        load_matrix(write(tmp_path, extra))
    assert message in str(caught.value)
