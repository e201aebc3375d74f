"""compat's version, in its own module so that submodules never import the package for it."""

__version__ = "0.2.0"
