from __future__ import annotations

import sys

from refgw.cli import main

sys.exit(main())
