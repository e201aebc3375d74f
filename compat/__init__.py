"""compat: a compatibility matrix, release gate and latency benchmark for gateway/client wheels.

This module is the public surface for scenario authors: everything a scenario in
``tests/compat/`` uses comes from ``from compat import ...`` (see ``__all__`` and
docs/architecture.md, "The public surface"). The modules under ``compat.*`` are internal and may move between releases.

Names are resolved on first use (PEP 562), so importing ``compat`` (as pytest does for the
plugin in every run) costs nothing until a scenario actually needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from compat import _moved
from compat._version import __version__

if TYPE_CHECKING:
    from compat.config.cell import Cell, Release
    from compat.config.swaps import Swap
    from compat.errors import (
        CompatError,
        CompatibilityBreak,
        ConfigError,
        DriverCallError,
        InfrastructureError,
        InvariantViolation,
        OperationUnsupported,
        StartError,
        SwapTargetError,
    )
    from compat.errors import OperationUnsupported as Unsupported
    from compat.harness.proxy import FaultProxy, FrameDrop, FrameFilter, Toxics
    from compat.run.oracle.model import Oracle, OracleResult, Violation, Waiver
    from compat.run.scenario import Scenario, Session, read_audit_records
    from compat.run.stack import Stack

__all__ = [
    "Cell",
    "CompatError",
    "CompatibilityBreak",
    "ConfigError",
    "DriverCallError",
    "FaultProxy",
    "FrameDrop",
    "FrameFilter",
    "InfrastructureError",
    "InvariantViolation",
    "OperationUnsupported",
    "Oracle",
    "OracleResult",
    "Release",
    "Scenario",
    "Session",
    "Stack",
    "StartError",
    "Swap",
    "SwapTargetError",
    "Toxics",
    "Unsupported",
    "Violation",
    "Waiver",
    "__version__",
    "read_audit_records",
]

# public name -> the module that owns it
_OWNERS: dict[str, str] = {
    "Cell": "compat.config.cell",
    "Release": "compat.config.cell",
    "Swap": "compat.config.swaps",
    "CompatError": "compat.errors",
    "CompatibilityBreak": "compat.errors",
    "ConfigError": "compat.errors",
    "DriverCallError": "compat.errors",
    "InfrastructureError": "compat.errors",
    "InvariantViolation": "compat.errors",
    "OperationUnsupported": "compat.errors",
    "StartError": "compat.errors",
    "SwapTargetError": "compat.errors",
    "FaultProxy": "compat.harness.proxy",
    "FrameDrop": "compat.harness.proxy",
    "FrameFilter": "compat.harness.proxy",
    "Toxics": "compat.harness.proxy",
    "Oracle": "compat.run.oracle.model",
    "OracleResult": "compat.run.oracle.model",
    "Violation": "compat.run.oracle.model",
    "Waiver": "compat.run.oracle.model",
    "Scenario": "compat.run.scenario",
    "Session": "compat.run.scenario",
    "read_audit_records": "compat.run.scenario",
    "Stack": "compat.run.stack",
}
_ALIASES = {"Unsupported": ("compat.errors", "OperationUnsupported")}  # raise it for n/a


def __getattr__(name: str) -> Any:
    if name in _OWNERS:
        value = getattr(importlib.import_module(_OWNERS[name]), name)
    elif name in _ALIASES:
        module, attribute = _ALIASES[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'compat' has no attribute {name!r}")
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_moved.install()
