"""What an ssh host ships, and how local paths in a Command become remote ones.

A Command is written for this machine: ``{bin}/refgw --auth <project>/reference/auth.json
--journal <log_dir>/gateway.journal``, ``<client venv>/bin/python .../driver.py --adapter
.../compat_adapter.py``. :class:`PathMapper` rewrites every absolute path in argv, env values
and ``--opt=/path`` arguments, shipping what the remote needs on the way:

==========================  ================================================================
local path                  on the remote side (``ROOT`` = the host's remote root)
==========================  ================================================================
inside a compat venv        ``ROOT/envs/<same key>/...``: the venv is *rebuilt* there with uv
(a dir with compat-env.json)  from its spec: the product wheel plus the exact pins of the local
                            venv (``uv pip freeze``), so both sides run the same versions
a driver file               ``ROOT/files/driver-<sha>/``: all of ``DRIVER_FILES`` together
                            (driver.py imports its siblings)
under the run's log dir     ``ROOT/runs/<sha of log dir>/...``: remote state (journal,
                            workdir) stays remote; directories are created there
another regular file        ``ROOT/files/<sha>/<name>``: copied by content (adapter, auth,
                            instruments), so a changed file is a new path, never stale
system paths (/usr, /bin..)  unchanged: the remote has its own
==========================  ================================================================

The mapper is pure apart from the ``Transport`` it ships through, so it is unit-tested with
a fake transport; :class:`compat.harness.ssh.SshHost` is the real one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from packaging.utils import canonicalize_name

from compat.driver import DRIVER_DIR, DRIVER_FILES
from compat.errors import HostError
from compat.harness.uv import file_sha256

ENV_MARKER = "compat-env.json"  # written by compat.artifacts.envs into every complete venv
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/", "/dev/", "/proc/", "/sys/")
_PY_TAG = re.compile(r"-py(?P<major>\d)(?P<minor>\d+)-")


class Transport(Protocol):
    """How the mapper reaches the remote: run a shell script there, copy files there."""

    def remote_shell(self, script: str, *, name: str, timeout_s: float) -> str: ...  # stdout; raises HostError

    def copy_files(self, files: Sequence[Path], remote_dir: str, *, timeout_s: float) -> None: ...


@dataclass(frozen=True)
class RemoteCommand:
    """A Command translated for the remote side."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    run_dir: str


def find_env_root(path: Path) -> Path | None:
    """The compat venv that contains ``path`` (a directory holding compat-env.json), if any."""
    for candidate in (path, *path.parents):
        if (candidate / ENV_MARKER).is_file():
            return candidate
    return None


