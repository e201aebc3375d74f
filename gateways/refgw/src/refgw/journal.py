"""The session journal: an append-only, CRC-framed record file behind a versioned header.

Layout (all integers big-endian)::

    header  (32 bytes): b"RGWJ" | u16 format_version | u16 header_len (32) | u32 compat_flags
                        | u32 incompat_flags | 12s writer_version (ascii, NUL padded) | u32 crc32
    record            : u32 length (type + body) | u32 crc32(type + body) | u8 type | body

``incompat_flags`` follow ext4: a reader that does not know a set bit must refuse the file.
``compat_flags`` may be ignored. Record types >= 128 are optional: a reader that does not know
one skips it; an unknown type below 128 is an error. A torn tail (a record cut short or whose
CRC fails at the end of the file) is truncated away on open, and the loss is reported.

Format 1 (refgw 2.0): SESSION, INBOUND_ACCEPTED, OUTBOUND, ORDER_MAP, ORDER_STATE, EXCH_CURSOR.
Format 2 (refgw 2.1): adds AMEND records. The first AMEND written sets incompat flag
INCOMPAT_AMEND and format_version 2 in the header: a release that does not understand amends
(2.0) must refuse the journal rather than resume orders at their pre-amend quantity/price.
A journal with no amend stays format 1 and stays readable by 2.0.
Format 3 (refgw 3.0): every record header also carries its u64 write time
(``u32 length | u32 crc32(time + type + body) | u64 time_ns | u8 type | body``), marked by
incompat flag INCOMPAT_RECORD_TIME, so 2.x refuses it. 3.0 reads formats 1-3 and migrates an
older journal to format 3 (rewritten beside it and renamed over it) before its first write.
"""

from __future__ import annotations

import json
import json.encoder
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"RGWJ"
HEADER = struct.Struct(">4sHHII12sI")
RECORD = struct.Struct(">II")
RECORD3 = struct.Struct(">IIQ")
FORMAT_VERSION = 3
INCOMPAT_AMEND = 0x1
INCOMPAT_RECORD_TIME = 0x2
KNOWN_INCOMPAT = INCOMPAT_AMEND | INCOMPAT_RECORD_TIME  # bits this release understands

SESSION = 1
INBOUND_ACCEPTED = 2
OUTBOUND = 3
ORDER_MAP = 4
ORDER_STATE = 5
EXCH_CURSOR = 6
AMEND = 7
VENUE_CURSOR = 130  # 3.1: TLX session cursor; optional (>= 128), so 3.0 and 2.x skip it
_OPTIONAL_FROM = 128


_HEAD = struct.Struct(">QB")  # a format-3 record's u64 time_ns and u8 type (CRC-covered)
_crc32 = zlib.crc32
_time_ns = time.time_ns
_OUTBOUND_HEAD = struct.Struct(">HQ")  # an OUTBOUND body's session id length and seq
_CURSOR = struct.Struct(">Q")  # an EXCH_CURSOR/VENUE_CURSOR body
# One encoder for every JSON record: json.dumps with non-default separators builds a new
# JSONEncoder per call. Output is byte-identical to json.dumps(value, separators=(",", ":")).
_JSON = json.JSONEncoder(separators=(",", ":"))

_KNOWN_TYPES = frozenset(
    (SESSION, INBOUND_ACCEPTED, OUTBOUND, ORDER_MAP, ORDER_STATE, EXCH_CURSOR, AMEND, VENUE_CURSOR)
)


class JournalError(Exception):
    """The journal cannot be used by this release; the message says why and what to do."""


@dataclass(frozen=True)
class Header:
    format_version: int
    compat_flags: int
    incompat_flags: int
    writer_version: str

    def pack(self) -> bytes:
        body = HEADER.pack(
            MAGIC,
            self.format_version,
            HEADER.size,
            self.compat_flags,
            self.incompat_flags,
            self.writer_version.encode()[:12],
            0,
        )[:-4]
        return body + struct.pack(">I", zlib.crc32(body))


