"""The gateway journal: framing, torn tails, flags; and a real gateway refusing a journal it cannot read.

The journal module is imported from the gateway's source tree (it needs nothing but the
stdlib); the refusal is checked on a real HEAD gateway process.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import GW_SRC, Proc

sys.path.insert(0, str(GW_SRC))
from refgw import journal as jr


def _write_some(path: Path) -> None:
    j = jr.Journal(path, "9.9.9")
    j.append_json(jr.SESSION, {"sid": "s1", "user": "u1", "v": 3})
    j.append(jr.OUTBOUND, jr.outbound_body("s1", 1, b"frame-1"))
    j.append(jr.EXCH_CURSOR, jr.cursor_body(17))
    j.close()


def test_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_some(path)
    j = jr.Journal(path, "9.9.9")
    assert [r.type for r in j] == [jr.SESSION, jr.OUTBOUND, jr.EXCH_CURSOR]
    assert j.records[0].json() == {"sid": "s1", "user": "u1", "v": 3}
    assert jr.parse_outbound(j.records[1].body) == ("s1", 1, b"frame-1")
    assert jr.parse_cursor(j.records[2].body) == 17
    assert j.header.format_version == jr.FORMAT_VERSION and not j.fresh
    j.close()


@pytest.mark.parametrize("cut", [1, 5, 13, 20])
def test_torn_tail_is_truncated_and_the_rest_kept(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "j"
    _write_some(path)
    whole = path.read_bytes()
    j = jr.Journal(path, "9.9.9")
    j.append_json(jr.ORDER_STATE, {"gw": 1, "st": "OPEN", "lv": 5, "cq": 0})
    j.close()
    with_last = path.read_bytes()
    path.write_bytes(with_last[: len(with_last) - cut])  # the last record was cut short by a crash
    j = jr.Journal(path, "9.9.9")
    assert [r.type for r in j] == [jr.SESSION, jr.OUTBOUND, jr.EXCH_CURSOR]
    assert j.truncated_bytes == len(with_last) - cut - len(whole)
    assert path.read_bytes() == whole  # the torn bytes are gone, nothing else
    j.append(jr.EXCH_CURSOR, jr.cursor_body(18))  # and appending continues cleanly
    j.close()
    assert [r.type for r in jr.Journal(path, "9.9.9")] == [jr.SESSION, jr.OUTBOUND, jr.EXCH_CURSOR, jr.EXCH_CURSOR]


def test_a_bad_crc_at_the_end_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_some(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    j = jr.Journal(path, "9.9.9")
    assert [r.type for r in j] == [jr.SESSION, jr.OUTBOUND]
    assert j.truncated_bytes > 0


def _set_incompat(path: Path, flags: int) -> None:
    data = bytearray(path.read_bytes())
    header = jr.Header(3, 0, flags, "9.9.9").pack()
    data[: len(header)] = header
    path.write_bytes(bytes(data))


def test_unknown_incompat_flag_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_some(path)
    _set_incompat(path, jr.INCOMPAT_RECORD_TIME | 0x80)
    before = path.read_bytes()
    with pytest.raises(jr.JournalError, match=r"does not know flags 0x80 and refuses to resume it"):
        jr.Journal(path, "9.9.9")
    assert path.read_bytes() == before  # refusing never rewrites the file


def test_unknown_compat_flag_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_some(path)
    data = bytearray(path.read_bytes())
    data[: jr.HEADER.size] = jr.Header(3, 0x40, jr.INCOMPAT_RECORD_TIME, "9.9.9").pack()
    path.write_bytes(bytes(data))
    assert len(jr.Journal(path, "9.9.9").records) == 3


def _raw_record(rtype: int, body: bytes) -> bytes:
    chunk = bytes((rtype,)) + body
    stamp = struct.pack(">Q", 1)
    return bytes(jr.RECORD.pack(len(chunk), zlib.crc32(stamp + chunk))) + stamp + chunk


def test_unknown_optional_record_is_skipped_unknown_mandatory_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_some(path)
    with path.open("ab") as f:
        f.write(_raw_record(200, b"future optional data"))
    assert [r.type for r in jr.Journal(path, "9.9.9")] == [jr.SESSION, jr.OUTBOUND, jr.EXCH_CURSOR]
    with path.open("ab") as f:
        f.write(_raw_record(99, b"future mandatory data"))
    with pytest.raises(jr.JournalError, match="record type 99"):
        jr.Journal(path, "9.9.9")


def test_amend_record_sets_the_incompat_flag(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = jr.Journal(path, "9.9.9")
    assert j.header.incompat_flags == jr.INCOMPAT_RECORD_TIME
    j.require_incompat(jr.INCOMPAT_AMEND, 2)
    j.append_json(jr.AMEND, {"gw": 1, "qty": 3, "px": 100})
    j.close()
    again = jr.Journal(path, "9.9.9")
    assert again.header.incompat_flags == jr.INCOMPAT_RECORD_TIME | jr.INCOMPAT_AMEND
    assert again.records[0].json() == {"gw": 1, "qty": 3, "px": 100}


def test_a_real_gateway_refuses_a_journal_it_cannot_read(exchange: Proc, tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_some(path)
    _set_incompat(path, jr.INCOMPAT_RECORD_TIME | 0x100)
    host, port = exchange.addrs["obx"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "refgw",
            "--listen",
            "127.0.0.1:0",
            "--exchange",
            f"{host}:{port}",
            "--journal",
            str(path),
            "--member",
            f"J{tmp_path.name[-8:]}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(GW_SRC), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    assert "GATEWAY READY" not in done.stdout
    assert "refuses to resume it" in done.stderr and "0x100" in done.stderr
