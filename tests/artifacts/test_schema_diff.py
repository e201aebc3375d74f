"""Static schema check on descriptor sets compiled here from small .proto files with
grpc_tools.protoc, packed into wheels the way the products ship them (``*.desc`` package
data, or only the generated ``*_pb2.py``)."""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from compat.artifacts.schema_diff import schema_diff
from compat.cli.results import register
from compat.errors import SchemaDiffError
from compat.report.html import render_html
from compat.report.markdown import render_markdown
from compat.results.model import CellResult, RunResults, ScenarioResult, Verdict
from compat.results.schema_join import annotate_from_wheels, wheels_by_version

pytestmark = pytest.mark.integration

V1 = """
syntax = "proto3";
package refproto;
enum MessageType { MT_UNKNOWN = 0; LOGON = 1; NEW_ORDER = 2; AMEND_ORDER = 16; }
enum RejectCode { NONE = 0; THROTTLED_OLD = 5; UNKNOWN_FIELD = 6; }
message NewOrder {
  reserved 20;
  string symbol = 1;
  double price = 4;
  int32 qty = 5;
  int64 price_ticks = 8;
  string note = 9;
  int32 legacy = 10;
}
message Book { message Level { int64 px = 1; int64 qty = 2; } repeated Level bids = 1; }
message Old { int32 x = 1; }
"""

V2 = """
syntax = "proto3";
package refproto;
enum MessageType { MT_UNKNOWN = 0; LOGON = 1; NEW_ORDER = 3; AMEND_ORDER = 16; MASS_CANCEL = 18; }
enum RejectCode { NONE = 0; UNKNOWN_FIELD = 6; THROTTLED = 7; }
message NewOrder {
  reserved 4;
  reserved "price";
  string instrument = 1;
  int64 qty = 5;
  int32 tif = 7;
  sint64 price_ticks = 8;
  int64 note_id = 9;
  string tag = 20;
}
message Book { message Level { int64 px = 1; int64 qty = 2; } repeated Level bids = 1; }
message MassCancel { string symbol = 1; }
"""


def _compile(tmp: Path, name: str, source: str) -> tuple[Path, Path]:
    """(descriptor set, generated _pb2.py) for one proto source, compiled as NAME.proto."""
    src = tmp / name
    src.mkdir(parents=True)
    (src / f"{name}.proto").write_text(source)
    out = tmp / f"{name}-out"
    out.mkdir()
    desc = out / f"{name}.desc"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{src}",
            f"--descriptor_set_out={desc}",
            f"--python_out={out}",
            f"{name}.proto",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return desc, out / f"{name}_pb2.py"


def _wheel(path: Path, desc: Path | None, pb2: Path | None) -> Path:
    with zipfile.ZipFile(path, "w") as whl:
        if desc is not None:
            whl.write(desc, "refproto/protocol.desc")
        if pb2 is not None:
            whl.write(pb2, "refproto/protocol_pb2.py")
        whl.writestr("refproto/__init__.py", "")
    return path


VENUE = """
syntax = "proto3";
package obx;
message OuchEnter { int64 token = 1; }
"""


@pytest.fixture
def wheels(tmp_path: Path) -> dict[str, Path]:
    desc1, pb1 = _compile(tmp_path, "protocol", V1)
    desc2, _ = _compile(tmp_path / "new", "protocol", V2)
    venue, _ = _compile(tmp_path, "venue", VENUE)
    house = tmp_path / "wheelhouse"
    house.mkdir()
    gw2 = _wheel(house / "refgw-2.0.0-py3-none-any.whl", desc2, None)
    with zipfile.ZipFile(gw2, "a") as whl:  # a gateway also ships its venue protocol
        whl.write(venue, "refgw/venue.desc")
    return {
        "client1": _wheel(house / "refclient-1.0.0-py3-none-any.whl", desc1, pb1),
        "client2": _wheel(house / "refclient-2.0.0-py3-none-any.whl", desc2, None),
        "gw1": _wheel(house / "refgw-1.0.0-py3-none-any.whl", None, pb1),  # generated code only
        "gw2": gw2,
        "empty": _wheel(house / "refgw-9.0.0-py3-none-any.whl", None, None),
    }


