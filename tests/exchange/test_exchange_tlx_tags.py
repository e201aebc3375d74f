"""The TLX data dictionary (compat/exchange/venues/tlx_tags.py): plain-int namespaces, so
nothing but this test stops two names sharing a number."""

from __future__ import annotations

from compat.exchange.venues.tlx_tags import BODY_TAGS, HEADER_TAGS, USER_TAG_MIN, RejectReason, Tag


def _numbers(namespace: type) -> dict[str, int]:
    return {name: value for name, value in vars(namespace).items() if name.isupper()}


def test_every_tag_and_reject_reason_has_its_own_number() -> None:
    for namespace in (Tag, RejectReason):
        numbers = _numbers(namespace)
        assert all(isinstance(value, int) for value in numbers.values())
        assert len(set(numbers.values())) == len(numbers), f"{namespace.__name__}: a number has two names"


def test_the_message_tables_use_only_named_tags_below_the_user_range() -> None:
    named = set(_numbers(Tag).values())
    for tags in (HEADER_TAGS, *BODY_TAGS.values()):
        assert tags <= named
        assert all(tag < USER_TAG_MIN for tag in tags)