def _read_header(data: bytes, path: Path) -> Header:
    if len(data) < HEADER.size:
        raise JournalError(f"journal {path} has a truncated header ({len(data)} bytes)")
    magic, fmt, _hlen, compat, incompat, writer, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise JournalError(f"{path} is not a refgw journal (magic {magic!r})")
    if zlib.crc32(data[: HEADER.size - 4]) != crc:
        raise JournalError(f"journal {path} header CRC mismatch: the file is damaged")
    return Header(fmt, compat, incompat, writer.rstrip(b"\0").decode(errors="replace"))


@dataclass
class Record:
    type: int
    body: bytes
    time_ns: int = 0  # wall time it was written (format 3); 0 when unknown (older formats, migrated)

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


class Journal:
    """Open (creating if needed), validate, recover records, then append."""

    def __init__(
        self,
        path: Path,
        writer_version: str,
        known_incompat: int = KNOWN_INCOMPAT,
        format_version: int = FORMAT_VERSION,
    ) -> None:
        self.path = path
        self.writer_version = writer_version
        self.known_incompat = known_incompat
        self.records: list[Record] = []
        self.truncated_bytes = 0
        self.migrated_from = 0
        data = path.read_bytes() if path.exists() else b""
        if not data:
            self.header = Header(format_version, 0, INCOMPAT_RECORD_TIME, writer_version)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.header.pack())
            self.fresh = True
        else:
            self.fresh = False
            self.header = _read_header(data, path)
            unknown = self.header.incompat_flags & ~known_incompat
            if unknown:
                raise JournalError(
                    f"journal {path} was written by refgw {self.header.writer_version} with format "
                    f"{self.header.format_version} and incompat flags {self.header.incompat_flags:#x}; this "
                    f"refgw {writer_version} does not know flags {unknown:#x} and refuses to resume it "
                    f"(journal needs format >= {self.header.format_version}): run a release that reads it, "
                    f"or move the journal away to start empty"
                )
            good = self._scan(data)
            if good < len(data):
                self.truncated_bytes = len(data) - good
                with path.open("r+b") as f:
                    f.truncate(good)
            if not self.header.incompat_flags & INCOMPAT_RECORD_TIME:
                self._migrate()
        self._staged = bytearray()  # records queued by stage(), written by the next append/flush
        self._file = path.open("ab", buffering=0)

    def _migrate(self) -> None:
        """Rewrite an older-format journal as format 3 (atomically: write beside, rename over)."""
        h = self.header
        self.header = Header(3, h.compat_flags, h.incompat_flags | INCOMPAT_RECORD_TIME, self.writer_version)
        tmp = self.path.with_name(self.path.name + ".migrating")
        with tmp.open("wb") as f:
            f.write(self.header.pack())
            for rec in self.records:
                f.write(_encode_record(rec.type, rec.body, 0))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.migrated_from = h.format_version

    def _scan(self, data: bytes) -> int:
        """Parse records; returns the offset just past the last good one."""
        timed = bool(self.header.incompat_flags & INCOMPAT_RECORD_TIME)
        frame = RECORD3 if timed else RECORD
        pos = HEADER.size
        end = len(data)
        while pos + frame.size <= end:
            length, crc = RECORD.unpack_from(data, pos)
            start = pos + frame.size
            if length < 1 or start + length > end:
                break
            chunk = data[start : start + length]
            covered = data[pos + RECORD.size : start + length]  # format 3: the time is covered too
            if zlib.crc32(covered if timed else chunk) != crc:
                break
            rtype = chunk[0]
            if rtype in _KNOWN_TYPES:
                self.records.append(Record(rtype, chunk[1:], RECORD3.unpack_from(data, pos)[2] if timed else 0))
            elif rtype < _OPTIONAL_FROM:
                raise JournalError(
                    f"journal {self.path}: record type {rtype} at offset {pos} is unknown to refgw "
                    f"{self.writer_version}; refusing rather than losing it"
                )
            pos = start + length
        return pos

    def require_incompat(self, flag: int, format_version: int) -> None:
        """Mark the header before the first record that older releases must not misread."""
        h = self.header
        if h.incompat_flags & flag and h.format_version >= format_version:
            return
        self.set_header(
            Header(max(h.format_version, format_version), h.compat_flags, h.incompat_flags | flag, self.writer_version)
        )

    def set_header(self, header: Header) -> None:
        self.header = header
        with self.path.open("r+b") as f:
            f.write(header.pack())

    def append(self, rtype: int, body: bytes) -> None:
        """Write one record now, after any staged ones (one write call for all of them)."""
        record = _encode_record(rtype, body, _time_ns())
        staged = self._staged
        if staged:
            staged += record
            self._file.write(staged)
            staged.clear()
        else:
            self._file.write(record)

    def stage(self, rtype: int, body: bytes) -> None:
        """Queue a record for the next ``append`` or ``flush``: the records one venue event
        makes (state, cursors, the outbound report) then cost one write call, not four.
        The caller flushes before anything depending on them leaves the process."""
        self._staged += _encode_record(rtype, body, _time_ns())

    def flush(self) -> None:
        if self._staged:
            self._file.write(self._staged)
            self._staged.clear()

    def append_json(self, rtype: int, value: dict[str, Any]) -> None:
        self.append(rtype, _JSON.encode(value).encode())

    def stage_json(self, rtype: int, value: dict[str, Any]) -> None:
        self.stage(rtype, _JSON.encode(value).encode())

    def close(self) -> None:
        self.flush()
        self._file.close()

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def release_records(self) -> None:
        """Forget the records read at open once they are recovered: the file can hold every
        order the gateway ever saw, the process needs none of it after recovery."""
        self.records = []


