"""Protocol mutants of a product wheel, generated from the protobuf schema it ships.

A product that ships its schema (a serialized ``FileDescriptorSet``, ``*.desc``, and the
generated ``*_pb2.py`` modules, as ``compat.artifacts.schema_diff`` reads them) can be mutated
without its source tree or ``protoc``: each mutant changes ONE element of a descriptor, and its
wheel carries a ``*_pb2.py`` regenerated from the mutated descriptor (protobuf's
``descriptor_pb2`` and the runtime ``builder``, which is how current generated code builds its
classes) and the mutated ``*.desc``. Kinds:

- ``drop``: a field removed from its message (its number not reserved): the product's code
  and its peers no longer share it;
- ``renumber``: a field moved to a number no peer knows, so on the wire it is an unknown field
  each way while the product's own code still reads and writes it;
- ``narrow``: a field's type narrowed on the same wire type (int64 → int32, uint64 → uint32,
  sint64 → sint32, int32/uint32 → bool): large values are truncated or refused;
- ``enum-add``: a value added to an enum (only a product that reflects over its enums, or a
  peer that sees the value, can notice).

The mutated files are those of the product's ``*.desc`` sets (the schema it ships); a wheel with
no descriptor set has the files embedded in its ``*_pb2.py`` mutated instead.
"""

from __future__ import annotations

import ast
import hashlib
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2
from packaging.utils import parse_wheel_filename

from compat.artifacts.rewheel import rewrite_wheel
from compat.artifacts.schema_diff import parse_descriptor_file, parse_descriptor_set, serialized_files_in_pb2
from compat.errors import NoSchemaDescriptors, SchemaDiffError

_FDP = descriptor_pb2.FieldDescriptorProto
KINDS: tuple[str, ...] = ("drop", "renumber", "narrow", "enum-add")
# Narrowing that keeps the wire type (a varint stays a varint), so peers still parse the field.
_NARROWER = {
    _FDP.TYPE_INT64: _FDP.TYPE_INT32,
    _FDP.TYPE_UINT64: _FDP.TYPE_UINT32,
    _FDP.TYPE_SINT64: _FDP.TYPE_SINT32,
    _FDP.TYPE_INT32: _FDP.TYPE_BOOL,
    _FDP.TYPE_UINT32: _FDP.TYPE_BOOL,
}
_TYPE_NAMES = {value: name.removeprefix("TYPE_").lower() for name, value in _FDP.Type.items()}
# A renumbered field goes here (+ its old number): far above what any release uses, below the
# largest field number protobuf allows (2**29 - 1) and outside its reserved 19000-19999.
_RENUMBER_BASE = 536_860_000


@dataclass(frozen=True)
class Mutant:
    """One schema change. ``element`` names what it changes: ``ExecutionReport.cum_qty`` (a
    field), ``RejectCode`` (an enum); ``file`` is the .proto file it is in."""

    kind: str
    file: str
    element: str
    detail: str = ""  # "int64 → int32" for narrow, the number for renumber

    @property
    def id(self) -> str:
        """``drop:ExecutionReport.cum_qty``: stable across runs, the cache and report key."""
        return f"{self.kind}:{self.element}"

    @property
    def local_tag(self) -> str:
        """A PEP 440 local-version segment naming the mutant (letters and digits, dot-separated),
        with a short hash so two elements that read alike never share a version."""
        words = re.sub(r"[^a-z0-9]+", ".", f"{self.kind}.{self.element}".lower()).strip(".")
        digest = hashlib.sha256(self.id.encode()).hexdigest()[:6]
        return f"mutant.{words}.{digest}"

    def describe(self) -> str:
        what = {
            "drop": "is removed",
            "renumber": f"is renumbered ({self.detail})",
            "narrow": f"is narrowed ({self.detail})",
            "enum-add": f"gains a value ({self.detail})",
        }[self.kind]
        return f"{self.element} {what}"


@dataclass(frozen=True)
class ShippedSchema:
    """What a wheel ships of its protocol: the files to mutate, the members that carry them."""

    wheel: Path
    files: tuple[descriptor_pb2.FileDescriptorProto, ...]  # the mutable files, by name
    desc_members: tuple[str, ...]  # *.desc archive members
    pb2_members: tuple[str, ...]  # *_pb2.py archive members embedding one of the files

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)


