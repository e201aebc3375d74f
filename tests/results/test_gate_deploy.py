"""can-i-deploy: an inventory of what runs where, answered from the results store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from results_cli import main

from compat.errors import ConfigError
from compat.results.gate import Pair, deploy_pairs, load_inventory
from compat.results.model import RunResults, Verdict
from compat.results.store import open_store

if TYPE_CHECKING:
    from sample_results import Literals

INVENTORY = """\
environments:
  production:
    obx: {gateway: "2.0.0", clients: ["1.1.0", "1.2.0"]}
    tlx: {gateway: "2.0.0", clients: ["1.2.0"]}
  staging:
    obx: {gateway: "2.1.0", client: "1.3.0"}
"""




def test_inventory_gives_the_pairs_a_deployment_creates(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    inventory = load_inventory(path)
    assert deploy_pairs(inventory, "production", "gateway", "2.1.0") == [
        Pair("1.1.0", "2.1.0", "obx"),
        Pair("1.2.0", "2.1.0", "obx"),
        Pair("1.2.0", "2.1.0", "tlx"),
    ]
    assert deploy_pairs(inventory, "production", "client", "1.3.0") == [
        Pair("1.3.0", "2.0.0", "obx"),
        Pair("1.3.0", "2.0.0", "tlx"),
    ]
    assert deploy_pairs(inventory, "staging", "gateway", "2.2.0") == [Pair("1.3.0", "2.2.0", "obx")]
    with pytest.raises(ConfigError, match="no environment 'prod'; it lists: production, staging"):
        deploy_pairs(inventory, "prod", "gateway", "2.1.0")
    for text, message in (
        ("envs: {}", "expected a top-level 'environments:' mapping"),
        ("environments: {p: {obx: {gateway: 2.10}}}", r'quote versions in YAML \("1.10", not 1.10\)'),
        ("environments: {p: {obx: {gateway: '2.0', hosts: []}}}", "unknown key hosts; expected gateway and clients"),
        ("environments: {p: {obx: {gateway: '2.0'}}}", "deploys no client next to a gateway"),
        ("environments: [", "not valid YAML"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            deploy_pairs(load_inventory(path), "p", "gateway", "2.1.0")
    with pytest.raises(ConfigError, match="cannot read inventory"):
        load_inventory(tmp_path / "missing.yaml")


def test_can_i_deploy_a_gateway_to_production_from_the_store(
    lit: Literals, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_path = tmp_path / "results.db"
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    with open_store(store_path) as store:
        store.record(
            RunResults(
                cells=(
                    lit.cell(
                        "1.1.0",
                        "2.1.0",
                        "obx",
                        lit.sr("S01", Verdict.PASS),
                        lit.sr("S11", Verdict.NA, reason="no amend"),
                    ),
                    lit.cell("1.2.0", "2.1.0", "obx", lit.sr("S01", Verdict.PASS)),
                )
            ),
            git_sha="aaaa1111",
            label="release",
        )
    argv = [
        "can-i-deploy",
        "gateway",
        "2.1.0",
        "--to",
        "production",
        "--inventory",
        str(inventory),
        "--store",
        str(store_path),
    ]
    assert main(argv) == 1  # (1.2.0, 2.1.0) on tlx was never tested
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "can-i-deploy gateway 2.1.0 to production: no (1 of 3 pairs not shown to work)"
    assert out[1].split() == ["venue", "client", "gateway", "verdict", "decided", "by", "detail"]
    assert out[2].split()[:5] == ["obx", "1.1.0", "2.1.0", "ok", "pass"]
    assert "run 1 (release, aaaa1111, " in out[2] and out[2].endswith("1✓ 1-")
    assert out[4].split()[:5] == ["tlx", "1.2.0", "2.1.0", "NEVER", "TESTED"]
    assert out[4].endswith("no stored run holds this pair")
    assert out[5] == "  n/a: client-1.1.0--gateway-2.1.0 [obx] S11: no amend"

    with open_store(store_path) as store:
        store.record(
            RunResults(
                cells=(
                    lit.cell("1.2.0", "2.1.0", "tlx", lit.sr("S01", Verdict.PASS)),
                    lit.cell("1.2.0", "2.1.0", "obx", lit.sr("S01", Verdict.FAIL, message="AssertionError: price")),
                )
            ),
            git_sha="bbbb2222",
        )
    assert main(argv) == 1  # now tested everywhere, but the newest obx run of 1.2.0 fails
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "can-i-deploy gateway 2.1.0 to production: no (1 of 3 pairs not shown to work)"
    assert out[3].split()[:5] == ["obx", "1.2.0", "2.1.0", "NO", "fail"] and out[3].endswith(
        "S01: AssertionError: price"
    )
    assert "  fail: client-1.2.0--gateway-2.1.0 [obx] S01: AssertionError: price" in out

    with open_store(store_path) as store:
        store.record(
            RunResults(cells=(lit.cell("1.2.0", "2.1.0", "obx", lit.sr("S01", Verdict.FLAKY, reason="retry")),))
        )
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "can-i-deploy gateway 2.1.0 to production: yes (3 pairs work)"
    assert out[-1] == "  flaky: client-1.2.0--gateway-2.1.0 [obx] S01: retry"

    single = ["can-i-deploy", "--client", "1.1.0", "--gateway", "2.1", "--venue", "obx", "--store", str(store_path)]
    assert main(single) == 0
    assert capsys.readouterr().out.startswith("can-i-deploy client 1.1.0 with gateway 2.1 on obx: yes")
    assert main(["can-i-deploy", "gateway", "2.1.0", "--store", str(store_path)]) == 2
    assert "usage: compat can-i-deploy gateway|client VERSION --to ENV" in capsys.readouterr().err