class PathMapper:
    """Maps local paths to remote ones for one remote root, shipping on first use (cached)."""

    def __init__(
        self,
        transport: Transport,
        root: str,
        *,
        uv: str,
        freeze: Callable[[Path], str],
        build_timeout_s: float = 600.0,
        uv_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.transport = transport
        self.root = root
        self.uv = uv  # the uv executable on the remote side
        self.freeze = freeze  # local env python -> `uv pip freeze` output
        self.build_timeout_s = build_timeout_s
        self.uv_environment = dict(uv_environment or {})
        self._envs: dict[Path, str] = {}
        self._files: dict[Path, str] = {}
        self._made_dirs: set[str] = set()
        self.shipped: list[str] = []  # what was shipped, in order: for logs and tests

    # -- the layout ----------------------------------------------------------------------------

    def run_dir(self, log_dir: Path) -> str:
        key = hashlib.sha256(str(log_dir.resolve()).encode()).hexdigest()[:16]
        return f"{self.root}/runs/{key}"

    def _mkdir(self, *paths: str) -> None:
        wanted = [p for p in paths if p not in self._made_dirs]
        if wanted:
            self.transport.remote_shell(f"mkdir -p {' '.join(shlex.quote(p) for p in wanted)}",
                                        name="mkdir", timeout_s=30.0)
            self._made_dirs.update(wanted)

    # -- translation ---------------------------------------------------------------------------

    def translate(self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None, log_dir: Path) -> RemoteCommand:
        log_dir = log_dir.resolve()
        run_dir = self.run_dir(log_dir)
        self._mkdir(run_dir)
        # A venv's python resolves to its base interpreter, so compare unresolved and rule out venvs.
        if argv and argv[0] == sys.executable and find_env_root(Path(argv[0])) is None:
            raise HostError(
                f"cannot run {argv[0]!r} on an ssh host: that is the test process's own interpreter, which is "
                "not shipped (only product venvs, the driver and its files are); place roles that run compat "
                "itself (the exchange) on local or netns"
            )
        remote_argv = tuple(self.map_argument(arg, log_dir, run_dir) for arg in argv)
        remote_env = {key: self.map_argument(value, log_dir, run_dir) for key, value in env.items()}
        remote_cwd = run_dir
        if cwd is not None:
            local_cwd = Path(cwd).resolve()
            if local_cwd == log_dir or log_dir in local_cwd.parents:
                remote_cwd = self.map_path(str(local_cwd), log_dir, run_dir)
        return RemoteCommand(remote_argv, remote_env, remote_cwd, run_dir)

    def map_argument(self, arg: str, log_dir: Path, run_dir: str) -> str:
        """A path, or ``--opt=/path``, becomes its remote path; anything else is unchanged."""
        if arg.startswith("/"):
            return self.map_path(arg, log_dir, run_dir)
        flag, sep, value = arg.partition("=")
        if sep and value.startswith("/"):
            return f"{flag}={self.map_path(value, log_dir, run_dir)}"
        return arg

    def map_path(self, text: str, log_dir: Path, run_dir: str) -> str:
        path = Path(text)
        if any(text.startswith(prefix) or text == prefix.rstrip("/") for prefix in SYSTEM_PREFIXES):
            return text
        env_root = find_env_root(path)
        if env_root is not None:
            return self._join(self.ensure_env(env_root), path.relative_to(env_root))
        resolved = path.resolve()
        if resolved == log_dir or log_dir in resolved.parents:
            if resolved.is_file() and resolved.suffix != ".log":
                # An input a scenario wrote into the run's dir (an auth file, say): the remote
                # program must read its content. Outputs (journal, workdir) never exist here: the
                # program writes them remotely; the *.log files here are the harness's own tees.
                return self.ensure_file(resolved)
            remote = self._join(run_dir, resolved.relative_to(log_dir))
            self._mkdir(remote if resolved.is_dir() else str(PurePosixPath(remote).parent))
            return remote
        if resolved.parent == DRIVER_DIR and resolved.name in DRIVER_FILES:
            return self._join(self.ensure_driver(), Path(resolved.name))
        if resolved.is_file():
            return self.ensure_file(resolved)
        return text  # not ours to ship (a remote path, a directory, a future output elsewhere)

    @staticmethod
    def _join(base: str, relative: Path) -> str:
        rel = relative.as_posix()
        return base if rel in ("", ".") else f"{base}/{rel}"

    # -- shipping ------------------------------------------------------------------------------

    def ensure_file(self, path: Path) -> str:
        """Copy one file by content: ``ROOT/files/<sha16>/<name>``."""
        if path not in self._files:
            remote_dir = f"{self.root}/files/{file_sha256(path)[:16]}"
            self._mkdir(remote_dir)
            self.transport.copy_files([path], remote_dir, timeout_s=120.0)
            self.shipped.append(f"file {path} -> {remote_dir}/{path.name}")
            self._files[path] = f"{remote_dir}/{path.name}"
        return self._files[path]

    def ensure_driver(self) -> str:
        """The driver and its stdlib-only siblings, together in one content-addressed dir."""
        files = [DRIVER_DIR / name for name in DRIVER_FILES]
        key = DRIVER_DIR / "__driver_group__"
        if key not in self._files:
            digest = hashlib.sha256()
            for file in files:
                digest.update(file.name.encode() + b"\0" + file.read_bytes())
            remote_dir = f"{self.root}/files/driver-{digest.hexdigest()[:16]}"
            self._mkdir(remote_dir)
            self.transport.copy_files(files, remote_dir, timeout_s=60.0)
            self.shipped.append(f"driver {', '.join(DRIVER_FILES)} -> {remote_dir}")
            self._files[key] = remote_dir
        return self._files[key]

    def ensure_env(self, env_root: Path) -> str:
        """The remote twin of a local compat venv, built there with uv from the venv's spec."""
        if env_root in self._envs:
            return self._envs[env_root]
        marker = json.loads((env_root / ENV_MARKER).read_text())
        wheel = Path(marker["wheel"])
        if not wheel.is_file():
            raise HostError(f"cannot ship env {env_root.name}: its wheel {wheel} is gone; rebuild the env locally")
        key = env_root.name
        tag = _PY_TAG.search(key)
        python = f"{tag['major']}.{tag['minor']}" if tag else f"{sys.version_info.major}.{sys.version_info.minor}"
        package = canonicalize_name(marker["package"])
        pins = [
            line for line in self.freeze(env_root / "bin" / "python").splitlines()
            if line.strip() and not line.startswith("#")
            and canonicalize_name(re.split(r"[=@<>!~ ;\[]", line, maxsplit=1)[0]) != package
        ]
        envs_dir, wheels_dir = f"{self.root}/envs", f"{self.root}/wheels/{marker['sha256'][:16]}"
        remote_env = f"{envs_dir}/{key}"
        self._mkdir(envs_dir, wheels_dir)
        self.transport.copy_files([wheel], wheels_dir, timeout_s=120.0)
        remote_wheel = f"{wheels_dir}/{wheel.name}"
        requirements = "\n".join(pins) + "\n"
        spec = json.dumps({**marker, "wheel": remote_wheel, "built_from": f"local {env_root}"}, indent=2)
        q = shlex.quote
        uv_env = " ".join(f"{k}={q(v)}" for k, v in sorted(self.uv_environment.items()))
        scratch = f"{envs_dir}/.tmp-{key}"
        build = "\n".join([
            "set -e",
            f"if [ -f {q(remote_env)}/{ENV_MARKER} ]; then echo reused; exit 0; fi",
            f"rm -rf {q(scratch)}",
            f"env {uv_env} {q(self.uv)} venv --relocatable --quiet --python {python} {q(scratch)}",
            f"cat > {q(scratch)}/requirements.txt <<'COMPAT_EOF'\n{requirements}COMPAT_EOF",
            f"env {uv_env} {q(self.uv)} pip install --quiet --python {q(scratch)}/bin/python "
            f"--find-links {q(wheels_dir)} -r {q(scratch)}/requirements.txt {q(remote_wheel)}",
            f"cat > {q(scratch)}/{ENV_MARKER} <<'COMPAT_EOF'\n{spec}\nCOMPAT_EOF",
            f"mv {q(scratch)} {q(remote_env)}",
            "echo built",
        ])
        # flock serialises builders of one key (xdist workers sharing a remote); absent flock, race-free enough
        # because the rename is the last step and a finished env is never rebuilt.
        locked = (
            f"if command -v flock >/dev/null 2>&1; then exec flock {q(envs_dir)}/{q(key)}.lock sh -c {q(build)}; "
            f"else sh -c {q(build)}; fi"
        )
        result = self.transport.remote_shell(locked, name=f"env-{key}", timeout_s=self.build_timeout_s)
        self.shipped.append(f"env {key} ({result.strip() or 'built'}; {len(pins)} pins + {wheel.name}) -> {remote_env}")
        self._envs[env_root] = remote_env
        return remote_env


__all__ = ["ENV_MARKER", "PathMapper", "RemoteCommand", "Transport", "find_env_root"]