def read_shipped_schema(wheel: Path) -> ShippedSchema:
    """The protobuf files a wheel ships as its schema, and where they are in the archive."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SchemaDiffError(f"{wheel}: not a wheel ({exc})") from exc
    from_sets: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    embedded: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    desc_members, pb2_sources = [], {}
    with archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".desc"):
                desc_members.append(name)
                for proto in parse_descriptor_set(archive.read(name), f"{wheel}!{name}"):
                    from_sets.setdefault(proto.name, proto)
            elif name.endswith("_pb2.py"):
                source = archive.read(name).decode("utf-8", errors="replace")
                pb2_sources[name] = source
                for data in serialized_files_in_pb2(source, f"{wheel}!{name}"):
                    proto = parse_descriptor_file(data, f"{wheel}!{name}")
                    embedded.setdefault(proto.name, proto)
    chosen = from_sets or embedded
    if not chosen:
        raise NoSchemaDescriptors(
            f"{wheel}: the wheel ships no protobuf schema (no *.desc and no *_pb2.py), so there is nothing to "
            "mutate; ship the FileDescriptorSet as package data (protoc --descriptor_set_out)", (wheel.name,))
    pb2_members = tuple(name for name, source in pb2_sources.items()
                        if any(file in chosen for file in _files_in(source, name)))
    missing = sorted(set(chosen) - {p for m in pb2_members for p in _files_in(pb2_sources[m], m)})
    if missing:
        raise SchemaDiffError(f"{wheel}: ships the schema of {', '.join(missing)} but no generated *_pb2.py module "
                              "for it, so a mutant of it would change nothing the product runs")
    files = tuple(_without_source_info(chosen[name]) for name in sorted(chosen))
    return ShippedSchema(wheel, files, tuple(desc_members), pb2_members)


def _files_in(source: str, origin: str) -> list[str]:
    return [parse_descriptor_file(d, origin).name for d in serialized_files_in_pb2(source, origin)]


def _without_source_info(proto: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """A copy without comments and source locations: they index elements by position, which a
    mutation shifts."""
    copy = descriptor_pb2.FileDescriptorProto()
    copy.CopyFrom(proto)
    copy.ClearField("source_code_info")
    return copy


# --- enumerating mutants ---------------------------------------------------------------------


def _messages(prefix: str, messages: Iterable[descriptor_pb2.DescriptorProto]
              ) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    for message in messages:
        if message.options.map_entry:
            continue  # a map's synthetic entry: its key/value are the map field's, not elements of their own
        name = f"{prefix}{message.name}"
        yield name, message
        yield from _messages(f"{name}.", message.nested_type)


def _enums(file: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[str, descriptor_pb2.EnumDescriptorProto]]:
    for enum in file.enum_type:
        yield enum.name, enum
    for name, message in _messages("", file.message_type):
        for enum in message.enum_type:
            yield f"{name}.{enum.name}", enum


def enumerate_mutants(schema: ShippedSchema) -> list[Mutant]:
    """Every mutant of the schema: each field dropped, renumbered and (where its type allows)
    narrowed; a value added to each enum. In schema order, so a run lists them the same way."""
    found: list[Mutant] = []
    for file in schema.files:
        for name, message in _messages("", file.message_type):
            for field in message.field:
                element = f"{name}.{field.name}"
                found.append(Mutant("drop", file.name, element))
                moved = f"{field.number} → {_RENUMBER_BASE + field.number}"
                found.append(Mutant("renumber", file.name, element, moved))
                narrower = _NARROWER.get(field.type)
                if narrower is not None:
                    found.append(Mutant("narrow", file.name, element,
                                        f"{_TYPE_NAMES[field.type]} → {_TYPE_NAMES[narrower]}"))
        for name, enum in _enums(file):
            top = max((v.number for v in enum.value), default=0)
            found.append(Mutant("enum-add", file.name, name, f"{_added_value_name(name)} = {top + 1}"))
    return found


def _added_value_name(enum: str) -> str:
    # Enum values are scoped like their enum's siblings, so the name carries the enum's.
    return "COMPAT_MUTANT_" + re.sub(r"[^A-Z0-9]+", "_", enum.upper())


# --- applying one ------------------------------------------------------------------------------


def mutate(files: Sequence[descriptor_pb2.FileDescriptorProto],
           mutant: Mutant) -> list[descriptor_pb2.FileDescriptorProto]:
    """Copies of ``files`` with ``mutant`` applied to its file."""
    out = []
    for original in files:
        copy = descriptor_pb2.FileDescriptorProto()
        copy.CopyFrom(original)
        if copy.name == mutant.file:
            _apply(copy, mutant)
        out.append(copy)
    return out


def _apply(file: descriptor_pb2.FileDescriptorProto, mutant: Mutant) -> None:
    if mutant.kind == "enum-add":
        enum = dict(_enums(file)).get(mutant.element)
        if enum is None:
            raise SchemaDiffError(f"{file.name}: no enum {mutant.element} to mutate")
        value = enum.value.add()
        value.name = _added_value_name(mutant.element)
        value.number = max((v.number for v in enum.value if v is not value), default=0) + 1
        return
    message_name, _, field_name = mutant.element.rpartition(".")
    message = dict(_messages("", file.message_type)).get(message_name)
    field = next((f for f in message.field if f.name == field_name), None) if message is not None else None
    if message is None or field is None:
        raise SchemaDiffError(f"{file.name}: no field {mutant.element} to mutate")
    if mutant.kind == "drop":
        _drop(message, field)
    elif mutant.kind == "renumber":
        field.number = _RENUMBER_BASE + field.number
    elif mutant.kind == "narrow":
        if field.type not in _NARROWER:
            raise SchemaDiffError(f"{file.name}: {mutant.element} ({_TYPE_NAMES[field.type]}) cannot be narrowed")
        field.type = _NARROWER[field.type]
    else:
        raise SchemaDiffError(f"unknown mutant kind {mutant.kind!r}; expected one of {', '.join(KINDS)}")


def _drop(message: descriptor_pb2.DescriptorProto, field: descriptor_pb2.FieldDescriptorProto) -> None:
    oneof = field.oneof_index if field.HasField("oneof_index") else None
    message.field.remove(field)
    if oneof is None or any(f.HasField("oneof_index") and f.oneof_index == oneof for f in message.field):
        return
    # The field was its oneof's last (a proto3 `optional` has a synthetic oneof of its own):
    # remove the oneof and renumber the later oneofs' indices.
    del message.oneof_decl[oneof]
    for other in message.field:
        if other.HasField("oneof_index") and other.oneof_index > oneof:
            other.oneof_index -= 1


# --- the mutant's wheel -------------------------------------------------------------------------


def generated_module(original: str, origin: str, file: descriptor_pb2.FileDescriptorProto) -> str:
    """The source of a ``*_pb2`` module for ``file``, built by protobuf's runtime builder from its
    serialized descriptor; the original module's imports of other ``*_pb2`` modules (the file's
    dependencies, registered first) and the module name it gives its classes are kept."""
    try:
        tree = ast.parse(original, filename=origin)
    except SyntaxError as exc:
        raise SchemaDiffError(f"{origin}: not a parseable generated _pb2 module ({exc.msg})") from exc
    imports = []
    module_name = Path(origin).stem
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
                alias.name.endswith("_pb2") for alias in node.names):
            imports.append(ast.get_source_segment(original, node) or "")
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    and call.func.attr == "BuildTopDescriptorsAndMessages" and len(call.args) > 1 \
                    and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str):
                module_name = call.args[1].value
    lines = [
        "# -*- coding: utf-8 -*-",
        f"# Generated by compat coverage from a mutated descriptor of {file.name}. DO NOT EDIT.",
        '"""Generated protocol buffer code (a compat coverage mutant)."""',
        "from google.protobuf import descriptor_pool as _descriptor_pool",
        "from google.protobuf import symbol_database as _symbol_database",
        "from google.protobuf.internal import builder as _builder",
        *imports,
        "",
        "_sym_db = _symbol_database.Default()",
        "",
        f"DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile({file.SerializeToString()!r})",
        "",
        "_globals = globals()",
        "_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _globals)",
        f"_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, {module_name!r}, _globals)",
        "",
    ]
    return "\n".join(lines)


def mutant_version(version: str, mutant: Mutant) -> str:
    """``3.1.0.dev0`` → ``3.1.0.dev0+mutant.drop.executionreport.cum.qty.1a2b3c`` (a local
    segment appended to an existing one)."""
    separator = "." if "+" in version else "+"
    return f"{version}{separator}{mutant.local_tag}"


def build_mutant_wheel(schema: ShippedSchema, mutant: Mutant, out_dir: Path, version: str | None = None) -> Path:
    """The product's wheel with ``mutant`` applied to its shipped schema: every ``*.desc`` and
    ``*_pb2.py`` that carries the mutated file regenerated; ``version`` (default: a distinct
    local version naming the mutant, ``mutant_version``)."""
    mutated = {f.name: f for f in mutate(schema.files, mutant)}
    replace: dict[str, bytes] = {}
    with zipfile.ZipFile(schema.wheel) as archive:
        for member in schema.desc_members:
            files = parse_descriptor_set(archive.read(member), member)
            if not any(f.name == mutant.file for f in files):
                continue
            descriptor_set = descriptor_pb2.FileDescriptorSet()
            for f in files:
                descriptor_set.file.add().CopyFrom(mutated[f.name] if f.name == mutant.file else f)
            replace[member] = descriptor_set.SerializeToString()
        for member in schema.pb2_members:
            source = archive.read(member).decode("utf-8")
            if mutant.file in _files_in(source, member):
                replace[member] = generated_module(source, member, mutated[mutant.file]).encode("utf-8")
    if version is None:
        version = mutant_version(str(parse_wheel_filename(schema.wheel.name)[1]), mutant)
    return rewrite_wheel(schema.wheel, out_dir, version=version, replace=replace)
