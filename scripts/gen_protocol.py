"""Regenerate the refgw client-protocol code from its one source of truth.

Source: ``gateways/refgw/proto/refgw.proto``. Outputs (never edited by hand):

- ``gateways/refgw/src/refgw/refgw_pb2.py`` and ``refgw.desc`` (serialized FileDescriptorSet)
- ``clients/refclient/src/refclient/refgw_pb2.py`` and ``refclient.desc``
- ``gateways/refgw/src/refgw/venues/obx_pb2.py`` from the gateway's vendored copy of the
  exchange's OBX wire contract (``gateways/refgw/proto/obx.proto``). The gateway is a separate
  product and must not import compat, so it carries its own copy; ``--vendor-obx`` refreshes
  that copy from ``compat/exchange/proto/obx.proto`` first.

Run from anywhere: ``python scripts/gen_protocol.py [--vendor-obx] [--check]``. ``--check``
exits 1 when the committed generated files differ from what the proto produces.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GW = ROOT / "gateways" / "refgw"
CLIENT = ROOT / "clients" / "refclient"
PROTO = GW / "proto" / "refgw.proto"
OBX_VENDORED = GW / "proto" / "obx.proto"
OBX_UPSTREAM = ROOT / "compat" / "exchange" / "proto" / "obx.proto"


def _protoc(proto: Path, workdir: Path) -> tuple[bytes, bytes, bytes]:
    """Compile one proto; returns (python module, its .pyi stub, serialized FileDescriptorSet)."""
    desc = workdir / "out.desc"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto.parent}",
        f"--python_out={workdir}",
        f"--pyi_out={workdir}",
        f"--descriptor_set_out={desc}",
        "--include_source_info",
        proto.name,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"protoc failed for {proto}:\n{done.stderr}")
    module = workdir / (proto.stem + "_pb2.py")
    return module.read_bytes(), module.with_suffix(".pyi").read_bytes(), desc.read_bytes()


def _targets() -> dict[Path, bytes]:
    outputs: dict[Path, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        module, stub, desc = _protoc(PROTO, Path(tmp))
        for package, desc_name in (
            (GW / "src" / "refgw", "refgw.desc"),
            (CLIENT / "src" / "refclient", "refclient.desc"),
        ):
            outputs[package / "refgw_pb2.py"] = module
            outputs[package / "refgw_pb2.pyi"] = stub
            outputs[package / desc_name] = desc
    if OBX_VENDORED.exists():
        with tempfile.TemporaryDirectory() as tmp:
            module, stub, _ = _protoc(OBX_VENDORED, Path(tmp))
            outputs[GW / "src" / "refgw" / "venues" / "obx_pb2.py"] = module
            outputs[GW / "src" / "refgw" / "venues" / "obx_pb2.pyi"] = stub
    return outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--vendor-obx", action="store_true", help="refresh the vendored obx.proto first")
    parser.add_argument("--check", action="store_true", help="only verify the generated files are current")
    args = parser.parse_args()
    if args.vendor_obx:
        shutil.copyfile(OBX_UPSTREAM, OBX_VENDORED)
    stale = []
    for path, content in _targets().items():
        current = path.read_bytes() if path.exists() else None
        if current == content:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    for path in stale:
        print(("stale: " if args.check else "wrote: ") + str(path.relative_to(ROOT)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
