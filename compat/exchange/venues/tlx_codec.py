"""TLX tag=value framing: ``8=TLX.n|9=len|35=..|...|10=ccc|`` with SOH separators.

The decoder is incremental (bytes may arrive one at a time) and distinguishes two kinds of
trouble: a :class:`TlxFramingError` means the stream cannot be trusted any more (the session
logs out and closes); a message whose framing is fine but whose body does not tokenise
carries ``problem`` and gets a session-level Reject.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from compat.errors import TlxFramingError
from compat.exchange import codes
from compat.exchange.venues.tlx_tags import RejectReason, Tag

SOH = b"\x01"
MAX_MESSAGE = 1 << 20
BEGIN_STRINGS = ("TLX.1", "TLX.2")
_LENGTH_RE = re.compile(rb"9=(\d{1,7})\x01")
_MAX_HEADER = 64  # bytes of "8=...|9=...|" before we give up finding BodyLength


@dataclass
class TlxMessage:
    begin: str
    fields: list[tuple[int, str]]  # body in wire order, without 8, 9 and 10
    problem: tuple[int, int, str] | None = None  # (SessionRejectReason, RefTagID, text)
    _index: dict[int, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for tag, value in self.fields:
            self._index.setdefault(tag, value)

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self._index.get(tag, default)

    def has(self, tag: int) -> bool:
        return tag in self._index

    @property
    def msg_type(self) -> str:
        return self._index.get(Tag.MSG_TYPE, "")

    def as_text(self) -> str:
        return "|".join(f"{t}={v}" for t, v in self.fields)


def checksum(data: bytes) -> int:
    return sum(data) % 256


def format_time(ns: int) -> str:
    moment = _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.UTC)
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{(ns // 1_000_000) % 1000:03d}"


def encode(begin: str, fields: list[tuple[int, str]]) -> bytes:
    """A complete message. ``fields`` start with 35 and carry the header (34, 49, 56, 52 ...).
    A tag may be a ``Tag``: it formats as its number."""
    parts = []
    for tag, value in fields:
        if "\x01" in value:
            raise ValueError(f"tag {tag}: a TLX value cannot contain SOH")
        parts.append(f"{tag}={value}\x01")
    body = "".join(parts).encode()
    head = f"8={begin}\x019={len(body)}\x01".encode() + body
    return head + f"10={checksum(head):03d}\x01".encode()


def _tokenise(body: bytes) -> tuple[list[tuple[int, str]], tuple[int, int, str] | None]:
    fields: list[tuple[int, str]] = []
    problem: tuple[int, int, str] | None = None
    for token in body.split(SOH)[:-1]:
        tag_text, sep, value = token.partition(b"=")
        if not sep or not tag_text.isdigit() or len(tag_text) > 9:
            if problem is None:
                problem = (RejectReason.INCORRECT_DATA_FORMAT, 0, f"field {token[:40]!r} is not tag=value")
            continue
        try:
            fields.append((int(tag_text), value.decode()))
        except UnicodeDecodeError:
            if problem is None:
                problem = (
                    RejectReason.INCORRECT_DATA_FORMAT,
                    int(tag_text),
                    f"tag {int(tag_text)}: value is not UTF-8",
                )
    return fields, problem


class TlxDecoder:
    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._max = max_message

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[TlxMessage]:
        out: list[TlxMessage] = []
        try:
            self._cut(data, out)
        except TlxFramingError as exc:
            exc.decoded = out
            raise
        return out

    def _cut(self, data: bytes, out: list[TlxMessage]) -> None:
        buffer = self._buffer
        buffer += data
        while buffer:
            if len(buffer) < 2:
                break
            if buffer[:2] != b"8=":
                raise TlxFramingError(codes.BAD_FRAMING, f"message does not start with 8=: {bytes(buffer[:20])!r}")
            first = buffer.find(SOH)
            if first < 0:
                if len(buffer) > _MAX_HEADER:
                    raise TlxFramingError(codes.BAD_FRAMING, "BeginString (8) is not terminated by SOH")
                break
            begin = bytes(buffer[2:first]).decode(errors="replace")
            if begin not in BEGIN_STRINGS:
                raise TlxFramingError(codes.BAD_FRAMING, "Incorrect BeginString")
            end_of_length = buffer.find(SOH, first + 1)
            if end_of_length < 0:
                if len(buffer) > _MAX_HEADER:
                    raise TlxFramingError(codes.BAD_FRAMING, "BodyLength (9) missing or not terminated")
                break
            match = _LENGTH_RE.fullmatch(bytes(buffer[first + 1 : end_of_length + 1]))
            if match is None:
                raise TlxFramingError(
                    codes.BAD_FRAMING,
                    f"second field must be 9=BodyLength, got {bytes(buffer[first + 1 : end_of_length])!r}",
                )
            length = int(match.group(1))
            if length > self._max:
                raise TlxFramingError(codes.FRAME_TOO_LARGE, f"BodyLength {length} exceeds the {self._max}-byte cap")
            body_start = end_of_length + 1
            body_end = body_start + length
            total = body_end + 7
            if len(buffer) < total:
                break
            trailer = bytes(buffer[body_end:total])
            if length == 0 or buffer[body_end - 1] != 1 or not re.fullmatch(rb"10=\d{3}\x01", trailer):
                raise TlxFramingError(codes.BAD_FRAMING, f"BodyLength {length} does not end at a 10=CheckSum field")
            expected = checksum(bytes(buffer[:body_end]))
            if int(trailer[3:6]) != expected:
                raise TlxFramingError(
                    codes.BAD_FRAMING, f"CheckSum {trailer[3:6].decode()} is wrong, expected {expected:03d}"
                )
            fields, problem = _tokenise(bytes(buffer[body_start:body_end]))
            del buffer[:total]
            if problem is None and (not fields or fields[0][0] != Tag.MSG_TYPE):
                problem = (RejectReason.REQUIRED_TAG_MISSING, Tag.MSG_TYPE, "MsgType (35) must be the third field")
            out.append(TlxMessage(begin, fields, problem))
