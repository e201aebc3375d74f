"""Suite-wide plugins (pytest only honours ``pytest_plugins`` in the top-level conftest)."""

pytest_plugins = ["pytester"]
