"""Wheel variants (rewheel) and protocol mutants generated from a wheel's shipped descriptors."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from compat.artifacts.protomutants import (
    Mutant,
    build_mutant_wheel,
    enumerate_mutants,
    mutant_version,
    mutate,
    read_shipped_schema,
)
from compat.artifacts.rewheel import rewrite_wheel
from compat.artifacts.schema_diff import schema_diff
from compat.errors import ArtifactError, NoSchemaDescriptors

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "wheelhouse" / "refgw-3.0.0-py3-none-any.whl"


def test_rewrite_changes_the_version_everywhere_and_keeps_every_other_byte(tmp_path: Path) -> None:
    patch = rewrite_wheel(GATEWAY, tmp_path, version="3.0.1")
    assert patch.name == "refgw-3.0.1-py3-none-any.whl"
    with zipfile.ZipFile(GATEWAY) as old, zipfile.ZipFile(patch) as new:
        names = new.namelist()
        assert "refgw-3.0.1.dist-info/METADATA" in names and not any("3.0.0.dist-info" in n for n in names)
        assert b"\nVersion: 3.0.1\n" in new.read("refgw-3.0.1.dist-info/METADATA")
        assert b'__version__ = "3.0.1"' in new.read("refgw/__init__.py")
        for name in old.namelist():
            if not name.startswith("refgw-3.0.0.dist-info") and name != "refgw/__init__.py":
                assert old.read(name) == new.read(name), name
        record = new.read("refgw-3.0.1.dist-info/RECORD").decode().splitlines()
        assert len(record) == len(names) and record[-1] == "refgw-3.0.1.dist-info/RECORD,,"
    assert rewrite_wheel(GATEWAY, tmp_path / "again", version="3.0.1").read_bytes() == patch.read_bytes()


def test_rewrite_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"has no member refgw/nope\.py"):
        rewrite_wheel(GATEWAY, tmp_path, replace={"refgw/nope.py": b""})
    with pytest.raises(ArtifactError, match="'three' is not a PEP 440 version"):
        rewrite_wheel(GATEWAY, tmp_path, version="three")


def test_the_schema_a_wheel_ships_and_its_mutants() -> None:
    schema = read_shipped_schema(GATEWAY)
    assert schema.names == ("refgw.proto",)  # the *.desc set's file, not the vendored obx.proto
    assert schema.desc_members == ("refgw/refgw.desc",) and schema.pb2_members == ("refgw/refgw_pb2.py",)
    mutants = {m.id: m for m in enumerate_mutants(schema)}
    assert {"drop:ExecutionReport.cum_qty", "renumber:ExecutionReport.cum_qty", "narrow:ExecutionReport.cum_qty",
            "enum-add:RejectCode", "drop:InsertOrder.price_ticks"} <= set(mutants)
    assert "narrow:LogonRequest.username" not in mutants  # a string has no narrower type on its wire type
    assert mutants["narrow:ExecutionReport.cum_qty"].detail == "int64 → int32"
    assert len({m.local_tag for m in mutants.values()}) == len(mutants)
    assert mutant_version("3.1.0.dev0", mutants["enum-add:RejectCode"]).startswith("3.1.0.dev0+mutant.enum.add.")


def test_a_dropped_proto3_optional_takes_its_synthetic_oneof_along() -> None:
    schema = read_shipped_schema(GATEWAY)
    (mutated,) = mutate(schema.files, Mutant("drop", "refgw.proto", "InsertOrder.price_ticks"))
    order = next(m for m in mutated.message_type if m.name == "InsertOrder")
    assert "price_ticks" not in [f.name for f in order.field] and not order.oneof_decl
    (amended,) = mutate(schema.files, Mutant("drop", "refgw.proto", "AmendOrder.qty"))
    amend = next(m for m in amended.message_type if m.name == "AmendOrder")
    assert [o.name for o in amend.oneof_decl] == ["_price_ticks"]
    assert next(f for f in amend.field if f.name == "price_ticks").oneof_index == 0
    (original,) = schema.files
    assert next(m for m in original.message_type if m.name == "InsertOrder").oneof_decl  # copies, not the original


def test_a_mutant_wheel_imports_and_carries_the_mutation(tmp_path: Path) -> None:
    schema = read_shipped_schema(GATEWAY)
    wheel = build_mutant_wheel(schema, Mutant("drop", "refgw.proto", "ExecutionReport.cum_qty"), tmp_path / "out")
    assert "+mutant.drop.executionreport.cum.qty." in wheel.name
    changes = [c.text() for c in schema_diff(GATEWAY, wheel).changes]
    assert len(changes) == 1 and "cum_qty" in changes[0], changes
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    probe = ("from refgw import refgw_pb2 as pb; import refgw; "
             "print(refgw.__version__, 'cum_qty' in pb.ExecutionReport.DESCRIPTOR.fields_by_name, "
             "pb.ExecutionReport(leaves_qty=3).leaves_qty)")
    for implementation in ("upb", "python"):
        env = {"PYTHONPATH": str(unpacked), "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": implementation}
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60,
                              env=env)
        assert done.returncode == 0, done.stderr
        version, has_field, leaves = done.stdout.split()
        assert version.startswith("3.0.0+mutant.drop.") and has_field == "False" and leaves == "3"


def test_narrow_and_enum_add_change_the_descriptor() -> None:
    schema = read_shipped_schema(GATEWAY)
    (narrow,) = mutate(schema.files, Mutant("narrow", "refgw.proto", "ExecutionReport.cum_qty"))
    field = next(f for m in narrow.message_type if m.name == "ExecutionReport" for f in m.field if f.name == "cum_qty")
    assert field.type == descriptor_pb2.FieldDescriptorProto.TYPE_INT32
    (added,) = mutate(schema.files, Mutant("enum-add", "refgw.proto", "Side"))
    side = next(e for e in added.enum_type if e.name == "Side")
    assert [(v.name, v.number) for v in side.value][-1] == ("COMPAT_MUTANT_SIDE", 3)


def test_a_wheel_without_a_schema_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "plain-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("plain/__init__.py", "")
        archive.writestr("plain-1.0.0.dist-info/METADATA", "Name: plain\nVersion: 1.0.0\n")
    with pytest.raises(NoSchemaDescriptors, match="ships no protobuf schema"):
        read_shipped_schema(empty)


def test_a_regenerated_module_keeps_the_imports_of_its_dependencies(tmp_path: Path) -> None:
    """A product whose proto imports another (google/protobuf/timestamp.proto here): the module
    regenerated from the mutated descriptor registers the dependency first, as the original did."""
    from compat.artifacts.protomutants import generated_module

    file = descriptor_pb2.FileDescriptorProto(name="acme/events.proto", package="acme", syntax="proto3",
                                              dependency=["google/protobuf/timestamp.proto"])
    event = file.message_type.add(name="Event")
    event.field.add(name="at", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                    type_name=".google.protobuf.Timestamp", label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    event.field.add(name="seq", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    original = ("from google.protobuf import descriptor_pool as _descriptor_pool\n"
                "from google.protobuf.internal import builder as _builder\n"
                "from google.protobuf import timestamp_pb2 as google_dot_protobuf_dot_timestamp__pb2\n"
                f"DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile({file.SerializeToString()!r})\n"
                "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'acme.events_pb2', globals())\n")
    (mutated,) = mutate([file], Mutant("narrow", "acme/events.proto", "Event.seq"))
    package = tmp_path / "acme"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "events_pb2.py").write_text(generated_module(original, "acme/events_pb2.py", mutated))
    probe = ("from acme import events_pb2 as pb; e = pb.Event(seq=7); e.at.seconds = 5; "
             "print(pb.Event.__module__, pb.Event.DESCRIPTOR.fields_by_name['seq'].type, e.at.seconds)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60,
                          env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    module, field_type, seconds = done.stdout.split()
    assert module == "acme.events_pb2" and int(field_type) == descriptor_pb2.FieldDescriptorProto.TYPE_UINT32
    assert seconds == "5"  # the dependency's message type resolved in the child
