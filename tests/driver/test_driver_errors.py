"""How the driver reports a client library's exception: every field JSON can carry, as plain
values (it runs inside client venvs with the stdlib only, so it is tested here in-process)."""

from __future__ import annotations

import enum
import json
from decimal import Decimal

from compat.driver.driver import _error


class Status(enum.Enum):
    THROTTLED = 8


class GrpcStyleError(Exception):
    """grpc's RpcError exposes ``code()`` and ``details()`` as methods."""

    def code(self) -> Status:
        return Status.THROTTLED


class BrokenGetter(Exception):
    def code(self, required: int) -> int:
        return required


class OddValues(Exception):
    code = Decimal("1.5")
    raw_code = b"\x01"
    retry_after_ms = 250


def test_a_callable_code_is_called_and_its_enum_value_sent() -> None:
    error = _error(GrpcStyleError("slow down"))
    assert error["code"] == 8
    assert "bound method" not in json.dumps(error)


def test_a_callable_that_needs_arguments_is_named_not_sent_as_a_repr() -> None:
    error = _error(BrokenGetter("x"))
    assert error["code"].startswith("<method BrokenGetter.code failed: TypeError")


def test_values_json_cannot_carry_become_strings_naming_their_type() -> None:
    error = _error(OddValues("odd"))
    assert error["code"] == "<Decimal> 1.5"
    assert error["raw_code"] == "<bytes> b'\\x01'"
    assert error["retry_after_ms"] == 250
    json.dumps(error)  # the whole payload is JSON


def test_plain_fields_pass_through() -> None:
    exc = Exception("rejected")
    exc.code = "E_THROTTLE"  # type: ignore[attr-defined]
    exc.supported = False  # type: ignore[attr-defined]
    error = _error(exc, context="insert")
    assert (error["type"], error["message"], error["code"], error["supported"]) == (
        "Exception", "insert: rejected", "E_THROTTLE", False)
