"""TLX tag=value framing and exact decimal prices."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compat.errors import TlxFramingError
from compat.exchange import codes
from compat.exchange.instruments import InstrumentSpec
from compat.exchange.venues.tlx_codec import TlxDecoder, TlxMessage, checksum, encode

ABC = InstrumentSpec("ABC", tick_size_units=1, price_scale=2)
XYZ = InstrumentSpec("XYZ", tick_size_units=5, price_scale=3)
FLT = InstrumentSpec("FLT", tick_size_units=1, price_scale=1)


def test_worked_example_from_the_protocol_doc() -> None:
    raw = encode(
        "TLX.2",
        [
            (35, "A"),
            (34, "1"),
            (49, "GW1"),
            (56, "TLX"),
            (52, "20261125-16:40:00.000"),
            (98, "0"),
            (108, "30"),
            (141, "N"),
            (789, "1"),
            (554, "secret1"),
        ],
    )
    assert raw.replace(b"\x01", b"|") == (
        b"8=TLX.2|9=85|35=A|34=1|49=GW1|56=TLX|52=20261125-16:40:00.000|98=0|108=30|141=N|789=1|554=secret1|10=049|"
    )


values = st.text(alphabet=st.characters(exclude_characters="\x01", exclude_categories=["Cs"]), max_size=20)


@given(st.lists(st.tuples(st.integers(1, 99999), values), max_size=10), st.integers(1, 9))
def test_round_trip_in_any_chunking(fields: list[tuple[int, str]], chunk: int) -> None:
    body = [(35, "D"), *fields]
    stream = encode("TLX.1", body) + encode("TLX.2", [(35, "0")])
    decoder = TlxDecoder()
    messages: list[TlxMessage] = []
    for i in range(0, len(stream), chunk):
        messages += decoder.feed(stream[i : i + chunk])
    assert [(m.begin, m.fields, m.problem) for m in messages] == [("TLX.1", body, None), ("TLX.2", [(35, "0")], None)]


def test_checksum_is_sum_mod_256_and_three_digits() -> None:
    raw = encode("TLX.2", [(35, "0")])
    assert raw.endswith(f"10={checksum(raw[:-7]):03d}\x01".encode())


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (b"9=5\x01", codes.BAD_FRAMING, "start with 8="),
        (b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01", codes.BAD_FRAMING, "Incorrect BeginString"),
        (b"8=TLX.2\x0135=0\x01", codes.BAD_FRAMING, "9=BodyLength"),
        (b"8=TLX.2\x019=x\x01", codes.BAD_FRAMING, "9=BodyLength"),
        (b"8=TLX.2\x019=9999999\x01", codes.FRAME_TOO_LARGE, "cap"),
        (b"8=TLX.2\x019=3\x0135=0\x0110=000\x01", codes.BAD_FRAMING, "does not end"),
    ],
)
def test_framing_errors(raw: bytes, code: int, reason: str) -> None:
    with pytest.raises(TlxFramingError) as info:
        TlxDecoder().feed(raw)
    assert info.value.code == code and reason in info.value.reason


def test_bad_checksum() -> None:
    raw = bytearray(encode("TLX.2", [(35, "0")]))
    raw[-4:-1] = b"%03d" % ((int(raw[-4:-1]) + 1) % 256)
    with pytest.raises(TlxFramingError, match="CheckSum"):
        TlxDecoder().feed(bytes(raw))


def test_unterminated_begin_string_is_refused_once_too_long() -> None:
    decoder = TlxDecoder()
    assert decoder.feed(b"8=TLX.2") == []
    with pytest.raises(TlxFramingError):
        decoder.feed(b"x" * 100)


def test_body_that_does_not_tokenise_is_a_message_with_a_problem() -> None:
    body = b"35=D\x01garbage\x01"
    head = b"8=TLX.2\x019=%d\x01" % len(body) + body
    (message,) = TlxDecoder().feed(head + b"10=%03d\x01" % checksum(head))
    assert message.problem is not None and message.problem[0] == 6
    body = b"34=1\x0135=D\x01"
    head = b"8=TLX.2\x019=%d\x01" % len(body) + body
    (message,) = TlxDecoder().feed(head + b"10=%03d\x01" % checksum(head))
    assert message.problem == (1, 35, "MsgType (35) must be the third field")


def test_soh_in_a_value_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="SOH"):
        encode("TLX.2", [(35, "D"), (58, "a\x01b")])


@pytest.mark.parametrize(
    ("spec", "ticks", "text"),
    [
        (ABC, 10025, "100.25"),
        (ABC, 1, "0.01"),
        (ABC, 10000, "100.00"),
        (XYZ, 535, "2.675"),
        (FLT, 3, "0.3"),
        (FLT, 7, "0.7"),
        (FLT, 0, "0.0"),
    ],
)
def test_price_formatting_from_ticks_is_exact(spec: InstrumentSpec, ticks: int, text: str) -> None:
    assert spec.format_price(ticks) == text
    assert spec.parse_price(text) == ticks


@pytest.mark.parametrize(
    ("spec", "text", "ticks"),
    [
        (FLT, "0.30", 3),
        (FLT, "0.3000000", 3),
        (XYZ, "2.675", 535),
        (ABC, "100", 10000),
        (ABC, "0.1", 10),
    ],
)
def test_price_parsing_accepts_trailing_zeros(spec: InstrumentSpec, text: str, ticks: int) -> None:
    assert spec.parse_price(text) == ticks


@pytest.mark.parametrize(
    ("spec", "text"), [(FLT, "0.25"), (XYZ, "2.676"), (ABC, "100.251"), (FLT, "0.30000000000000004")]
)
def test_off_tick_prices_are_none_not_rounded(spec: InstrumentSpec, text: str) -> None:
    assert spec.parse_price(text) is None


@pytest.mark.parametrize("text", ["", " 1", "1e3", "nan", "inf", "1_0", "abc", "1.2.3"])
def test_non_decimal_prices_raise(text: str) -> None:
    with pytest.raises(ValueError):
        ABC.parse_price(text)


@given(st.integers(0, 10**12))
def test_format_then_parse_is_identity(ticks: int) -> None:
    for spec in (ABC, XYZ, FLT):
        assert spec.parse_price(spec.format_price(ticks)) == ticks