def _encode_record(rtype: int, body: bytes, time_ns: int) -> bytes:
    # Same bytes as RECORD3.pack(len, crc32(stamp + type + body), time_ns) + type + body: the
    # stamp and type packed as one head; one CRC call over head + body (cheaper than chaining
    # two calls for these short bodies).
    data = _HEAD.pack(time_ns, rtype) + body
    return RECORD.pack(len(body) + 1, _crc32(data)) + data


# The two JSON records every order writes, without a dict or the encoder: byte-identical to
# _JSON.encode of the dict with these keys in this order (strings through the encoder's own C
# escaper, ASCII-only as ensure_ascii gives; ints formatted by the f-string, which for an
# exact int is int.__repr__, as the encoder writes them: the callers pass protobuf and
# journal integers, never bool or another int subclass).
_s = json.encoder.encode_basestring_ascii


def order_map_body(
    gw: int, vc: str, sid: str, user: str, coid: str, sym: str, side: str, type_: str, tif: str,
    qty: int, px: int, rid: int, ext: str,
) -> bytes:
    """The ORDER_MAP record body (keys gw vc sid user coid sym side type tif qty px rid ext)."""
    return (
        f'{{"gw":{gw},"vc":{_s(vc)},"sid":{_s(sid)},"user":{_s(user)},"coid":{_s(coid)},'
        f'"sym":{_s(sym)},"side":{_s(side)},"type":{_s(type_)},"tif":{_s(tif)},"qty":{qty},'
        f'"px":{px},"rid":{rid},"ext":{_s(ext)}}}'
    ).encode()


def order_state_body(gw: int, st: str, lv: int, cq: int, ex: str) -> bytes:
    """The ORDER_STATE record body (keys gw st lv cq ex)."""
    return f'{{"gw":{gw},"st":{_s(st)},"lv":{lv},"cq":{cq},"ex":{_s(ex)}}}'.encode()


def outbound_body(session_id: str, seq: int, frame: bytes) -> bytes:
    sid = session_id.encode()
    return _OUTBOUND_HEAD.pack(len(sid), seq) + sid + frame


def parse_outbound(body: bytes) -> tuple[str, int, bytes]:
    n, seq = struct.unpack_from(">HQ", body)
    sid = body[10 : 10 + n].decode()
    return sid, seq, body[10 + n :]


def cursor_body(member_seq: int) -> bytes:
    return _CURSOR.pack(member_seq)


def parse_cursor(body: bytes) -> int:
    return int(struct.unpack(">Q", body)[0])


def sync(journal: Journal) -> None:
    journal.flush()
    os.fsync(journal._file.fileno())