def test_every_kind_of_change_is_classified(wheels: dict[str, Path]) -> None:
    diff = schema_diff(wheels["client1"], wheels["gw2"])
    got = {(c.kind, c.breaking, c.where) for c in diff.changes}
    assert got == {
        ("field-renamed", False, "refproto.NewOrder.symbol (1)"),
        ("field-retyped", True, "refproto.NewOrder.qty (5)"),
        ("field-retyped", True, "refproto.NewOrder.price_ticks (8)"),
        ("field-number-reused", True, "refproto.NewOrder.note (9)"),
        ("field-removed-reserved", False, "refproto.NewOrder.price (4)"),
        ("field-removed", True, "refproto.NewOrder.legacy (10)"),
        ("field-added", False, "refproto.NewOrder.tif (7)"),
        ("field-number-reused", True, "refproto.NewOrder.tag (20)"),
        ("reserved-added", False, "refproto.NewOrder"),
        ("message-removed", True, "refproto.Old"),
        ("message-added", False, "refproto.MassCancel"),
        ("message-added", False, "obx.OuchEnter"),
        ("message-type-renumbered", True, "refproto.MessageType.NEW_ORDER"),
        ("enum-value-added", False, "refproto.MessageType.MASS_CANCEL (18)"),
        ("enum-value-removed", True, "refproto.RejectCode.THROTTLED_OLD (5)"),
        ("enum-value-added", False, "refproto.RejectCode.THROTTLED (7)"),
    }
    by_where = {c.where: c for c in diff.changes}
    assert by_where["refproto.NewOrder.price_ticks (8)"].detail == (
        "retyped int64 → sint64: same wire type (varint), different encoding: "
        "every value decodes wrong, silently"
    )
    assert by_where["refproto.NewOrder.note (9)"].detail == "number 9 was string note, is now int64 note_id"
    assert by_where["refproto.NewOrder"].detail == 'reserved 4, "price"'
    assert by_where["refproto.MessageType.NEW_ORDER"].detail == "message type number changed 2 → 3"


def test_same_schema_from_generated_code_and_descriptor_set_has_no_changes(wheels: dict[str, Path]) -> None:
    assert schema_diff(wheels["client1"], wheels["gw1"]).changes == ()
    assert schema_diff(wheels["gw1"], wheels["client1"]).changes == ()


def test_reverse_direction_is_classified_from_the_other_side(wheels: dict[str, Path]) -> None:
    diff = schema_diff(wheels["gw2"], wheels["client1"])
    kinds = {c.where: c.kind for c in diff.changes}
    assert kinds["refproto.NewOrder.price (4)"] == "field-number-reused"  # 4 was reserved in A
    assert kinds["refproto.NewOrder.tif (7)"] == "field-removed"
    assert kinds["refproto.Old"] == "message-added"


