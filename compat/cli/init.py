"""`compat init`: scaffold a project that tests a firm's own gateway and client with compat.

    compat init DIR --gateway PKG --client PKG (--find-links DIR | --index-url URL)
                    --gateway-argv "{bin}/my-gateway --port {listen_port}" [--ready REGEX]

writes DIR/matrix.yaml (no simulated exchange, the released versions of both products from
the given index), DIR/compat_adapter.py (the client adapter: connect and version, ready to
grow), DIR/tests/compat/test_sample.py (one scenario that passes against any gateway that
accepts TCP connections on the address it reports) and DIR/README.md, then loads the new
matrix.yaml to prove it is valid and prints the two commands that run it. It never overwrites
a file: an existing one is a clear error and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
from pathlib import Path

from compat.config.matrix import load_matrix
from compat.errors import ConfigError

_PACKAGE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _matrix_yaml(args: argparse.Namespace) -> str:
    index = (f"  url: {json.dumps(args.index_url)}" if args.index_url
             else f"  find_links: {json.dumps(str(Path(args.find_links).resolve()))}")
    ready = f"\n    ready: {json.dumps(args.ready)}" if args.ready else ""
    return textwrap.dedent("""\
        # compat matrix for {gateway} (gateway) x {client} (client); docs: compat's docs/matrix-yaml.md
        schema: 1
        exchange: none                 # your products talk to each other only; see "exchange" for a simulator
        products:
          gateway:
            package: {gateway}
            # How to start one gateway version from its own venv ({{bin}} is that venv's bin/).
            # It must bind port 0 (or {{listen_port}}) and print its address on a ready line.
            launch:
              - argv: {argv}{ready}
            stop: [TERM, KILL]         # the signals that stop it, in order
          client:
            package: {client}
            adapter: compat_adapter.py # runs inside each client version's venv
        index:
        {index}
        versions:                      # released versions only: add `source:` to a product to test a candidate
          gateway: {{latest_minors: {minors}}}
          client: {{latest_minors: {minors}}}
        expectations: []               # known incompatibilities: docs/matrix-yaml.md, "expectations"
        """).format(gateway=args.gateway, client=args.client, argv=json.dumps(args.gateway_argv), ready=ready,
                    index=index, minors=args.latest_minors)


def _adapter(args: argparse.Namespace) -> str:
    module = args.client_module or args.client.replace("-", "_")
    return textwrap.dedent('''\
        """compat's adapter for {client}: the operations scenarios call, for every release of it.

        The driver runs this module inside one client version's venv (stdlib + {client} only)
        and calls ``op_<name>(session=..., **args)`` for ``Session.<name>(**args)`` in a
        scenario. Return JSON-able dicts. For an operation the installed version cannot do,
        ``raise self.Unsupported("capability.name", "why")``: the scenario's verdict is n/a.
        An exception of the client library becomes a DriverCallError in the scenario (a break
        unless the scenario expects it). Detect what a version can do by feature
        (``hasattr(...)``), not by parsing its version, where you can.
        """

        from __future__ import annotations

        import asyncio
        import importlib.metadata
        from typing import Any

        PACKAGE = {client!r}
        MODULE = {module!r}  # the client library's import name: `import {module}` in your operations


        class Adapter:
            def __init__(self, ctx: dict[str, Any]) -> None:
                self.Unsupported = ctx["Unsupported"]
                self.sessions: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {{}}

            async def op_connect(self, session: str = "s1", host: str = "127.0.0.1", port: int = 0,
                                 **_credentials: Any) -> dict[str, Any]:
                """Open a connection to the gateway. Replace with your client's own connect/logon."""
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)
                self.sessions[session] = (reader, writer)
                return {{"connected": True, "peer": f"{{host}}:{{port}}"}}

            async def op_version(self, session: str = "s1") -> dict[str, Any]:
                """The installed client version, as its distribution metadata says."""
                return {{"version": importlib.metadata.version(PACKAGE)}}

            async def op_disconnect(self, session: str = "s1") -> dict[str, Any]:
                _reader, writer = self.sessions.pop(session, (None, None))
                if writer is not None:
                    writer.close()
                return {{}}
        ''').format(client=args.client, module=module)


def _sample_scenario(args: argparse.Namespace) -> str:
    return textwrap.dedent('''\
        """A first scenario: every client version connects to every gateway version.

        Grow from here: add operations to compat_adapter.py and scenarios that call them
        (compat's docs/writing-scenarios.md). One test runs per (client, gateway) pair.
        """

        from __future__ import annotations

        import pytest

        from compat import Scenario

        pytestmark = pytest.mark.compat


        def test_connects(compat: Scenario) -> None:
            session = compat.session()  # connects to this pair's gateway through the adapter
            installed = session.version()["version"]
            assert installed == compat.client_version, f"the driver runs {installed}, not {compat.client_version}"
        ''')


def _readme(args: argparse.Namespace) -> str:
    return textwrap.dedent(f"""\
        # Compatibility of {args.client} (client) with {args.gateway} (gateway)

        Generated by `compat init`. With compat installed, run from this folder:

        ```bash
        pytest -m compat -n auto --compat-report-dir report
        ```

        It builds one venv per released version, starts every (client, gateway) pair and
        writes report/matrix.html, matrix.md and matrix.json.

        - `matrix.yaml`: the products, where their wheels come from, which versions, how the
          gateway starts.
        - `compat_adapter.py`: the operations scenarios call on the client library.
        - `tests/compat/`: the scenarios.
        """)


def scaffold(args: argparse.Namespace) -> list[Path]:
    """Write the project; returns the files written. Refuses (ConfigError) before writing
    anything if a file exists or an argument is unusable."""
    for role in ("gateway", "client"):
        name = getattr(args, role)
        if not _PACKAGE.fullmatch(name):
            raise ConfigError(f"--{role} {name!r} is not a distribution name (e.g. my-gateway)")
    if args.find_links and not Path(args.find_links).is_dir():
        raise ConfigError(f"--find-links {args.find_links}: no such directory (it should hold the released wheels)")
    if "{" not in args.gateway_argv:
        raise ConfigError(f"--gateway-argv {args.gateway_argv!r} names no placeholder; start the gateway from its "
                          "venv, e.g. '{bin}/my-gateway --port {listen_port}' (placeholders: docs/matrix-yaml.md)")
    root = Path(args.directory)
    files = {
        root / "matrix.yaml": _matrix_yaml(args),
        root / "compat_adapter.py": _adapter(args),
        root / "tests" / "compat" / "test_sample.py": _sample_scenario(args),
        root / "README.md": _readme(args),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ConfigError(f"compat init never overwrites: {', '.join(existing)} already exist(s); "
                          "choose an empty directory")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    try:
        load_matrix(root / "matrix.yaml")
    except ConfigError:
        for path in files:
            path.unlink(missing_ok=True)  # nothing half-made is left behind
        raise
    return list(files)


def _run_init(args: argparse.Namespace) -> int:
    written = scaffold(args)
    for path in written:
        print(f"wrote {path}")
    print(f"\nnext:\n  cd {args.directory}\n  pytest -m compat -n auto --compat-report-dir report")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="scaffold a project testing your own gateway and client (matrix.yaml, adapter, a scenario)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", help="where to write the project (created if missing; nothing is overwritten)")
    parser.add_argument("--gateway", required=True, metavar="PKG", help="the gateway's distribution name")
    parser.add_argument("--client", required=True, metavar="PKG", help="the client library's distribution name")
    parser.add_argument("--client-module", metavar="NAME", help="the client's import name (default: PKG with _)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--find-links", metavar="DIR", help="a directory of released wheels")
    where.add_argument("--index-url", metavar="URL", help="a PEP 503 simple index (e.g. your Artifactory/devpi)")
    parser.add_argument("--gateway-argv", required=True, metavar="TEMPLATE",
                        help="how to start one gateway version, e.g. '{bin}/my-gateway --port {listen_port}'")
    parser.add_argument("--ready", metavar="REGEX", help="the gateway's ready line, with groups host and port "
                        "(default: a line 'READY host:port' or 'GATEWAY READY client=host:port')")
    parser.add_argument("--latest-minors", type=int, default=3, metavar="N",
                        help="test the latest patch of the last N minor lines of each (default 3)")
    parser.set_defaults(func=_run_init)
