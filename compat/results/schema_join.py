"""Joins the static schema check to the dynamic verdicts.

For every (client version, gateway version) pair of a run, the changes between the client
wheel's schema and the gateway wheel's schema (read from the one that looks older, ``a``, to
the other, ``b``) are stored in ``results.meta["schema"]``
(see schema_notes), so every renderer can annotate failing cells with them, and two kinds of
disagreement are flagged:

- ``static-break-but-pass``: wire-breaking changes, yet every scenario of the pair passes
  (or is n/a or flaky): the scenarios may miss the break, or the protocol negotiates around it;
- ``fail-without-static-change``: a scenario fails, yet the schemas differ in nothing
  wire-breaking: the break is behavioural.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from compat.artifacts.schema_diff import Schema, SchemaDiff, build_schema, diff_schemas, load_descriptor_files
from compat.errors import NoSchemaDescriptors, SchemaDiffError
from compat.results.model import RunResults, Verdict
from compat.results.schema_notes import META_KEY

DiffFor = Callable[[str, str], SchemaDiff | None]
_QUIET = (Verdict.PASS, Verdict.NA, Verdict.FLAKY)


def wheels_by_version(paths: Iterable[Path], distribution: str) -> dict[str, Path]:
    """version → wheel path for one distribution, from wheel file names (others ignored)."""
    wanted = canonicalize_name(distribution)
    found: dict[str, Path] = {}
    for path in paths:
        if path.suffix != ".whl":
            continue
        try:
            name, version, _, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if name == wanted:
            found[str(version)] = path
    return found


def wheel_differ(client_wheels: Mapping[str, Path], gateway_wheels: Mapping[str, Path]) -> DiffFor:
    """A ``diff_for(client_version, gateway_version)`` reading each wheel once; None when
    either version has no wheel here. Compares the protobuf packages both wheels ship."""
    schemas: dict[Path, Schema] = {}

    def schema_of(path: Path) -> Schema:
        if path not in schemas:
            schemas[path] = build_schema(load_descriptor_files(path))
        return schemas[path]

    def diff_for(client_version: str, gateway_version: str) -> SchemaDiff | None:
        client, gateway = client_wheels.get(client_version), gateway_wheels.get(gateway_version)
        if client is None or gateway is None:
            return None
        missing: list[NoSchemaDescriptors] = []
        for wheel in (client, gateway):
            try:
                schema_of(wheel)
            except NoSchemaDescriptors as exc:
                missing.append(exc)
        if missing:  # name every wheel without a schema, not just the first one read
            raise NoSchemaDescriptors(str(missing[0]), tuple(w for exc in missing for w in exc.wheels))
        # Only the protocol both sides speak: a gateway also ships its venue protocols.
        a, b = schema_of(client), schema_of(gateway)
        common = a.packages & b.packages
        a, b = a.only_packages(common), b.only_packages(common)
        # Which wheel is older is not known across two products: read the pair in the
        # direction that looks most like forward evolution (fewest breaking changes), so a
        # newer client's added fields are "added", not "removed". Retypes, renumbering and
        # reused numbers break in both directions and are reported either way.
        forward = SchemaDiff(client.name, gateway.name, tuple(diff_schemas(a, b)))
        backward = SchemaDiff(gateway.name, client.name, tuple(diff_schemas(b, a)))
        return backward if len(backward.breaking) < len(forward.breaking) else forward

    return diff_for


def annotate(results: RunResults, diff_for: DiffFor) -> RunResults:
    """A copy of ``results`` with ``meta["schema"]`` filled (pairs and disagreements)."""
    pairs: list[dict[str, Any]] = []
    disagreements: list[dict[str, Any]] = []
    by_pair: dict[tuple[str, str], list[Verdict]] = {}
    failing: dict[tuple[str, str], list[str]] = {}
    for cell in results.cells:
        key = (cell.client_version, cell.gateway_version)
        by_pair.setdefault(key, []).extend(s.verdict for s in cell.scenarios)
        failing.setdefault(key, []).extend(
            f"{s.scenario} [{cell.venue}]" for s in cell.scenarios if s.verdict is Verdict.FAIL
        )
    without: dict[str, str] = {}  # wheel -> why it has no schema: the check is off for it, said once
    for (client, gateway), verdicts in by_pair.items():
        try:
            diff = diff_for(client, gateway)
        except NoSchemaDescriptors as exc:
            without.update(dict.fromkeys(exc.wheels, str(exc)))
            continue
        except SchemaDiffError as exc:
            disagreements.append(
                {
                    "client_version": client,
                    "gateway_version": gateway,
                    "kind": "unreadable",
                    "detail": str(exc),
                }
            )
            continue
        if diff is None:
            continue
        pairs.append({"client_version": client, "gateway_version": gateway, **diff.to_dict()})
        breaking = diff.breaking
        if breaking and verdicts and all(v in _QUIET for v in verdicts) and Verdict.PASS in verdicts:
            disagreements.append(
                {
                    "client_version": client,
                    "gateway_version": gateway,
                    "kind": "static-break-but-pass",
                    "detail": (
                        f"{len(breaking)} wire-breaking schema change(s) (first: {breaking[0].where}: "
                        f"{breaking[0].detail}) yet every scenario passes: a missing scenario, "
                        "or a break the protocol negotiates around"
                    ),
                }
            )
        if failing[(client, gateway)] and not breaking:
            shown = ", ".join(failing[(client, gateway)][:5])
            disagreements.append(
                {
                    "client_version": client,
                    "gateway_version": gateway,
                    "kind": "fail-without-static-change",
                    "detail": (
                        f"{shown} fail, yet the schemas differ in nothing wire-breaking "
                        f"({len(diff.changes)} safe change(s)): the break is behavioural"
                    ),
                }
            )
    block: dict[str, Any] = {"pairs": pairs, "disagreements": disagreements}
    if without:
        block["off"] = (f"the static schema check is off for {len(without)} wheel(s) that ship no protobuf "
                        f"descriptors ({', '.join(sorted(without))}); pairs with them are not compared")
    return replace(results, meta={**results.meta, META_KEY: block})


def annotate_from_wheels(
    results: RunResults, wheels: Iterable[Path], client_distribution: str, gateway_distribution: str
) -> RunResults:
    """``annotate`` with the client and gateway wheels found among ``wheels`` (e.g. a
    wheelhouse listing plus the candidate wheels of this run)."""
    paths = list(wheels)
    return annotate(
        results,
        wheel_differ(
            wheels_by_version(paths, client_distribution), wheels_by_version(paths, gateway_distribution)
        ),
    )