def test_a_wheel_without_descriptors_is_a_clear_error(wheels: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(SchemaDiffError, match=r"ships no protobuf descriptors .*descriptor_set_out"):
        schema_diff(wheels["empty"], wheels["gw2"])
    with pytest.raises(SchemaDiffError, match="no such file"):
        schema_diff(tmp_path / "missing.whl", wheels["gw2"])


def test_join_reads_a_newer_client_against_an_older_gateway_as_evolution(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    newer = V2.replace("string tag = 20;", "string tag = 20;\n  int32 flags = 11;")
    desc3, _ = _compile(tmp_path / "v3", "protocol", newer)
    client3 = _wheel(tmp_path / "refclient-3.0.0-py3-none-any.whl", desc3, None)
    results = RunResults(cells=(_cell("3.0.0", "2.0.0", Verdict.PASS),))
    annotated = annotate_from_wheels(results, [client3, wheels["gw2"]], "refclient", "refgw")
    (pair,) = annotated.meta["schema"]["pairs"]
    assert (pair["a"], pair["b"]) == ("refgw-2.0.0-py3-none-any.whl", "refclient-3.0.0-py3-none-any.whl")
    assert pair["changes"] == [
        {
            "kind": "field-added",
            "breaking": False,
            "where": "refproto.NewOrder.flags (11)",
            "detail": "added int32 flags",
        }
    ]
    assert annotated.meta["schema"]["disagreements"] == []


def _cell(client: str, gateway: str, *verdicts: Verdict) -> CellResult:
    cid = f"client-{client}--gateway-{gateway}"
    scenarios = tuple(ScenarioResult(cid, f"S{i:02d}", v) for i, v in enumerate(verdicts, 1))
    return CellResult(cid, client, gateway, "obx", scenarios)


def test_join_annotates_failing_cells_and_flags_disagreements(wheels: dict[str, Path]) -> None:
    results = RunResults(
        cells=(
            _cell("1.0.0", "1.0.0", Verdict.PASS, Verdict.FAIL),  # no schema change, yet a failure
            _cell("1.0.0", "2.0.0", Verdict.PASS, Verdict.FAIL),  # breaking changes explain it
            _cell("2.0.0", "1.0.0", Verdict.PASS, Verdict.NA),  # static breaks, yet all pass
            _cell("1.0.0", "3.0.0", Verdict.PASS),  # no wheel for gateway 3.0.0: not annotated
        )
    )
    house = list(wheels["client1"].parent.iterdir())
    assert sorted(wheels_by_version(house, "refgw")) == ["1.0.0", "2.0.0", "9.0.0"]
    annotated = annotate_from_wheels(
        results, [p for p in house if p != wheels["empty"]], "refclient", "refgw"
    )
    block = annotated.meta["schema"]
    pairs = {(p["client_version"], p["gateway_version"]): p["changes"] for p in block["pairs"]}
    assert sorted(pairs) == [("1.0.0", "1.0.0"), ("1.0.0", "2.0.0"), ("2.0.0", "1.0.0")]
    assert pairs[("1.0.0", "1.0.0")] == []
    # the gateway's venue protocol (package obx) is not part of the client/gateway contract
    assert len(pairs[("1.0.0", "2.0.0")]) == 15 and not any(
        "obx" in c["where"] for c in pairs[("1.0.0", "2.0.0")]
    )
    assert [(d["client_version"], d["gateway_version"], d["kind"]) for d in block["disagreements"]] == [
        ("1.0.0", "1.0.0", "fail-without-static-change"),
        ("2.0.0", "1.0.0", "static-break-but-pass"),
    ]
    md = render_markdown(annotated)
    assert "  - no wire-breaking schema change (0 safe)" in md
    assert (
        "- ✗ (fail) client 1.0.0 × gateway 2.0.0: (no reason recorded) (1 cell, 1 scenario: S02)\n"
        "  - in: `client-1.0.0--gateway-2.0.0` [obx] **S02**\n"
        "  - schema: refproto.NewOrder.qty (5): retyped int32 → int64: varint-compatible, but values outside "
        "the narrower type are truncated; refproto.NewOrder.price_ticks (8): retyped int64 → sint64: "
        "same wire type (varint), different encoding: every value decodes wrong, silently; "
        "refproto.NewOrder.note (9): number 9 was string note, is now int64 note_id; +5 more\n"
    ) in md
    assert "### Static schema check disagrees with the run (2)" in md
    assert (
        "- client 1.0.0 with gateway 1.0.0: S02 [obx] fail, yet the schemas differ in nothing wire-breaking"
        in md
    )
    html = render_html(annotated)
    assert "BREAKING refproto.NewOrder.price_ticks (8): retyped int64 → sint64" in html


def test_schema_diff_cli_exit_code_and_json(
    wheels: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="compat")
    register(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        code: int = args.func(args)
        return code

    assert run("schema-diff", str(wheels["client1"]), str(wheels["gw1"])) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 wire-breaking, 0 safe"
    assert run("schema-diff", "--breaking-only", str(wheels["client1"]), str(wheels["gw2"])) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "8 wire-breaking, 8 safe" and len(out) == 10
    assert "  BREAKING  refproto.NewOrder.price_ticks (8): retyped int64 → sint64" in "\n".join(out)
    assert run("schema-diff", "--json", str(wheels["client1"]), str(wheels["gw2"])) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["breaking"] == 8 and len(doc["changes"]) == 16


REPO = Path(__file__).resolve().parents[2]


def test_real_product_descriptors_agree_between_client_and_gateway() -> None:
    """Both products generate their descriptor set from one refgw.proto (contracts.md)."""
    client = REPO / "clients/refclient/src/refclient/refclient.desc"
    gateway = REPO / "gateways/refgw/src/refgw/refgw.desc"
    if not (client.is_file() and gateway.is_file()):
        pytest.skip("product descriptor sets not generated yet")
    diff = schema_diff(client, gateway)
    assert diff.breaking == (), [c.text() for c in diff.breaking]


def test_real_wheels_in_the_wheelhouse() -> None:
    """Consecutive released gateway wheels: every one carries readable descriptors, and a
    version the release notes call a deliberate trap (G2.2, int64 → sint64) is flagged."""
    wheels = wheels_by_version((REPO / "wheelhouse").glob("*.whl"), "refgw")
    if len(wheels) < 2:
        pytest.skip("fewer than two refgw wheels in wheelhouse/")
    ordered = sorted(wheels, key=Version)
    diffs = {(a, b): schema_diff(wheels[a], wheels[b]) for a, b in itertools.pairwise(ordered)}
    assert all(d.changes for d in diffs.values()), "consecutive releases with identical schemas"
    if "2.1.0" in wheels and "2.2.0" in wheels:
        retyped = [c for c in diffs[("2.1.0", "2.2.0")].breaking if c.kind == "field-retyped"]
        assert any("int64 → sint64" in c.detail for c in retyped), diffs[("2.1.0", "2.2.0")].changes


def test_products_without_protobuf_turn_the_check_off_once(tmp_path: Path) -> None:
    """A product line with no protobuf gets one note, not one disagreement per pair."""
    wheels = [_wheel(tmp_path / f"{name}-{v}-py3-none-any.whl", None, None)
              for name in ("wsclient", "wsserver") for v in ("1.0.0", "2.0.0")]
    results = RunResults(cells=tuple(_cell(c, g, Verdict.PASS, Verdict.FAIL)
                                     for c in ("1.0.0", "2.0.0") for g in ("1.0.0", "2.0.0")))
    annotated = annotate_from_wheels(results, wheels, "wsclient", "wsserver")
    block = annotated.meta["schema"]
    assert block["disagreements"] == [] and block["pairs"] == []
    assert "off for 4 wheel(s) that ship no protobuf descriptors" in block["off"]
    markdown = render_markdown(annotated)
    assert markdown.count("Static schema check") == 1 and "disagrees" not in markdown
    assert render_html(annotated).count('id="schema-off"') == 1
