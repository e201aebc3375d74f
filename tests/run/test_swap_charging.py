"""Who a failed live swap is charged to (``Scenario.swap_gateway``): the target refusing the
source's journal is the pair's failure; a target that does not start at all is the target's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from compat.config.cell import Release
from compat.errors import EnvBuildError, ProcessStartError, StartError, SwapTargetError
from compat.run.scenario import Scenario

SOURCE = Release("gateway", "refgw", "3.0.0", Path("/w/refgw-3.0.0.whl"), "0" * 64)
TARGET = Release("gateway", "refgw", "2.1.0", Path("/w/refgw-2.1.0.whl"), "0" * 64)


def scenario(restart_error: Exception | None, probe_error: Exception | None) -> tuple[Scenario, list[str]]:
    calls: list[str] = []

    def restart(release: Release) -> None:
        calls.append(f"restart {release.version}")
        if restart_error is not None:
            raise restart_error

    def probe(release: Release) -> None:
        calls.append(f"probe {release.version}")
        if probe_error is not None:
            raise probe_error

    stack: Any = SimpleNamespace(gateway_release=SOURCE)
    return Scenario(stack, lambda pool: pool, (SOURCE, TARGET), restart, probe=probe), calls


def exited(code: int | None) -> ProcessStartError:
    return ProcessStartError(f"gateway-2.1.0-2 exited {code} before ready", "gateway-2.1.0-2", code, Path("/l"))


def test_a_target_exiting_on_the_journal_but_starting_fresh_refused_the_journal() -> None:
    swap, calls = scenario(exited(2), None)
    with pytest.raises(AssertionError, match=r"gateway 2\.1\.0 refused to resume what 3\.0\.0 wrote"):
        swap.swap_gateway(TARGET)
    assert calls == ["restart 2.1.0", "probe 2.1.0"]


def test_a_target_that_does_not_start_fresh_either_is_charged_to_the_target() -> None:
    swap, _ = scenario(exited(2), exited(3))
    with pytest.raises(SwapTargetError, match=r"target gateway 2\.1\.0 does not start, not even on a fresh journal") \
            as caught:
        swap.swap_gateway(TARGET)
    assert caught.value.target == "2.1.0" and "charged to 2.1.0, not to 3.0.0" in str(caught.value)


def test_a_target_whose_env_cannot_be_built_is_charged_to_the_target() -> None:
    swap, calls = scenario(EnvBuildError("uv pip install refgw-2.1.0: no matching distribution"), None)
    with pytest.raises(SwapTargetError, match="cannot be installed") as caught:
        swap.swap_gateway(TARGET)
    assert caught.value.target == "2.1.0" and calls == ["restart 2.1.0"]


def test_a_timeout_stays_an_infrastructure_error_and_a_clean_swap_raises_nothing() -> None:
    swap, calls = scenario(exited(None), None)
    with pytest.raises(StartError) as caught:
        swap.swap_gateway(TARGET)
    assert not isinstance(caught.value, SwapTargetError) and calls == ["restart 2.1.0"]
    clean, calls = scenario(None, None)
    clean.swap_gateway(TARGET)
    assert calls == ["restart 2.1.0"]
