"""Suite-wide plugins and fixtures (pytest only honours ``pytest_plugins`` in the top-level conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from compat.harness.sshd import SshdServer, sshd_missing, throwaway_sshd

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """A throwaway sshd on loopback (Debian's openssh-server, installed by .ci/run), stopped
    after the module; skipped with the reason where the machine lacks it."""
    missing = sshd_missing()
    if missing is not None:
        pytest.skip(f"ssh: needs a real sshd: {missing}")
    with throwaway_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
