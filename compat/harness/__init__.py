"""The process harness: hosts, processes, ready probes, the one subprocess door, leak check.

Import the pieces from here::

    from compat.harness import Command, LocalHost, ReadyLine, host_from_spec
"""

from __future__ import annotations

from compat.errors import ChannelClosed, ChannelTimeout, CommandTimeout, ProcessStartError
from compat.harness.command import Command, Outcome, run
from compat.harness.host import Host, Process, host_from_spec
from compat.harness.leaks import Leak, assert_no_leaks, check_leaks
from compat.harness.local import LocalHost, LocalProcess
from compat.harness.ready import READY_PATTERN, PortOpen, Probe, ReadyLine, parse_addresses

__all__ = [
    "READY_PATTERN",
    "ChannelClosed",
    "ChannelTimeout",
    "Command",
    "CommandTimeout",
    "Host",
    "Leak",
    "LocalHost",
    "LocalProcess",
    "Outcome",
    "PortOpen",
    "Probe",
    "Process",
    "ProcessStartError",
    "ReadyLine",
    "assert_no_leaks",
    "check_leaks",
    "host_from_spec",
    "parse_addresses",
    "run",
]
