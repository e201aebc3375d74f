"""refgw's version and protocol range, in their own module so submodules never import the package."""

from __future__ import annotations

__version__ = "3.1.0.dev0"
PROTOCOL_MIN = 2
PROTOCOL_MAX = 3
