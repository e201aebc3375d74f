"""Shared pieces of the decoder fuzz tests: the example budget, byte-level mutation strategies,
a generic protobuf message strategy and a recording transport for in-process Protocol sessions.

Budget: every test states its CI example count; ``COMPAT_FUZZ_EXAMPLES=N`` replaces it with
N for a long run (and turns derandomisation off, so each long run explores new inputs).
CI runs are derandomised and database-less: the same inputs every time, nothing written.
"""

from __future__ import annotations

import itertools
import logging
import os
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES_ENV = "COMPAT_FUZZ_EXAMPLES"
F = TypeVar("F", bound=Callable[..., Any])


def long_run() -> int | None:
    """The example count of a long run (``COMPAT_FUZZ_EXAMPLES``), None in CI."""
    text = os.environ.get(EXAMPLES_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{EXAMPLES_ENV}={text!r}: expected a positive number of examples per test")
    return int(text)


def examples(ci: int, share: float = 1.0) -> int:
    """CI count, or the long run's count scaled by ``share`` (live tests run fewer, costlier examples)."""
    n = long_run()
    return ci if n is None else max(ci, int(n * share))


def fuzz_settings(ci_examples: int, share: float = 1.0) -> Callable[[F], F]:
    decorate: Callable[[F], F] = settings(
        max_examples=examples(ci_examples, share),
        derandomize=long_run() is None,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    return decorate


# ---------------------------------------------------------------------------- byte strategies

U32 = struct.Struct(">I")

# Length prefixes a hostile peer would try: just over the cap, sign-bit edges, all ones.
HUGE_U32 = st.sampled_from([(1 << 20) + 1, (1 << 20) + 5, 1 << 24, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1]) | (
    st.integers((1 << 20) + 5, 2**32 - 1)
)
INTERESTING_U32 = st.sampled_from([0, 1, 2, 3, 4, 5, 7, 8, 0x7F, 0x80, 0xFF, 0xFFFF, 2**31, 2**32 - 1]) | HUGE_U32


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` after 1-4 mutations: bit flips, truncation, splicing in random or repeated
    bytes, deleting a range, overwriting four bytes with an interesting big-endian number."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "delete", "repeat", "u32", "byte"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            index = min(at, len(data) - 1)
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "repeat" and data:
            start = draw(st.integers(0, len(data) - 1))
            data[at:at] = data[start : start + draw(st.integers(1, 32))]
        elif op == "u32":
            data[at : at + 4] = U32.pack(draw(INTERESTING_U32))
        elif op == "byte" and data:
            data[min(at, len(data) - 1)] = draw(st.sampled_from([0x00, 0x01, 0x3D, 0x7F, 0x80, 0xFF]))
    return bytes(data)


# Where a stream is cut into reads: positions modulo its length (bytes may arrive one at a
# time or all at once). A plain list so that @example can name a cutting.
CUTS = st.lists(st.integers(1, 1 << 20), max_size=12)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    if not data:
        return []
    bounds = [0, *sorted({c % len(data) for c in cuts} - {0}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------------- protobuf messages

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _scalar(fd: Any, strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any] | None:
    if fd.type in _INT_RANGES:
        low, high = _INT_RANGES[fd.type]
        return st.sampled_from([0, 1, low, high]) | st.integers(low, high)
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in fd.enum_type.values]) | st.integers(-(2**31), 2**31 - 1)
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if fd.type == FieldDescriptor.TYPE_STRING:
        return strings
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=32)
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=False, width=32)
    return None


@st.composite
def protobuf_message(draw: st.DrawFn, cls: type[Message], strings: st.SearchStrategy[str] | None = None) -> Message:
    """A message of ``cls`` with a random subset of its scalar (and one level of nested) fields set."""
    text = strings if strings is not None else st.text(max_size=12)
    message = cls()
    for fd in cls.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        if fd.message_type is not None:
            if fd.message_type.GetOptions().map_entry:
                continue
            sub_cls = type(getattr(message, fd.name)) if not fd.is_repeated else None
            if sub_cls is not None:
                getattr(message, fd.name).CopyFrom(draw(_flat_message(sub_cls, text)))
            continue
        value = _scalar(fd, text)
        if value is None:
            continue
        if fd.is_repeated:
            getattr(message, fd.name).extend(draw(st.lists(value, max_size=3)))
        else:
            setattr(message, fd.name, draw(value))
    return message


@st.composite
def _flat_message(draw: st.DrawFn, cls: type[Message], text: st.SearchStrategy[str]) -> Message:
    message = cls()
    for fd in cls.DESCRIPTOR.fields:
        value = _scalar(fd, text) if fd.message_type is None and not fd.is_repeated else None
        if value is not None and draw(st.booleans()):
            setattr(message, fd.name, draw(value))
    return message


# ---------------------------------------------------------------------------- length-prefixed frames


def split_frames(stream: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Cut a ``>I length, >I type, payload`` stream (refgw and OBX share the layout) into
    frames; returns the frames and any incomplete tail. Raises ValueError on a length < 4."""
    frames: list[tuple[int, bytes]] = []
    pos = 0
    while len(stream) - pos >= 8:
        (length,) = U32.unpack_from(stream, pos)
        if length < 4:
            raise ValueError(f"frame length {length} at offset {pos} of the server's output")
        if len(stream) - pos - 4 < length:
            break
        (msg_type,) = U32.unpack_from(stream, pos + 4)
        frames.append((msg_type, stream[pos + 8 : pos + 4 + length]))
        pos += 4 + length
    return frames, stream[pos:]


# ---------------------------------------------------------------------------- in-process transport


class RecordingTransport:
    """Just enough of an asyncio transport for one Protocol session: records what the
    session writes and whether it closed. Used only to unit-test the decode layer in-process;
    the live tests use real sockets."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.closed_by_session = False  # set by the test before connection_lost (which closes too)

    def write(self, data: bytes) -> None:
        assert not self.closed, "the session wrote after closing its transport"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


# ---------------------------------------------------------------------------- log capture


class ErrorRecords(logging.Handler):
    """Collects ERROR records of one logger tree while installed (a handler's caught-all
    ``log.exception`` is how the venues report a request that raised: a bug to surface)."""

    def __init__(self, logger: str) -> None:
        super().__init__(logging.ERROR)
        self.logger = logging.getLogger(logger)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorRecords:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)

    def describe(self) -> str:
        return "\n".join(f"{r.getMessage()}\n{self.format(r) if r.exc_info else ''}" for r in self.records)
