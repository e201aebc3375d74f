"""The gateway's auth and limits configuration (one JSON file).

{"users": {"u1": "token1", "u2": "token2"},          # absent or empty: open access
 "throttle": {"limit": 1000, "window_s": 1.0},        # messages per rolling window per session
 "risk": {"max_order_qty": 100000, "max_notional": "10000000",
          "max_outstanding_qty": 1000000, "price_collar_ticks": 0},   # 0 = no collar
 "outbound": {"sndbuf": 0, "high_water": 1048576, "max_buffered": 8388608},   # 3.1, bytes
 "exchange_link": {"heartbeat_ms": 5000, "missed_heartbeats": 3}}            # 3.1

Outbound (slow consumers, 3.1): ``sndbuf`` fixes each client socket's kernel send buffer
(0 = the kernel's autotuning). When a session's unsent bytes in the gateway pass
``high_water`` the session is a slow consumer: its requests are not read and its market
data is conflated (dropped; a fresh snapshot per symbol once it has drained below a quarter
of the mark). Execution reports are never dropped: if unsent bytes reach ``max_buffered``
the connection is closed with a logged reason (a v2+ session resumes and gets them replayed).

Exchange link (3.1): the gateway declares ``heartbeat_ms`` to the venue at logon, sends a
heartbeat every interval and probes the exchange once it has been silent for one; after
``missed_heartbeats`` silent intervals the link is down although TCP may still hold it open
(a partition): requests are rejected and the gateway reconnects (``refgw.core``).
``heartbeat_ms`` 0 turns heartbeats off (as every release before 3.1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Limits:
    throttle_limit: int = 1000
    throttle_window_s: float = 1.0
    max_order_qty: int = 1_000_000
    max_notional: Decimal = Decimal("100000000")
    max_outstanding_qty: int = 10_000_000
    price_collar_ticks: int = 0
    sndbuf: int = 0
    high_water: int = 1 << 20
    max_buffered: int = 8 << 20


MIN_HEARTBEAT_MS = 50  # the exchange's floor (docs/exchange-protocol.md §0.3)
MAX_HEARTBEAT_MS = 300_000


@dataclass(frozen=True)
class LinkConfig:
    """Liveness of the exchange link: the heartbeat interval declared to the venue (0 = none)
    and how many silent intervals make the link down."""

    heartbeat_ms: int = 5000
    missed_heartbeats: int = 3


@dataclass(frozen=True)
class Config:
    users: dict[str, str] = field(default_factory=dict)
    limits: Limits = Limits()
    link: LinkConfig = LinkConfig()

    def check_token(self, username: str, token: str) -> bool:
        if not self.users:
            return True
        return self.users.get(username) == token


def load_config(path: str | None) -> Config:
    if not path:
        return Config()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read auth config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"auth config {path} must be a JSON object")
    throttle = data.get("throttle", {})
    risk = data.get("risk", {})
    outbound = data.get("outbound", {})
    base = Limits()
    limits = Limits(
        throttle_limit=int(throttle.get("limit", base.throttle_limit)),
        throttle_window_s=float(throttle.get("window_s", base.throttle_window_s)),
        max_order_qty=int(risk.get("max_order_qty", base.max_order_qty)),
        max_notional=Decimal(str(risk.get("max_notional", base.max_notional))),
        max_outstanding_qty=int(risk.get("max_outstanding_qty", base.max_outstanding_qty)),
        price_collar_ticks=int(risk.get("price_collar_ticks", base.price_collar_ticks)),
        sndbuf=int(outbound.get("sndbuf", base.sndbuf)),
        high_water=int(outbound.get("high_water", base.high_water)),
        max_buffered=int(outbound.get("max_buffered", base.max_buffered)),
    )
    if not 0 < limits.high_water < limits.max_buffered:
        raise ConfigError(
            f"auth config {path}: outbound high_water ({limits.high_water}) must be above 0 and below "
            f"max_buffered ({limits.max_buffered})"
        )
    users = {str(k): str(v) for k, v in dict(data.get("users", {})).items()}
    return Config(users=users, limits=limits, link=_link_config(path, data.get("exchange_link", {})))


def _link_config(path: str, section: object) -> LinkConfig:
    if not isinstance(section, dict):
        raise ConfigError(f"auth config {path}: exchange_link must be an object, got {section!r}")
    base = LinkConfig()
    try:
        link = LinkConfig(
            heartbeat_ms=int(section.get("heartbeat_ms", base.heartbeat_ms)),
            missed_heartbeats=int(section.get("missed_heartbeats", base.missed_heartbeats)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"auth config {path}: exchange_link values must be integers: {exc}") from None
    if link.heartbeat_ms and not MIN_HEARTBEAT_MS <= link.heartbeat_ms <= MAX_HEARTBEAT_MS:
        raise ConfigError(
            f"auth config {path}: exchange_link heartbeat_ms ({link.heartbeat_ms}) must be 0 (off) or "
            f"{MIN_HEARTBEAT_MS}..{MAX_HEARTBEAT_MS}"
        )
    if link.missed_heartbeats < 2:
        raise ConfigError(
            f"auth config {path}: exchange_link missed_heartbeats ({link.missed_heartbeats}) must be at least 2 "
            "(one late heartbeat is not a dead link)"
        )
    return link
