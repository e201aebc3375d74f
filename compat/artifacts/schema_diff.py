"""Static schema check: compare the protobuf descriptors shipped in two wheels.

A wheel carries its protocol as a serialized ``FileDescriptorSet`` (``*.desc`` package
data) and/or generated ``*_pb2.py`` modules; both are read straight from the zip, nothing is
imported or executed. Each change from A to B is classified (rules of protobuf's "Updating A
Message Type"):

wire-breaking  a field number reused for another field, a field retyped (int64 → sint64
               included: same wire type, different encoding), a field renumbered or changed
               to/from repeated, a field removed without reserving its number, an enum value
               removed or renumbered (a message-type enum: the type number changed), a
               message or enum removed;
safe           a field, message, enum or enum value added, a field removed *and* reserved,
               a reserved range or name added, a rename that keeps number and type.
"""

from __future__ import annotations

import ast
import re
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

from compat.errors import NoSchemaDescriptors, SchemaDiffError

_FDP = descriptor_pb2.FieldDescriptorProto
_VARINT_INTS = {"int32", "int64", "uint32", "uint64", "bool"}
_ZIGZAG = {"sint32", "sint64"}
# An enum whose values number the protocol's message types (framing), e.g. MessageType.
_MESSAGE_TYPE_ENUM = re.compile(r"(Message|Msg)_?Type$", re.IGNORECASE)


# --- reading descriptors ------------------------------------------------------------------------


def serialized_files_in_pb2(source: str, origin: str) -> list[bytes]:
    """The ``AddSerializedFile(b'...')`` payloads of a generated module, found with ast."""
    try:
        tree = ast.parse(source, filename=origin)
    except SyntaxError as exc:
        raise SchemaDiffError(f"{origin}: not a parseable generated _pb2 module ({exc.msg})") from exc
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, bytes)
        ):
            found.append(node.args[0].value)
    return found


def parse_descriptor_set(data: bytes, origin: str) -> list[descriptor_pb2.FileDescriptorProto]:
    """The files of a serialized ``FileDescriptorSet`` (``origin`` names it in errors)."""
    descriptor_set = descriptor_pb2.FileDescriptorSet()
    try:
        descriptor_set.ParseFromString(data)
    except Exception as exc:  # protobuf raises its own DecodeError type
        raise SchemaDiffError(f"{origin}: not a serialized FileDescriptorSet ({exc})") from exc
    return list(descriptor_set.file)


def parse_descriptor_file(data: bytes, origin: str) -> descriptor_pb2.FileDescriptorProto:
    """One serialized ``FileDescriptorProto`` (``origin`` names it in errors)."""
    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(data)
    except Exception as exc:
        raise SchemaDiffError(f"{origin}: embedded descriptor does not parse ({exc})") from exc
    return proto


def load_descriptor_files(path: str | Path) -> list[descriptor_pb2.FileDescriptorProto]:
    """Every .proto file described by a wheel, a ``.desc`` set or a ``_pb2.py`` module.

    In a wheel, ``*.desc`` sets win over ``*_pb2.py`` for a proto file named in both.
    """
    path = Path(path)
    if not path.exists():
        raise SchemaDiffError(f"{path}: no such file; pass a wheel, a .desc descriptor set or a _pb2.py")
    if path.suffix == ".whl":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise SchemaDiffError(f"{path}: not a wheel (bad zip: {exc})") from exc
        from_sets: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        from_modules: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        with archive:
            for name in sorted(archive.namelist()):
                origin = f"{path}!{name}"
                if name.endswith(".desc"):
                    for proto in parse_descriptor_set(archive.read(name), origin):
                        seen = from_sets.setdefault(proto.name, proto)
                        if seen != proto:
                            raise SchemaDiffError(
                                f"{origin}: describes {proto.name} differently from another *.desc "
                                "in the same wheel; ship one descriptor set per proto file"
                            )
                elif name.endswith("_pb2.py"):
                    source = archive.read(name).decode("utf-8", errors="replace")
                    for data in serialized_files_in_pb2(source, origin):
                        proto = parse_descriptor_file(data, origin)
                        from_modules.setdefault(proto.name, proto)
        files = {**from_modules, **from_sets}
        if not files:
            raise NoSchemaDescriptors(
                f"{path}: the wheel ships no protobuf descriptors (no *.desc and no *_pb2.py); "
                "add the FileDescriptorSet as package data (protoc --descriptor_set_out)",
                (path.name,),
            )
        return [files[name] for name in sorted(files)]
    data = path.read_bytes()
    if path.name.endswith("_pb2.py"):
        return [parse_descriptor_file(d, str(path)) for d in serialized_files_in_pb2(data.decode(), str(path))]
    return parse_descriptor_set(data, str(path))


