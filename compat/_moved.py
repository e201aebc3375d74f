"""Old import paths from before the regroup by concept (0.1), kept working for one release.

``import compat.matrix`` (or ``from compat.stack import Stack``) still works: a meta path
finder hands back the module at its new home, under the old name too, with a
``DeprecationWarning`` naming the new path. A module that was split (``compat.index``,
``compat.report.shard``) becomes a stand-in that finds each name in the module that now holds
it. Remove in 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

REMOVED_IN = "0.3"

MOVED: dict[str, str] = {  # old module -> its new home
    "compat.cell": "compat.config.cell",
    "compat.matrix": "compat.config.matrix",
    "compat.yamlpos": "compat.config.yamlpos",
    "compat.versions": "compat.config.versions",
    "compat.expectations": "compat.config.expectations",
    "compat.index": "compat.artifacts.index",
    "compat.lockfile": "compat.artifacts.lock",
    "compat.envs": "compat.artifacts.envs",
    "compat.uvtool": "compat.harness.uv",
    "compat.release": "compat.artifacts.release",
    "compat.outcome": "compat.results.model",
    "compat.verdicts": "compat.results.verdicts",
    "compat.plan": "compat.run.plan",
    "compat.stack": "compat.run.stack",
    "compat.scenario": "compat.run.scenario",
    "compat.fixtures": "compat.plugin.fixtures",
    "compat.report.store": "compat.results.store",
    "compat.report.history": "compat.results.history",
    "compat.report.gate": "compat.results.gate",
    "compat.report.grid": "compat.results.grid",
    "compat.report.json_report": "compat.results.jsonfile",
    "compat.report.shard": "compat.results.shards",
    "compat.report.schema_notes": "compat.results.schema_notes",
    "compat.report.schema_join": "compat.results.schema_join",
    "compat.report.schema_diff": "compat.artifacts.schema_diff",
    "compat.report.errors": "compat.errors",
    "compat.report.cli": "compat.cli.results",
    "compat.exchange.obx_server": "compat.exchange.venues.obx",
    "compat.exchange.tlx_server": "compat.exchange.venues.tlx",
    "compat.exchange.obx_codec": "compat.exchange.venues.obx_codec",
    "compat.exchange.tlx_codec": "compat.exchange.venues.tlx_codec",
}

# Split modules: the first is the old module's main new home; the rest hold the names moved out.
SPLIT: dict[str, tuple[str, ...]] = {
    "compat.index": ("compat.artifacts.resolve", "compat.artifacts.candidate"),
    "compat.report.shard": ("compat.run.shard",),
    "compat.exchange.tlx_server": ("compat.exchange.venues.tlx_session", "compat.exchange.venues.tlx_tags"),
}


class _SplitModule(types.ModuleType):
    """The old module as a stand-in: each name from whichever new module holds it."""

    def __init__(self, old: str, homes: tuple[str, ...]) -> None:
        super().__init__(old)
        self.__homes = homes

    def __getattr__(self, name: str) -> Any:
        for home in self.__homes:
            module = importlib.import_module(home)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} (moved to {', '.join(self.__homes)}) has no attribute {name!r}")


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(
            f"{self.old} moved to {self.new}; the old import path is removed in compat {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,
        )
        if self.old in SPLIT:
            return _SplitModule(self.old, (self.new, *SPLIT[self.old]))
        return importlib.import_module(self.new)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module at its new home is already executed."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedLoader(fullname, new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once). The old module ``compat.results`` is now a
    package; its names are forwarded by that package's ``__getattr__`` instead."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
