"""Instrument definitions, the instruments file, and exact price <-> ticks conversion.

A price is ``ticks * tick_size_units * 10**-price_scale``. Everything inside the exchange
is integer ticks; decimals exist only at the TLX edge and in the instruments file, and they
are ``decimal.Decimal`` from strings, never floats.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from compat.errors import (
    InstrumentsFileError,
)

PRE_OPEN = 1
OPEN = 2
HALTED = 3
CLOSED = 4
STATUS_NAMES: dict[int, str] = {PRE_OPEN: "PRE_OPEN", OPEN: "OPEN", HALTED: "HALTED", CLOSED: "CLOSED"}
STATUS_BY_NAME: dict[str, int] = {name: value for value, name in STATUS_NAMES.items()}

_SYMBOL_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}$")
DEFAULT_INSTRUMENTS_FILE = Path(__file__).with_name("instruments.default.yaml")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """The static definition of an instrument (its status lives in the engine)."""

    symbol: str
    tick_size_units: int
    price_scale: int
    lot_size: int = 1
    max_order_qty: int = 1_000_000
    description: str = ""
    currency: str = "EUR"
    initial_status: int = OPEN

    @property
    def tick_size(self) -> Decimal:
        return Decimal(self.tick_size_units).scaleb(-self.price_scale)

    def format_price(self, ticks: int) -> str:
        """Exact decimal string with exactly ``price_scale`` decimals, built from integers
        (10025 ticks of 0.01 -> "100.25", 535 of 0.005 -> "2.675", 3 of 0.1 -> "0.3")."""
        units = ticks * self.tick_size_units
        negative = units < 0
        digits = str(-units if negative else units)
        scale = self.price_scale
        if scale == 0:
            text = digits
        else:
            digits = digits.rjust(scale + 1, "0")
            text = f"{digits[:-scale]}.{digits[-scale:]}"
        return f"-{text}" if negative else text

    def parse_price(self, text: str) -> int | None:
        """Ticks for a decimal string, or None when the price is not a whole number of ticks.

        Raises ValueError when ``text`` is not a plain decimal number.
        """
        if not text or text.strip() != text or any(c in text for c in "eEnN_ "):
            raise ValueError(f"not a decimal price: {text!r}")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal price: {text!r}") from exc
        if not value.is_finite():
            raise ValueError(f"not a decimal price: {text!r}")
        units = value.scaleb(self.price_scale)
        if units != units.to_integral_value():
            return None
        whole = int(units)
        if whole % self.tick_size_units:
            return None
        return whole // self.tick_size_units


def _field(raw: dict[str, Any], key: str, where: str, kind: type, default: Any = None) -> Any:
    if key not in raw:
        if default is None:
            raise InstrumentsFileError(f"{where}: missing required field {key!r}")
        return default
    value = raw[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InstrumentsFileError(f"{where}: field {key!r} must be an integer, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise InstrumentsFileError(f"{where}: field {key!r} must be a string (quote decimals in YAML), got {value!r}")
    return value


def spec_from_mapping(raw: Any, where: str) -> InstrumentSpec:
    """Validate one instrument entry of the instruments file (see docs/exchange-protocol.md)."""
    if not isinstance(raw, dict):
        raise InstrumentsFileError(f"{where}: an instrument must be a mapping, got {raw!r}")
    symbol = _field(raw, "symbol", where, str)
    where = f"{where} ({symbol})"
    if not _SYMBOL_RE.match(symbol):
        raise InstrumentsFileError(f"{where}: symbol must match {_SYMBOL_RE.pattern}")
    tick_text = _field(raw, "tick_size", where, str)
    try:
        tick = Decimal(tick_text)
    except InvalidOperation as exc:
        raise InstrumentsFileError(f"{where}: tick_size {tick_text!r} is not a decimal") from exc
    if not tick.is_finite() or tick <= 0:
        raise InstrumentsFileError(f"{where}: tick_size must be a positive decimal, got {tick_text!r}")
    tick_decimals = max(0, -int(tick.normalize().as_tuple().exponent))
    scale = _field(raw, "price_scale", where, int, tick_decimals)
    if scale < tick_decimals or scale > 18:
        raise InstrumentsFileError(
            f"{where}: price_scale {scale} cannot express tick_size {tick_text} (needs {tick_decimals}..18)"
        )
    tick_units = int(tick.scaleb(scale))
    lot = _field(raw, "lot_size", where, int, 1)
    max_qty = _field(raw, "max_order_qty", where, int, 1_000_000)
    if lot <= 0 or max_qty <= 0:
        raise InstrumentsFileError(f"{where}: lot_size and max_order_qty must be positive")
    status_name = _field(raw, "status", where, str, "OPEN")
    if status_name not in STATUS_BY_NAME:
        raise InstrumentsFileError(f"{where}: status must be one of {sorted(STATUS_BY_NAME)}")
    unknown = set(raw) - {
        "symbol",
        "tick_size",
        "price_scale",
        "lot_size",
        "max_order_qty",
        "status",
        "description",
        "currency",
    }
    if unknown:
        raise InstrumentsFileError(f"{where}: unknown field(s) {sorted(unknown)}")
    return InstrumentSpec(
        symbol=symbol,
        tick_size_units=tick_units,
        price_scale=scale,
        lot_size=lot,
        max_order_qty=max_qty,
        description=str(raw.get("description", "")),
        currency=str(raw.get("currency", "EUR")),
        initial_status=STATUS_BY_NAME[status_name],
    )


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    token: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    instruments: tuple[InstrumentSpec, ...]
    members: tuple[Member, ...] | None  # None: open access (anyone logs on, anyone is admin)


# libyaml's safe loader when PyYAML was built with it: the same documents, ~6x less CPU. Every
# exchange start, and every cell of a run, reads the instruments file.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config(path: Path) -> ExchangeConfig:
    """Read an instruments file (YAML, or JSON when it ends in .json)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstrumentsFileError(f"{path}: cannot read the instruments file: {exc}") from exc
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise InstrumentsFileError(f"{path}: not valid {kind}: {exc}") from exc
    return config_from_mapping(doc, str(path))


def config_from_mapping(doc: Any, where: str) -> ExchangeConfig:
    if not isinstance(doc, dict) or not isinstance(doc.get("instruments"), list):
        raise InstrumentsFileError(f"{where}: expected a mapping with an 'instruments' list")
    specs: list[InstrumentSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(doc["instruments"]):
        spec = spec_from_mapping(raw, f"{where}: instruments[{index}]")
        if spec.symbol in seen:
            raise InstrumentsFileError(f"{where}: instruments[{index}]: duplicate symbol {spec.symbol!r}")
        seen.add(spec.symbol)
        specs.append(spec)
    members: tuple[Member, ...] | None = None
    if doc.get("members") is not None:
        raw_members = doc["members"]
        if not isinstance(raw_members, list):
            raise InstrumentsFileError(f"{where}: 'members' must be a list")
        parsed: list[Member] = []
        for index, item in enumerate(raw_members):
            if not isinstance(item, dict) or not isinstance(item.get("member_id"), str):
                raise InstrumentsFileError(f"{where}: members[{index}] needs a string member_id")
            parsed.append(Member(item["member_id"], str(item.get("token", "")), bool(item.get("admin", False))))
        members = tuple(parsed)
    return ExchangeConfig(instruments=tuple(specs), members=members)