# --- a flat model of a schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    name: str
    number: int
    type: str  # "int64", "sint64", "pkg.Side", ...
    repeated: bool


@dataclass
class MessageInfo:
    fields: dict[int, FieldInfo] = field(default_factory=dict)
    reserved_numbers: list[tuple[int, int]] = field(default_factory=list)  # [start, end)
    reserved_names: set[str] = field(default_factory=set)

    def reserves(self, number: int, name: str) -> bool:
        return name in self.reserved_names or any(lo <= number < hi for lo, hi in self.reserved_numbers)


@dataclass
class EnumInfo:
    values: dict[int, str] = field(default_factory=dict)  # number → first name
    names: dict[str, int] = field(default_factory=dict)
    reserved_numbers: list[tuple[int, int]] = field(default_factory=list)  # [start, end]
    reserved_names: set[str] = field(default_factory=set)

    def reserves(self, number: int, name: str) -> bool:
        return name in self.reserved_names or any(lo <= number <= hi for lo, hi in self.reserved_numbers)


@dataclass
class Schema:
    messages: dict[str, MessageInfo] = field(default_factory=dict)
    enums: dict[str, EnumInfo] = field(default_factory=dict)
    package_of: dict[str, str] = field(default_factory=dict)  # full type name → proto package

    @property
    def packages(self) -> set[str]:
        return set(self.package_of.values())

    def only_packages(self, packages: set[str]) -> Schema:
        """The part of the schema declared in ``packages`` (nested types included)."""
        kept = {n: p for n, p in self.package_of.items() if p in packages}
        return Schema(
            messages={n: m for n, m in self.messages.items() if n in kept},
            enums={n: e for n, e in self.enums.items() if n in kept},
            package_of=kept,
        )


def _type_text(proto: descriptor_pb2.FieldDescriptorProto) -> str:
    if proto.type in (_FDP.TYPE_MESSAGE, _FDP.TYPE_ENUM, _FDP.TYPE_GROUP):
        return proto.type_name.lstrip(".")
    return _FDP.Type.Name(proto.type).removeprefix("TYPE_").lower()


def _add_enum(schema: Schema, prefix: str, proto: descriptor_pb2.EnumDescriptorProto) -> None:
    info = EnumInfo(
        reserved_numbers=[(r.start, r.end) for r in proto.reserved_range],
        reserved_names=set(proto.reserved_name),
    )
    for value in proto.value:
        info.values.setdefault(value.number, value.name)
        info.names[value.name] = value.number
    schema.enums[f"{prefix}{proto.name}"] = info


def _add_message(schema: Schema, prefix: str, proto: descriptor_pb2.DescriptorProto) -> None:
    full = f"{prefix}{proto.name}"
    schema.messages[full] = MessageInfo(
        fields={
            f.number: FieldInfo(f.name, f.number, _type_text(f), f.label == _FDP.LABEL_REPEATED)
            for f in proto.field
        },
        reserved_numbers=[(r.start, r.end) for r in proto.reserved_range],
        reserved_names=set(proto.reserved_name),
    )
    for nested in proto.nested_type:
        if not nested.options.map_entry:
            _add_message(schema, full + ".", nested)
    for enum in proto.enum_type:
        _add_enum(schema, full + ".", enum)


