"""``python -m compat.cli ARGS``: the same program as ``compat ARGS``."""

from __future__ import annotations

import sys

from compat.cli import main

sys.exit(main())
