"""Build a deliberately broken candidate wheel of a reference product (the mutation test's helper).

A mutant is the product at HEAD (exported with ``git archive``, so the working tree, its
``build/`` and ``egg-info`` never leak in) with ONE protocol change applied as exact text
edits, a distinct PEP 440 local version (``3.1.0.dev0+mutant.<name>``), protobuf code
regenerated when the edit touched the ``.proto``, built with ``uv build --wheel``.

Every edit names an anchor that must occur exactly once in its file: a refactor of the
product that moves or rewrites the anchored line makes the build fail loudly instead of
silently producing a mutant identical to the baseline.

The catalog of mutations and their predicted red cells is ``catalog.yaml`` beside this file.
As a script (from the repository root)::

    python tests/matrix/mutations/mutate.py removed-field /tmp/out   # or: baseline
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CATALOG = Path(__file__).resolve().parent / "catalog.yaml"
BASELINE = "baseline"
BUILD_TIMEOUT_S = 300


class MutationError(Exception):
    """A mutant cannot be built as specified (anchor missing or ambiguous, build failed)."""


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the product directory
    anchor: str  # exact text that must occur exactly once
    replacement: str


# (gateway column, client, scenario): gateway is "candidate" or a released version; client is a
# released version or "head" (the client candidate built from HEAD).
Key = tuple[str, str, str]
CANDIDATE = "candidate"
HEAD = "head"


@dataclass(frozen=True)
class Prediction:
    scenario: str
    gateway: str
    clients: tuple[str, ...]
    why: str

    def pairs(self) -> set[Key]:
        return {(self.gateway, client, self.scenario) for client in self.clients}


@dataclass(frozen=True)
class Mutation:
    name: str  # "removed-field"
    product: str  # "gateways/refgw"
    summary: str
    edits: tuple[Edit, ...]
    scenarios: tuple[str, ...]  # run in the candidate's cells: the ones it breaks plus controls
    neighbour_scenarios: tuple[str, ...]  # run in the cells of the release before the candidate
    clients: tuple[str, ...] | None  # the rows to run; None: the catalog's clients
    predicted: tuple[Prediction, ...]  # what must turn red, and nothing else
    maskable: tuple[Prediction, ...]  # predicted pairs the baseline may already fail
    # (role, capability) the run must report lost against the predecessor, and nothing else
    # (compat.results.capabilities): an API break the adapter reads as "unsupported".
    capability_lost: tuple[tuple[str, str], ...] = ()

    @property
    def local_tag(self) -> str:
        """``removedfield``: the PEP 440 local segment (letters and digits, dot-separated)."""
        return "mutant." + re.sub(r"[^a-z0-9]", "", self.name.lower())

    @property
    def role(self) -> str:
        """Which product the mutant replaces: "gateway" or "client"."""
        return "client" if self.product.startswith("clients/") else "gateway"

    @property
    def touches_proto(self) -> bool:
        return any(e.path.endswith(".proto") for e in self.edits)

    def predicted_keys(self) -> set[Key]:
        return {key for p in self.predicted for key in p.pairs()}

    def maskable_keys(self) -> set[Key]:
        return {key for p in self.maskable for key in p.pairs()}


@dataclass(frozen=True)
class Catalog:
    venue: str
    neighbour: str  # the release just before the candidate (its live-swap neighbour)
    clients: tuple[str, ...]
    mutations: dict[str, Mutation]


def load_catalog(path: Path = CATALOG) -> Catalog:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutations: dict[str, Mutation] = {}
    for name, spec in raw["mutations"].items():
        mutations[name] = Mutation(
            name=name,
            product=spec["product"],
            summary=" ".join(str(spec["summary"]).split()),
            edits=tuple(Edit(e["path"], e["anchor"], e["replacement"]) for e in spec["edits"]),
            scenarios=tuple(spec["scenarios"]),
            neighbour_scenarios=tuple(spec.get("neighbour_scenarios") or ()),
            clients=tuple(str(c) for c in spec["clients"]) if "clients" in spec else None,
            predicted=_predictions(spec.get("predicted")),
            maskable=_predictions(spec.get("maskable")),
            capability_lost=tuple((str(c["role"]), str(c["capability"])) for c in spec.get("capability_lost") or ()),
        )
    return Catalog(venue=str(raw["venue"]), neighbour=str(raw["neighbour"]),
                   clients=tuple(str(c) for c in raw["clients"]), mutations=mutations)


def _predictions(raw: dict[str, Any] | None) -> tuple[Prediction, ...]:
    return tuple(
        Prediction(scenario, str(p.get("gateway", CANDIDATE)), tuple(str(c) for c in p["clients"]),
                   " ".join(str(p["why"]).split()))
        for scenario, p in (raw or {}).items()
    )


def export_head(product: str, dest: Path) -> Path:
    """``dest/<product>`` as committed at HEAD (tracked files only)."""
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD", product], cwd=ROOT,
                             capture_output=True, check=False, timeout=60)
    if archive.returncode != 0:
        raise MutationError(f"git archive HEAD {product} failed: {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    tree = dest / product
    if not (tree / "pyproject.toml").is_file():
        raise MutationError(f"{product} at HEAD has no pyproject.toml (exported to {tree})")
    return tree


def apply_edit(tree: Path, edit: Edit, mutation: str) -> None:
    path = tree / edit.path
    if not path.is_file():
        raise MutationError(f"mutation {mutation}: {edit.path} does not exist in {tree.name} at HEAD")
    text = path.read_text(encoding="utf-8")
    count = text.count(edit.anchor)
    if count != 1:
        raise MutationError(
            f"mutation {mutation}: anchor {edit.anchor!r} occurs {count} times in {edit.path} (need exactly 1); "
            "the product changed under the mutation: update tests/matrix/mutations/catalog.yaml"
        )
    path.write_text(text.replace(edit.anchor, edit.replacement), encoding="utf-8")


def set_version(tree: Path, version: str) -> None:
    """Give the copy a distinct version in pyproject.toml and the package's ``__version__``
    (in ``_version.py`` where the package keeps it there, else in its ``__init__.py``)."""
    packages = sorted(p for p in (tree / "src").iterdir() if (p / "__init__.py").is_file())
    targets = [tree / "pyproject.toml",
               *(p / "_version.py" if (p / "_version.py").is_file() else p / "__init__.py" for p in packages)]
    version_line = r'(?m)^__version__ = "[^"]+"$'
    patterns = {"pyproject.toml": r'(?m)^version = "[^"]+"$', "__init__.py": version_line, "_version.py": version_line}
    for path in targets:
        text = path.read_text(encoding="utf-8")
        pattern = patterns[path.name]
        new, count = re.subn(pattern, lambda m: m.group(0).split("=")[0] + f'= "{version}"', text)
        if count != 1:
            raise MutationError(f"cannot set the version in {path}: {pattern} matched {count} times")
        path.write_text(new, encoding="utf-8")


def head_version(tree: Path) -> str:
    found = re.search(r'(?m)^version = "([^"+]+)"', (tree / "pyproject.toml").read_text(encoding="utf-8"))
    if found is None:
        raise MutationError(f"no version in {tree / 'pyproject.toml'}")
    return found.group(1)


def regenerate_proto(tree: Path, work: Path) -> None:
    """What scripts/gen_protocol.py does, on the copy: refgw_pb2.py/.pyi and the descriptor set."""
    proto = tree / "proto" / "refgw.proto"
    package = next(p for p in (tree / "src").iterdir() if (p / "refgw_pb2.py").is_file())
    desc_name = f"{package.name}.desc"
    out = work / "protoc-out"
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto.parent}", f"--python_out={out}",
               f"--pyi_out={out}", f"--descriptor_set_out={out / 'out.desc'}", "--include_source_info", proto.name]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise MutationError(f"protoc failed on the mutated {proto}:\n{done.stderr}")
    (package / "refgw_pb2.py").write_bytes((out / "refgw_pb2.py").read_bytes())
    (package / "refgw_pb2.pyi").write_bytes((out / "refgw_pb2.pyi").read_bytes())
    (package / desc_name).write_bytes((out / "out.desc").read_bytes())


def build_wheel(tree: Path, out_dir: Path) -> Path:
    """``uv build --wheel`` into a private directory (builds may run side by side), then move."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    try:
        done = subprocess.run(["uv", "build", "--wheel", "--out-dir", str(private), str(tree)],
                              capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT_S)
        wheels = sorted(private.glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise MutationError(f"uv build --wheel {tree} exited {done.returncode} with {len(wheels)} wheels:\n"
                                f"{(done.stderr or done.stdout)[-3000:]}")
        target = out_dir / wheels[0].name
        os.replace(wheels[0], target)
        return target
    finally:
        shutil.rmtree(private, ignore_errors=True)


def build(mutation: Mutation | None, product: str, work: Path, out_dir: Path, *, retag: bool = True) -> Path:
    """The wheel of ``product`` at HEAD with ``mutation`` applied (None: unmutated).

    ``retag`` gives it the local version ``+mutant.<name>`` (``+mutant.baseline`` unmutated);
    without it the wheel keeps HEAD's version (the plain candidate of the other product).
    """
    name = mutation.name if mutation is not None else BASELINE
    tree = export_head(product, work / name)
    for edit in mutation.edits if mutation is not None else ():
        apply_edit(tree, edit, name)
    if retag:
        tag = mutation.local_tag if mutation is not None else f"mutant.{BASELINE}"
        set_version(tree, f"{head_version(tree)}+{tag}")
    if mutation is not None and mutation.touches_proto:
        regenerate_proto(tree, work / name)
    return build_wheel(tree, out_dir)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    name, out = argv
    catalog = load_catalog().mutations
    if name != BASELINE and name not in catalog:
        print(f"unknown mutation {name!r}; known: {BASELINE}, {', '.join(catalog)}", file=sys.stderr)
        return 2
    mutation = catalog.get(name)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build(mutation, mutation.product if mutation else "gateways/refgw", Path(tmp), Path(out))
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