def build_schema(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> Schema:
    schema = Schema()
    for file in files:
        before = schema.messages.keys() | schema.enums.keys()
        prefix = f"{file.package}." if file.package else ""
        for message in file.message_type:
            _add_message(schema, prefix, message)
        for enum in file.enum_type:
            _add_enum(schema, prefix, enum)
        for name in (schema.messages.keys() | schema.enums.keys()) - before:
            schema.package_of[name] = file.package
    return schema


# --- the diff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaChange:
    kind: str  # "field-retyped", "enum-value-added", ...
    breaking: bool
    where: str  # "refproto.NewOrder.price_ticks (8)"
    detail: str

    def text(self) -> str:
        return f"{'BREAKING' if self.breaking else 'safe    '}  {self.where}: {self.detail}"


@dataclass(frozen=True)
class SchemaDiff:
    a: str
    b: str
    changes: tuple[SchemaChange, ...]

    @property
    def breaking(self) -> tuple[SchemaChange, ...]:
        return tuple(c for c in self.changes if c.breaking)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "changes": [asdict(c) for c in self.changes]}


def _retype_note(old: str, new: str) -> str:
    if {old, new} <= _VARINT_INTS | _ZIGZAG and (old in _ZIGZAG) != (new in _ZIGZAG):
        return "same wire type (varint), different encoding: every value decodes wrong, silently"
    if {old, new} <= _VARINT_INTS:
        return "varint-compatible, but values outside the narrower type are truncated"
    return "readers decode the old bytes as the new type"


def _field_text(f: FieldInfo) -> str:
    return f"{'repeated ' if f.repeated else ''}{f.type} {f.name}"


def _diff_message(name: str, old: MessageInfo, new: MessageInfo) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    removed: dict[str, FieldInfo] = {}
    added: dict[str, FieldInfo] = {}
    for number, before in old.fields.items():
        after = new.fields.get(number)
        where = f"{name}.{before.name} ({number})"
        if after is None:
            removed[before.name] = before
            continue
        if after.name != before.name and after.type != before.type:
            changes.append(
                SchemaChange(
                    "field-number-reused",
                    True,
                    where,
                    f"number {number} was {_field_text(before)}, is now {_field_text(after)}",
                )
            )
            continue
        if after.type != before.type:
            changes.append(
                SchemaChange(
                    "field-retyped",
                    True,
                    where,
                    f"retyped {before.type} → {after.type}: {_retype_note(before.type, after.type)}",
                )
            )
        if after.repeated != before.repeated:
            changes.append(
                SchemaChange(
                    "field-cardinality",
                    True,
                    where,
                    f"{'singular → repeated' if after.repeated else 'repeated → singular'}",
                )
            )
        if after.name != before.name:
            changes.append(
                SchemaChange(
                    "field-renamed",
                    False,
                    where,
                    f"renamed to {after.name} (binary-compatible; JSON and text formats break)",
                )
            )
    for number, after in new.fields.items():
        if number not in old.fields:
            added[after.name] = after
    for field_name in sorted(set(removed) & set(added)):
        before, after = removed.pop(field_name), added.pop(field_name)
        changes.append(
            SchemaChange(
                "field-renumbered",
                True,
                f"{name}.{field_name} ({before.number})",
                f"renumbered {before.number} → {after.number}: peers no longer find it",
            )
        )
    for before in removed.values():
        where = f"{name}.{before.name} ({before.number})"
        if new.reserves(before.number, before.name):
            changes.append(
                SchemaChange(
                    "field-removed-reserved", False, where, f"removed {_field_text(before)}, reserved"
                )
            )
        else:
            changes.append(
                SchemaChange(
                    "field-removed",
                    True,
                    where,
                    f"removed {_field_text(before)} without reserving {before.number}: "
                    "peers still send it and a later field may reuse the number",
                )
            )
    for after in added.values():
        where = f"{name}.{after.name} ({after.number})"
        if old.reserves(after.number, after.name):
            changes.append(
                SchemaChange(
                    "field-number-reused",
                    True,
                    where,
                    f"added {_field_text(after)} on a number or name reserved before",
                )
            )
        else:
            changes.append(SchemaChange("field-added", False, where, f"added {_field_text(after)}"))
    new_ranges = set(new.reserved_numbers) - set(old.reserved_numbers)
    new_names = new.reserved_names - old.reserved_names
    if new_ranges or new_names:
        parts = [f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}" for lo, hi in sorted(new_ranges)]
        parts += [f'"{n}"' for n in sorted(new_names)]
        changes.append(SchemaChange("reserved-added", False, name, "reserved " + ", ".join(parts)))
    return changes


