"""The latency benchmark: floor relay, load plans run inside drivers, HDR histograms, comparisons.

The driver-side parts (``compat/driver/loadplan.py``, ``compat/driver/hdrlite.py``) are
stdlib-only; everything here runs in the host process except ``relay`` and
``floor_adapter``, which are stdlib-only programs/modules too.
"""

from __future__ import annotations
