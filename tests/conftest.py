"""Suite-wide plugins and fixtures (pytest only honours ``pytest_plugins`` in the top-level conftest)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from compat.harness.sshd import SshdServer, sshd_missing, throwaway_sshd

# sample_results (tests/support/): the literal RunResults the tests of results/ and report/ share
pytest_plugins = ["pytester", "sample_results"]


def pytest_configure(config: pytest.Config) -> None:
    """A suite started as a background job of a non-interactive shell inherits SIGINT *ignored*.
    The harness no longer cares: every process compat starts gets SIGINT and SIGTERM at their
    default (compat/harness/command.py; tests/harness pass with SIGINT ignored and this hook
    off, ``--noconftest``). Kept for the tests that start a Python parent themselves, outside
    compat's door, and interrupt it with SIGINT (tests/matrix/test_soak.py's Ctrl-C test): that
    parent inherits pytest's own disposition, so restore the default first."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """A throwaway sshd on loopback (Debian's openssh-server, installed by .ci/run), stopped
    after the module; skipped with the reason where the machine lacks it."""
    missing = sshd_missing()
    if missing is not None:
        pytest.skip(f"ssh: needs a real sshd: {missing}")
    with throwaway_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
