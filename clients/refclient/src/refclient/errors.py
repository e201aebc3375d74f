"""Exceptions raised by the refclient API."""

from __future__ import annotations


class ClientError(Exception):
    """Root of every error refclient raises on purpose."""


class LogonRejected(ClientError):
    """The gateway refused the logon (bad token, ...)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"logon rejected: {code}: {text}")
        self.code = code
        self.text = text


class ProtocolVersionError(ClientError):
    """No protocol version both sides speak; ``supported`` is the gateway's (min, max)."""

    def __init__(self, supported: tuple[int, int], text: str) -> None:
        super().__init__(f"{text} (gateway supports {supported[0]}..{supported[1]})")
        self.supported = supported
        self.text = text


class FeatureUnsupported(ClientError):
    """The negotiated session lacks a capability the call needs; nothing was sent."""

    def __init__(self, capability: str, text: str = "") -> None:
        super().__init__(text or f"the gateway does not offer {capability}")
        self.capability = capability


class OrderRejected(ClientError):
    """An order request was rejected; ``code`` is the RejectCode name, ``raw_code`` its number."""

    def __init__(self, code: str, raw_code: int, text: str) -> None:
        super().__init__(f"{code} ({raw_code}): {text}")
        self.code = code
        self.raw_code = raw_code
        self.text = text
        self.received_ns = 0  # time.perf_counter_ns() when the gateway's reject was read; 0 = local


class ResumeGap(ClientError):
    """A resume could not replay every missed report: the gateway sent order status instead."""

    def __init__(self, replayed: int, text: str) -> None:
        super().__init__(f"resume gap after {replayed} replayed reports: {text}")
        self.replayed = replayed


class SessionLost(ClientError):
    """The connection to the gateway ended."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"session lost: {reason}")
        self.reason = reason


class Throttled(OrderRejected):
    """The gateway's message-rate limit refused a request; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after_ms: int, text: str) -> None:
        super().__init__("THROTTLED", 7, text)
        self.retry_after_ms = retry_after_ms
        self.retry_after = retry_after_ms / 1000
