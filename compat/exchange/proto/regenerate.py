"""Regenerate obx_pb2.py and obx_pb2.pyi from obx.proto: ``python -m compat.exchange.proto.regenerate``.

The .pyi from grpc_tools uses bare ``Mapping``; a header line keeps mypy --strict quiet about
that generated file without loosening anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
PYI_HEADER = '# mypy: disable-error-code="type-arg"\n'


def main() -> int:
    code = protoc.main(
        ["protoc", f"-I{HERE}", f"--python_out={HERE}", f"--pyi_out={HERE}", str(HERE / "obx.proto")]
    )
    if code != 0:
        print(f"protoc failed with exit code {code}", file=sys.stderr)
        return int(code)
    pyi = HERE / "obx_pb2.pyi"
    pyi.write_text(PYI_HEADER + pyi.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