def _diff_enum(name: str, old: EnumInfo, new: EnumInfo) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    message_types = bool(_MESSAGE_TYPE_ENUM.search(name.rsplit(".", 1)[-1]))
    renumbered = {
        value: (number, new.names[value])
        for value, number in old.names.items()
        if value in new.names and new.names[value] != number
    }
    for value, (before, after) in sorted(renumbered.items()):
        kind = "message-type-renumbered" if message_types else "enum-value-renumbered"
        what = "message type number" if message_types else "value"
        changes.append(SchemaChange(kind, True, f"{name}.{value}", f"{what} changed {before} → {after}"))
    moved_old = {n for n, _ in renumbered.values()}
    moved_new = {n for _, n in renumbered.values()}
    for number, value in sorted(old.values.items()):
        if number in moved_old:
            continue
        if number not in new.values:
            reserved = " (reserved)" if new.reserves(number, value) else ""
            changes.append(
                SchemaChange(
                    "enum-value-removed",
                    True,
                    f"{name}.{value} ({number})",
                    f"value removed{reserved}: peers still sending {number} get an unknown value",
                )
            )
        elif new.values[number] != value and value not in new.names:
            changes.append(
                SchemaChange(
                    "enum-value-renamed",
                    False,
                    f"{name}.{value} ({number})",
                    f"renamed to {new.values[number]} (binary-compatible)",
                )
            )
    for number, value in sorted(new.values.items()):
        if number in old.values or number in moved_new:
            continue
        if old.reserves(number, value):
            changes.append(
                SchemaChange(
                    "enum-value-reused", True, f"{name}.{value} ({number})", "added on a reserved number"
                )
            )
        else:
            changes.append(
                SchemaChange("enum-value-added", False, f"{name}.{value} ({number})", "value added")
            )
    return changes


def diff_schemas(old: Schema, new: Schema) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    for name in sorted(old.messages.keys() | new.messages.keys()):
        before, after = old.messages.get(name), new.messages.get(name)
        if before is None:
            changes.append(SchemaChange("message-added", False, name, "message added"))
        elif after is None:
            changes.append(SchemaChange("message-removed", True, name, "message removed"))
        else:
            changes.extend(_diff_message(name, before, after))
    for name in sorted(old.enums.keys() | new.enums.keys()):
        e_before, e_after = old.enums.get(name), new.enums.get(name)
        if e_before is None:
            changes.append(SchemaChange("enum-added", False, name, "enum added"))
        elif e_after is None:
            changes.append(SchemaChange("enum-removed", True, name, "enum removed"))
        else:
            changes.extend(_diff_enum(name, e_before, e_after))
    return changes


def schema_diff(a: str | Path, b: str | Path) -> SchemaDiff:
    """Classified changes from the schema shipped in ``a`` to the one shipped in ``b``."""
    old = build_schema(load_descriptor_files(a))
    new = build_schema(load_descriptor_files(b))
    return SchemaDiff(str(a), str(b), tuple(diff_schemas(old, new)))
