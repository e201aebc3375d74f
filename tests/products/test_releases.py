"""Every released wheel installs into a fresh uv venv and works with its own release line.

For each gateway wheel in wheelhouse/: build a venv with ``uv venv`` + ``uv pip install
--find-links wheelhouse refgw==V``, start it with that version's command line against a real
``compat exchange`` (both venues), then drive that line's client (its own venv, through
compat's stdlib driver and the refclient adapter): logon, insert, see it accepted, cancel.
Client wheels without a gateway partner are at least installed and imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import PARTNER, Driver, Proc, gateway_argv, start, venv_for, versions


@pytest.fixture(scope="module")
def venv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("venvs")


def _ok(answer: dict[str, Any], what: str) -> dict[str, Any]:
    assert answer.get("status") == "ok", f"{what}: {answer}"
    return dict(answer["result"])


@pytest.mark.slow
@pytest.mark.parametrize("venue", ["obx", "tlx"])
@pytest.mark.parametrize("version", versions("refgw"))
def test_gateway_release_with_its_client(
    version: str, venue: str, exchange: Proc, venv_root: Path, tmp_path: Path
) -> None:
    gw_venv = venv_for(venv_root, "refgw", version)
    member = f"R{os.getpid()}{version.replace('.', '')}{venue}"
    argv = gateway_argv(gw_venv, version, venue, exchange.addrs[venue], member, tmp_path / "journal")
    gw = start(argv, f"gateway {version}")
    client_version = PARTNER[version]
    if client_version not in versions("refclient"):
        gw.stop()
        pytest.skip(f"refclient {client_version} not released yet")
    driver = Driver(venv_for(venv_root, "refclient", client_version))
    try:
        assert driver.hello["client_version"] == client_version
        host, port = gw.addrs["client"]
        logon = _ok(driver.call("connect", session="s1", host=host, port=port, username="u1", password="x"), "connect")
        if not version.startswith("1.0"):
            assert logon["gateway_version"] == version
        inserted = _ok(driver.call("insert", session="s1", symbol="ABC", side="BUY", qty=5, price="10.02"), "insert")
        coid = inserted["client_order_id"]
        accepted = _ok(
            driver.call("next_event", session="s1", kinds=["accepted"], client_order_id=coid, timeout_s=5.0),
            "accepted",
        )
        assert accepted["event"]["kind"] == "accepted"
        _ok(driver.call("cancel", session="s1", client_order_id=coid), "cancel")
        cancelled = _ok(
            driver.call("next_event", session="s1", kinds=["cancelled"], client_order_id=coid, timeout_s=5.0),
            "cancelled",
        )
        assert cancelled["event"]["reason"] == "USER"
        _ok(driver.call("logout", session="s1"), "logout")
    finally:
        driver.close()
        assert gw.stop() is not None


@pytest.mark.slow
@pytest.mark.parametrize("version", versions("refclient"))
def test_client_release_installs_and_imports(version: str, venv_root: Path) -> None:
    venv = venv_for(venv_root, "refclient", version)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import refclient; print(refclient.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == version
