"""What a run found: the verdict model (``model``), how pytest's reports become verdicts
(``verdicts``) and are gathered from every xdist worker (``collect``), the results JSON file
(``jsonfile``), shard merge (``shards``), the results store and history (``store``,
``history``), the verdict grid (``grid``), the static schema join (``schema_join``,
``schema_notes``) and the release gate (``gate``)."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# Before the regroup (0.1) ``compat.results`` was the module now at ``compat.results.collect``.
_FORMER_NAMES = frozenset({"ENVS", "ResultsCollector"})


def __getattr__(name: str) -> Any:
    if name in _FORMER_NAMES:
        warnings.warn(f"compat.results.{name} moved to compat.results.collect.{name}; the old path is "
                      "removed in compat 0.3", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("compat.results.collect"), name)
    raise AttributeError(f"module 'compat.results' has no attribute {name!r}")
