"""Every released wheel installs into a fresh uv venv and works with its own release line.

For each gateway wheel in wheelhouse/: build a venv with ``uv venv`` + ``uv pip install
--find-links wheelhouse refgw==V``, start it with that version's command line against a real
``compat exchange`` (both venues), then drive that line's client (its own venv, through
compat's stdlib driver and the refclient adapter): logon, insert, see it accepted, cancel.
Client wheels without a gateway partner are at least installed and imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import ROOT, Proc, start

WHEELHOUSE = ROOT / "wheelhouse"
ADAPTER = ROOT / "clients" / "refclient" / "compat_adapter.py"
DRIVER = ROOT / "compat" / "driver" / "driver.py"

# The client release line that goes with each gateway release.
PARTNER = {
    "1.0.0": "1.0.0",
    "1.1.0": "1.1.0",
    "2.0.0": "2.0.0",
    "2.1.0": "2.1.0",
    "2.2.0": "2.1.0",
    "3.0.0": "3.0.0",
}


def _versions(dist: str) -> list[str]:
    return sorted(p.name.split("-")[1] for p in WHEELHOUSE.glob(f"{dist}-*.whl"))


def _venv(tmp_root: Path, dist: str, version: str) -> Path:
    venv = tmp_root / f"{dist}-{version}"
    if not (venv / "bin" / "python").exists():
        for cmd in (
            ["uv", "venv", "-q", "--python", sys.executable, str(venv)],
            [
                "uv",
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                "--find-links",
                str(WHEELHOUSE),
                f"{dist}=={version}",
            ],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    return venv


def gateway_argv(
    venv: Path, version: str, venue: str, exch: tuple[str, int], member: str, journal: Path
) -> list[str]:
    """The per-version launch command line (docs/reference-system.md, 'Launch')."""
    exe = str(venv / "bin" / "refgw")
    host, port = exch
    if version.startswith("1."):
        return [
            exe,
            "--port",
            "0",
            "--exchange-host",
            host,
            "--exchange-port",
            str(port),
            "--venue",
            venue,
            "--member",
            member,
        ]
    return [
        exe,
        "--listen",
        "127.0.0.1:0",
        "--exchange",
        f"{host}:{port}",
        "--venue",
        venue,
        "--journal",
        str(journal),
        "--member",
        member,
    ]


class Driver:
    """compat's driver program in a client venv, spoken to over its JSON-lines channel."""

    def __init__(self, venv: Path) -> None:
        self.proc = subprocess.Popen(
            [str(venv / "bin" / "python"), str(DRIVER), "--adapter", str(ADAPTER), "--package", "refclient"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.hello = self._read(20.0)
        self.ids = 0

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            return dict(json.loads(self.lines.get(timeout=timeout)))
        except queue.Empty:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            raise AssertionError(f"driver silent for {timeout}s; stderr:\n{err[-3000:]}") from None

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.ids += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": self.ids, "op": op, "args": args}) + "\n")
        self.proc.stdin.flush()
        return self._read(30.0)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(AssertionError, BrokenPipeError, OSError):
                self.call("shutdown")
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)


@pytest.fixture(scope="module")
def venv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("venvs")


def _ok(answer: dict[str, Any], what: str) -> dict[str, Any]:
    assert answer.get("status") == "ok", f"{what}: {answer}"
    return dict(answer["result"])


@pytest.mark.slow
@pytest.mark.parametrize("venue", ["obx", "tlx"])
@pytest.mark.parametrize("version", _versions("refgw"))
def test_gateway_release_with_its_client(
    version: str, venue: str, exchange: Proc, venv_root: Path, tmp_path: Path
) -> None:
    gw_venv = _venv(venv_root, "refgw", version)
    member = f"R{os.getpid()}{version.replace('.', '')}{venue}"
    argv = gateway_argv(gw_venv, version, venue, exchange.addrs[venue], member, tmp_path / "journal")
    gw = start(argv, f"gateway {version}")
    client_version = PARTNER[version]
    if client_version not in _versions("refclient"):
        gw.stop()
        pytest.skip(f"refclient {client_version} not released yet")
    driver = Driver(_venv(venv_root, "refclient", client_version))
    try:
        assert driver.hello["client_version"] == client_version
        host, port = gw.addrs["client"]
        logon = _ok(
            driver.call("connect", session="s1", host=host, port=port, username="u1", password="x"), "connect"
        )
        if not version.startswith("1.0"):
            assert logon["gateway_version"] == version
        inserted = _ok(
            driver.call("insert", session="s1", symbol="ABC", side="BUY", qty=5, price="10.02"), "insert"
        )
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
@pytest.mark.parametrize("version", _versions("refclient"))
def test_client_release_installs_and_imports(version: str, venv_root: Path) -> None:
    venv = _venv(venv_root, "refclient", version)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import refclient; print(refclient.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == version
