"""Clock honesty: may a latency between two roles be reported one-way?

A one-way latency subtracts a timestamp taken on one host from a timestamp taken on
another. That is only meaningful when both read the same clock: the same machine (local,
and every netns of it, share one kernel clock; so does ssh to 127.0.0.1). Between
machines, clocks differ by an unknown offset (NTP keeps it at best within tens of
microseconds to milliseconds, which is the size of what we measure), so the report must
use round-trip times, measured on one clock, and say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from compat.harness.host import Host


@dataclass(frozen=True)
class LatencyBasis:
    """How a latency between ``sender`` and ``receiver`` may be reported, and why."""

    one_way: bool
    reason: str

    @property
    def label(self) -> str:
        return "one-way" if self.one_way else "round-trip"


def latency_basis(sender: Host, receiver: Host) -> LatencyBasis:
    """One-way only when both hosts share a clock; otherwise round-trip, with the reason."""
    if sender.shares_clock_with(receiver) and receiver.shares_clock_with(sender):
        return LatencyBasis(
            True,
            f"{sender.spec} and {receiver.spec} read the same clock ({sender.clock_domain}): one-way latency is exact",
        )
    return LatencyBasis(
        False,
        f"{sender.spec} ({sender.clock_domain}) and {receiver.spec} ({receiver.clock_domain}) do not share a "
        "clock; their offset is unknown, so only round-trip times measured on one clock are reported",
    )


__all__ = ["LatencyBasis", "latency_basis"]
