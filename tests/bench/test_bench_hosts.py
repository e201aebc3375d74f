"""The same benchmark, unchanged, on every host kind: `compat bench --host SPEC` end to end.

The floor rig (echo, relay, driver) and the gateway benchmark (exchange, gateway, client
drivers) run on a netns host and over ssh to a throwaway loopback sshd; each run must be
valid (achieved rate, zero loss, audit match) and its self-test must see the SIGSTOP stall.
Validity only, never times. Needs root + iproute2 (netns) and openssh-server (ssh): each part
skips with the reason, and .ci/run installs both.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compat.cli import main
from compat.harness.netns import netns_unavailable_reason
from compat.harness.sshd import SshdServer

REPO = Path(__file__).resolve().parents[2]
QUICK = ["--rate", "300", "--duration", "1.5", "--warmup", "0.3", "--stall-ms", "150", "--no-plots"]


def _bench(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    store = tmp_path / "store"
    code = main(["bench", *QUICK, "--store", str(store), *args])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, (out + captured.err)[-4000:]
    assert "RESULT         valid" in out and "DETECTED" in out, out[-4000:]
    (run_dir,) = [p for p in store.iterdir() if p.is_dir()]
    run: dict[str, object] = json.loads((run_dir / "bench.json").read_text())
    return run


def _no_namespaces_left() -> None:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert "compat-bhf-" not in listed and "compat-bhg-" not in listed, listed


@pytest.mark.skipif(netns_unavailable_reason() is not None, reason=f"netns: {netns_unavailable_reason()}")
def test_floor_only_in_a_namespace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _bench(tmp_path, capsys, "--floor-only", "--host", "netns:bhf")
    assert run["floor"]["valid"] is True  # type: ignore[index]
    _no_namespaces_left()


@pytest.mark.skipif(netns_unavailable_reason() is not None, reason=f"netns: {netns_unavailable_reason()}")
def test_gateway_in_a_namespace_clients_local(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    run = _bench(tmp_path, capsys, "--host", "gateway=netns:bhg", "--host", "exchange=netns:bhg",
                 "--cache-dir", str(REPO / ".compat"))
    gateway = run["gateway"][0]  # type: ignore[index]
    assert gateway["valid"] is True, gateway
    assert run["audit"]["match"] is True, run["audit"]  # type: ignore[index]
    _no_namespaces_left()


def test_gateway_and_clients_over_ssh(sshd: SshdServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    for key, value in {**sshd.environment(), "COMPAT_SSH_REMOTE_ROOT": str(tmp_path / "remote")}.items():
        monkeypatch.setenv(key, value)
    run = _bench(tmp_path, capsys, "--host", f"gateway={sshd.spec}", "--host", f"client={sshd.spec}",
                 "--cache-dir", str(REPO / ".compat"))
    gateway = run["gateway"][0]  # type: ignore[index]
    assert gateway["valid"] is True, gateway
    assert run["audit"]["match"] is True, run["audit"]  # type: ignore[index]
