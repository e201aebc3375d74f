"""Reading the static-schema annotations that ``schema_join.annotate`` stores in results.meta.

Kept apart from the protobuf-reading code so renderers need no protobuf import. Shape of
``results.meta["schema"]`` (documented in docs/report-json.md)::

    {"pairs": [{"client_version", "gateway_version", "a", "b",
                "changes": [{"kind", "breaking", "where", "detail"}]}],
     "disagreements": [{"client_version", "gateway_version", "kind", "detail"}]}
"""

from __future__ import annotations

from typing import Any

from compat.results.model import RunResults

META_KEY = "schema"


def pair_changes(results: RunResults) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(client_version, gateway_version) → the schema changes between the two wheels."""
    block = results.meta.get(META_KEY) or {}
    return {
        (p["client_version"], p["gateway_version"]): list(p.get("changes", ()))
        for p in block.get("pairs", ())
    }


def disagreements(results: RunResults) -> list[dict[str, Any]]:
    block = results.meta.get(META_KEY) or {}
    return list(block.get("disagreements", ()))


def check_off(results: RunResults) -> str | None:
    """Why the static schema check did not run for some wheels (said once), or None."""
    block = results.meta.get(META_KEY) or {}
    off = block.get("off")
    return str(off) if off else None


def change_text(change: dict[str, Any]) -> str:
    label = "BREAKING" if change.get("breaking") else "safe"
    return f"{label} {change.get('where', '?')}: {change.get('detail', change.get('kind', ''))}"


def breaking_summary(changes: list[dict[str, Any]], limit: int = 3) -> str:
    """One line naming up to ``limit`` breaking changes, or that there are none."""
    breaking = [c for c in changes if c.get("breaking")]
    if not breaking:
        return f"no wire-breaking schema change ({len(changes)} safe)"
    shown = "; ".join(f"{c.get('where')}: {c.get('detail')}" for c in breaking[:limit])
    more = f"; +{len(breaking) - limit} more" if len(breaking) > limit else ""
    return f"schema: {shown}{more}"
