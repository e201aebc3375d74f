"""``python -m compat.exchange ARGS``: the same program as ``compat exchange ARGS``.

Delegates to ``compat.cli`` (the one module that parses argv).
"""

from __future__ import annotations

import sys

from compat.cli import main

if __name__ == "__main__":
    sys.exit(main(["exchange", *sys.argv[1:]]))
