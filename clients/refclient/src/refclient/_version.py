"""refclient's version, in its own module so submodules never import the package for it."""

from __future__ import annotations

__version__ = "3.1.0.dev0"
