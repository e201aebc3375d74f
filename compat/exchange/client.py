"""Small blocking clients for the two venues, for tests, scenarios and debugging.

They speak the wire contract exactly (docs/exchange-protocol.md) and keep every message
they read, so a test can ``expect`` a message type with a timeout instead of sleeping.
They are deliberately simple: one socket, no threads.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from compat import timing
from compat.errors import (
    ExchangeClientError,
)
from compat.exchange.proto import obx_pb2 as pb
from compat.exchange.venues.obx_codec import FrameDecoder, decode_payload, encode, enum_value
from compat.exchange.venues.tlx_codec import TlxDecoder, TlxMessage, format_time
from compat.exchange.venues.tlx_codec import encode as tlx_encode

M = TypeVar("M", bound=Message)
READY_RE = re.compile(r"^(?P<name>[A-Z]+) READY (?P<addrs>.*)$")


def parse_ready_line(line: str) -> dict[str, tuple[str, int]]:
    """``EXCHANGE READY obx=127.0.0.1:1 tlx=127.0.0.1:2`` -> {"obx": ("127.0.0.1", 1), ...}."""
    match = READY_RE.match(line.strip())
    if match is None or match.group("name") != "EXCHANGE":
        raise ValueError(f"not an exchange ready line: {line!r}")
    out: dict[str, tuple[str, int]] = {}
    for item in match.group("addrs").split():
        key, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        out[key] = (host, int(port))
    return out


class _SocketClient:
    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.address = (host, port)
        self.timeout_s = timeout_s
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed_by_peer = False

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, deadline: timing.Deadline, what: str) -> bytes:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise ExchangeClientError(f"timed out after {deadline.timeout_s}s waiting for {what} from {self.address}")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise ExchangeClientError(
                f"timed out after {deadline.timeout_s}s waiting for {what} from {self.address}"
            ) from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed_by_peer = True
            raise ExchangeClientError(f"{self.address} closed the connection while we waited for {what}")
        return data

    def wait_closed(self, timeout_s: float | None = None) -> None:
        """Wait until the exchange closes the connection (reading and discarding)."""
        deadline = timing.Deadline(timeout_s or self.timeout_s)
        try:
            while True:
                self._read(deadline, "the connection to close")
        except ExchangeClientError:
            if not self.closed_by_peer:
                raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObxClient(_SocketClient):
    def __init__(self, host: str, port: int, timeout_s: float = 5.0) -> None:
        super().__init__(host, port, timeout_s)
        self.decoder = FrameDecoder()
        self.inbox: list[Message] = []  # read but not yet expected
        self.received: list[Message] = []  # everything, in order
        self.next_request_id = 1

    def send(self, message: Message) -> None:
        self.send_raw(encode(message))

    def request_id(self) -> int:
        rid = self.next_request_id
        self.next_request_id += 1
        return rid

    def _pump(self, deadline: timing.Deadline, what: str) -> None:
        for frame in self.decoder.feed(self._read(deadline, what)):
            message = decode_payload(frame)
            self.inbox.append(message)
            self.received.append(message)

    def expect(self, cls: type[M], where: Callable[[M], bool] | None = None, timeout_s: float | None = None) -> M:
        """The first unread message of type ``cls`` (matching ``where``); earlier unread
        messages of other types stay in the inbox."""
        deadline = timing.Deadline(timeout_s or self.timeout_s)
        while True:
            for index, message in enumerate(self.inbox):
                if isinstance(message, cls) and (where is None or where(message)):
                    del self.inbox[index]
                    return message
            self._pump(deadline, cls.__name__)

    def next_message(self, timeout_s: float | None = None) -> Message:
        """The next unread message, whatever its type."""
        deadline = timing.Deadline(timeout_s or self.timeout_s)
        while not self.inbox:
            self._pump(deadline, "any message")
        return self.inbox.pop(0)

    def logon(
        self, member: str, token: str = "", resume_from_seq: int = 0, heartbeat_interval_ms: int = 0
    ) -> pb.LogonResponse:
        self.send(
            pb.LogonRequest(
                request_id=self.request_id(),
                member_id=member,
                token=token,
                resume_from_seq=resume_from_seq,
                client_name="compat.exchange.client",
                heartbeat_interval_ms=heartbeat_interval_ms,
            )
        )
        return self.expect(pb.LogonResponse)

    def new_order(
        self,
        client_order_id: str,
        symbol: str,
        side: int,
        qty: int,
        price_ticks: int = 0,
        order_type: int = pb.LIMIT,
        tif: int = pb.GTC,
    ) -> int:
        rid = self.request_id()
        self.send(
            pb.NewOrder(
                request_id=rid,
                client_order_id=client_order_id,
                symbol=symbol,
                side=enum_value(side),
                order_type=enum_value(order_type),
                tif=enum_value(tif),
                qty=qty,
                price_ticks=price_ticks,
            )
        )
        return rid


class TlxClient(_SocketClient):
    def __init__(self, host: str, port: int, member: str, begin: str = "TLX.2", timeout_s: float = 5.0) -> None:
        super().__init__(host, port, timeout_s)
        self.member = member
        self.begin = begin
        self.next_out = 1
        self.decoder = TlxDecoder()
        self.inbox: list[TlxMessage] = []
        self.received: list[TlxMessage] = []

    def message(
        self, msg_type: str, body: list[tuple[int, str]], seq: int | None = None, poss_dup: bool = False
    ) -> bytes:
        """Encode one message with our header; takes the next MsgSeqNum unless ``seq`` is given."""
        if seq is None:
            seq = self.next_out
            self.next_out += 1
        header = [
            (35, msg_type),
            (34, str(seq)),
            (49, self.member),
            (56, "TLX"),
            (52, format_time(timing.wall_ns())),
        ]
        if poss_dup:
            header.append((43, "Y"))
        return tlx_encode(self.begin, header + body)

    def send(self, msg_type: str, body: list[tuple[int, str]], seq: int | None = None, poss_dup: bool = False) -> None:
        self.send_raw(self.message(msg_type, body, seq, poss_dup))

    def _pump(self, deadline: timing.Deadline, what: str) -> None:
        for message in self.decoder.feed(self._read(deadline, what)):
            self.inbox.append(message)
            self.received.append(message)

    def expect(
        self, msg_type: str, where: Callable[[TlxMessage], bool] | None = None, timeout_s: float | None = None
    ) -> TlxMessage:
        deadline = timing.Deadline(timeout_s or self.timeout_s)
        while True:
            for index, message in enumerate(self.inbox):
                if message.msg_type == msg_type and (where is None or where(message)):
                    del self.inbox[index]
                    return message
            self._pump(deadline, f"35={msg_type}")

    def logon(
        self,
        token: str = "",
        heartbeat_s: int = 30,
        reset: bool = False,
        next_expected: int | None = None,
        heartbeat_ms: int | None = None,
        resume_from_member_seq: int | None = None,
    ) -> TlxMessage:
        """``heartbeat_ms``: the exchange's HeartBtIntMs (4020), finer than ``heartbeat_s`` (108);
        ``resume_from_member_seq``: ResumeFromMemberSeq (4021), member events again from there."""
        body = [(98, "0"), (108, str(heartbeat_s)), (141, "Y" if reset else "N")]
        if heartbeat_ms is not None:
            body.append((4020, str(heartbeat_ms)))
        if resume_from_member_seq is not None:
            body.append((4021, str(resume_from_member_seq)))
        if next_expected is not None:
            body.append((789, str(next_expected)))
        if token:
            body.append((554, token))
        self.send("A", body)
        return self.expect("A")
