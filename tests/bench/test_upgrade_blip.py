"""CI smoke of ``compat bench --upgrade``: real stack, live gateway swap mid-run, VALIDITY only.

The candidate client drives open-loop load through the stack's fault proxy while the gateway
is swapped from the last release to the candidate. Asserted: the run is valid (no loss, no
error, audit reconciled), the reconnect gap was measured, the session resumed, and the swap
is visible in the latency (the during-window max covers the clients' outage). Never times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat.cli import main

REPO = Path(__file__).resolve().parents[2]
RATE = 400
DURATION_S = 5.0  # the swap lands 1.5 s in; the restart takes ~1-2 s: the run ends after the recovery


def test_upgrade_blip_is_measured_lossless_and_visible(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--upgrade", "3.0.0,HEAD", "--rate", str(RATE), "--duration", str(DURATION_S),
                 "--warmup", "0.5", "--stall-ms", "0", "--matrix", str(REPO / "matrix.yaml"),
                 "--cache-dir", str(REPO / ".compat"), "--store", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "UPGRADE" in out and "reconnect gap" in out and "RESULT         valid" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run_dir / "upgrade.png").stat().st_size > 0
    run = json.loads((run_dir / "bench.json").read_text())
    point, blip = run["upgrade"]["point"], run["upgrade"]["blip"]
    counts = point["counts"]
    assert point["valid"] and blip["valid"], (point["invalid_reasons"], blip["invalid_reasons"])
    assert counts["sent"] == counts["acked"] == RATE * (DURATION_S + 0.5), counts
    assert (counts["lost"], counts["errors"], counts["duplicates"]) == (0, 0, 0), counts
    assert run["audit"]["checked"] and run["audit"]["match"], run["audit"]
    assert blip["reconnect_gap_ns"] > 0 and blip["client_outage_ns"] > 0
    assert all(session["resumed"] for session in blip["sessions"]), blip["sessions"]
    assert blip["resent"] > 0  # orders met the outage and were resent, not lost
    interval_ns = 1e9 / RATE
    assert blip["windows"]["during"]["max"] >= blip["client_outage_ns"] - 2 * interval_ns
    assert blip["windows"]["during"]["max"] >= 0.5 * blip["reconnect_gap_ns"]
    assert blip["windows"]["before"]["count"] > 0
