"""matrix.yaml's ``bench:`` section: what ``compat bench --compare ... --gate`` fails on.

```yaml
bench:
  gate:                 # measure: threshold (B/A above 1 + threshold, interval clear of 1, fails)
    p50: 5%
    cpu.gateway: 5%     # CPU microseconds per order of the gateway process
    cpu.*: 10%          # a glob: every process on the path (gateway, exchange, client)
```

The measures (the vocabulary lives here, the lowest layer that needs it; ``compat.bench``
measures them): latency percentiles of the corrected order->ack histogram (``p50``,
``p90``, ``p99``, ``p999``) and per-order counters of each process on the path,
``cpu.ROLE`` (CPU microseconds), ``switches.ROLE`` (voluntary context switches) and
``faults.ROLE`` (minor page faults), ROLE one of gateway, exchange, client. A threshold is a
percentage (``5%``) or a fraction (``0.05``). A later key overrides what an earlier glob set.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from yaml.nodes import Node

from compat.config import yamlpos as y

LATENCY_MEASURES = ("p50", "p90", "p99", "p999")
COUNTERS = ("cpu", "switches", "faults")
PATH_ROLES = ("gateway", "exchange", "client")
# Without a bench.gate section: latency p50 and the CPU per order of every process on the path,
# each at 10%. Not less: two processes of identical code differ by themselves (hash seeds,
# memory layout, where the scheduler keeps them): on a busy 2-core machine, five comparisons of
# a gateway with an unchanged copy of itself found a change beyond 5% three times (the
# exchange's CPU per order +8.6%, interval 1.026-1.136; the client's; the gateway's, lower).
# `compat bench --calibrate` measures this floor for a machine (docs/bench.md).
DEFAULT_GATE: Mapping[str, float] = MappingProxyType(
    {"p50": 0.10, "cpu.gateway": 0.10, "cpu.exchange": 0.10, "cpu.client": 0.10}
)
_KEYS = ("gate",)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def known_measures() -> tuple[str, ...]:
    return (*LATENCY_MEASURES, *(f"{counter}.{role}" for counter in COUNTERS for role in PATH_ROLES))


@dataclass(frozen=True)
class BenchSpec:
    gate: Mapping[str, float] = field(default_factory=lambda: DEFAULT_GATE)  # measure -> threshold
    declared: bool = False  # False: no bench.gate in the file, the defaults apply
    line: int = 0


def read_bench(src: y.Source, node: Node | None) -> BenchSpec:
    if node is None or y.is_null(node):
        return BenchSpec()
    fields = y.mapping(src, node, "bench", _KEYS)
    gate_node = fields.get("gate")
    if gate_node is None or y.is_null(gate_node):
        return BenchSpec(line=fields.first_line)
    gate: dict[str, float] = {}
    known = known_measures()
    entries = list(y.mapping(src, gate_node, "bench.gate"))
    if not entries:
        raise src.error(gate_node, "bench.gate names no measure; e.g. p50: 5% (or leave the section out "
                                   "for the defaults)")
    for entry in entries:
        matched = [m for m in known if fnmatch.fnmatchcase(m, entry.key)]
        if not matched:
            raise src.error(entry.key_node, f"bench.gate: {entry.key!r} names no measure; measures are "
                                            f"{', '.join(known)} (globs allowed, e.g. cpu.*)")
        gate.update(dict.fromkeys(matched, _threshold(src, entry.value, f"bench.gate.{entry.key}")))
    return BenchSpec(gate=MappingProxyType(gate), declared=True, line=fields.first_line)


def _threshold(src: y.Source, node: Node, what: str) -> float:
    value = y.plain(node)
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        fraction = float(match.group(1)) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1:
        fraction = float(value)
    else:
        raise src.error(node, f"{what} must be a percentage such as 5% (or a fraction such as 0.05), "
                              f"got {y.describe(node)}")
    if not 0 <= fraction < 1:
        raise src.error(node, f"{what} must be between 0% and 100%, got {y.describe(node)}")
    return fraction
