"""Reading YAML with line numbers: every value keeps the line it came from.

``yaml.safe_load`` forgets where a value was written, so a schema error could only say
*what* is wrong. We compose the node tree instead (``yaml.compose``) and read it through
the helpers below, which turn every problem into ``MatrixError("file:LINE: ...")`` with the
line of the offending node (1-based) and what was expected there.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compat.errors import MatrixError

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"


def line_of(node: Node) -> int:
    """1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


@dataclass(frozen=True)
class Source:
    """The file being read, as it is named in errors (``matrix.yaml``)."""

    label: str

    def error(self, where: Node | int | None, message: str) -> MatrixError:
        line = line_of(where) if isinstance(where, Node) else where
        return MatrixError(self.label, line, message)

    def compose(self, text: str) -> Node | None:
        """The node tree of ``text``; a syntax error becomes ``MatrixError`` with its line."""
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else None
            parts = [p for p in (exc.context, exc.problem) if p]
            raise self.error(line, f"invalid YAML: {'; '.join(parts) or exc}") from None
        except yaml.YAMLError as exc:  # e.g. a reader error on bad bytes: no mark
            raise self.error(None, f"invalid YAML: {exc}") from None


def describe(node: Node) -> str:
    """How a node looks to a reader of the error message."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing (null)"
    return repr(node.value)


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` pair of a mapping, with both nodes for line numbers."""

    key: str
    key_node: ScalarNode
    value: Node


class Fields:
    """The entries of one YAML mapping, checked against the keys a section allows."""

    def __init__(self, src: Source, node: MappingNode, what: str, entries: dict[str, Entry]) -> None:
        self.src = src
        self.node = node
        self.what = what
        self._entries = entries

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def get(self, key: str) -> Node | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    def require(self, key: str) -> Node:
        entry = self._entries.get(key)
        if entry is None:
            raise self.src.error(self.node, f"{self.what} is missing the required key {key!r}")
        return entry.value

    def line(self, key: str) -> int:
        entry = self._entries.get(key)
        return line_of(entry.key_node) if entry is not None else line_of(self.node)

    @property
    def first_line(self) -> int:
        return line_of(self.node)


def mapping(
    src: Source,
    node: Node,
    what: str,
    allowed: Collection[str] | None = None,
    required: Collection[str] = (),
) -> Fields:
    """Read a mapping; unknown keys list the allowed ones, missing required keys are named.

    ``allowed=None`` accepts any string key (free-form sections such as ``settings``).
    """
    if not isinstance(node, MappingNode):
        expected = f" with keys {_keys(allowed)}" if allowed else ""
        raise src.error(node, f"{what} must be a mapping{expected}, got {describe(node)}")
    entries: dict[str, Entry] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
            raise src.error(key_node, f"{what} has a key that is {describe(key_node)}; keys must be names")
        key = str(key_node.value)
        if key in entries:
            first = line_of(entries[key].key_node)
            raise src.error(key_node, f"duplicate key {key!r} in {what} (first given on line {first})")
        if allowed is not None and key not in allowed:
            hint = difflib.get_close_matches(key, list(allowed), n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise src.error(
                key_node, f"unknown key {key!r} in {what}{did_you_mean}; allowed keys: {_keys(allowed)}"
            )
        entries[key] = Entry(key, key_node, value_node)
    fields = Fields(src, node, what, entries)
    for key in required:
        fields.require(key)
    return fields


def _keys(allowed: Collection[str] | None) -> str:
    return ", ".join(sorted(allowed or ()))


def sequence(src: Source, node: Node, what: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise src.error(node, f"{what} must be a list, got {describe(node)}")
    return list(node.value)


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def string(src: Source, node: Node, what: str) -> str:
    """A non-empty scalar as text. The raw text is kept, so ``2.10`` stays ``"2.10"``."""
    if not isinstance(node, ScalarNode) or node.tag == _NULL:
        raise src.error(node, f"{what} must be a string, got {describe(node)}")
    value = str(node.value)
    if not value.strip():
        raise src.error(node, f"{what} must not be empty")
    return value


def optional_string(src: Source, node: Node | None, what: str) -> str | None:
    if node is None or is_null(node):
        return None
    return string(src, node, what)


def boolean(src: Source, node: Node, what: str) -> bool:
    if not isinstance(node, ScalarNode) or node.tag != _BOOL:
        raise src.error(node, f"{what} must be true or false, got {describe(node)}")
    return str(node.value).lower() in ("true", "yes", "on")


def integer(src: Source, node: Node, what: str, minimum: int | None = None) -> int:
    if not isinstance(node, ScalarNode) or node.tag != _INT:
        raise src.error(node, f"{what} must be a whole number, got {describe(node)}")
    value = int(yaml.safe_load(node.value))
    if minimum is not None and value < minimum:
        raise src.error(node, f"{what} must be at least {minimum}, got {value}")
    return value


def date(src: Source, node: Node, what: str) -> _dt.date:
    """An ISO date (``2027-03-31``); YAML resolves it as a timestamp, we want the text."""
    text = string(src, node, what)
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise src.error(node, f"{what} must be a date like 2027-03-31, got {text!r}") from None


def string_list(src: Source, node: Node, what: str) -> list[tuple[str, Node]]:
    """A list of strings, each with its node (for per-item line numbers)."""
    return [(string(src, item, f"each entry of {what}"), item) for item in sequence(src, node, what)]


def plain(node: Node) -> Any:
    """The plain Python value of a subtree, for free-form sections."""
    return yaml.safe_load(yaml.serialize(node))
