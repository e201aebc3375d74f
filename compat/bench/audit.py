"""Orders the harness saw acked against orders the exchange's audit log accepted.

The bench is the only traffic on its stack, so every accepted order in the stack's audit
log is one of the harness's; an exact match is required, else the points are void.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compat.bench.loadpoint import LoadPoint


def reconcile_points(audit_path: Path, points: Sequence[LoadPoint]) -> dict[str, Any]:
    """Acked orders of ``points`` (every order on one stack) against the audit's accepted orders.

    Best effort: the audit log format belongs to the exchange; when it cannot be read the
    reason is recorded (and shown), never silently skipped.
    """
    acked = sum(p.counts.get("acked", 0) for p in points)
    try:
        from compat.exchange.audit import iter_audit

        # Counted while streaming: an hour's soak writes gigabytes of audit log (holding every
        # record at once took 12 GB before the first 1-hour soak could be judged).
        kinds = Counter(record.kind for record in iter_audit(audit_path))
    except Exception as exc:  # the exchange's reader raises its own error types
        return {"checked": False, "reason": f"cannot read {audit_path}: {exc}", "acked_by_harness": acked}
    accepted, rejected = kinds["accepted"], kinds["rejected"]
    return {"checked": True, "acked_by_harness": acked, "accepted_in_audit": accepted,
            "rejected_in_audit": rejected, "match": accepted == acked, "audit_log": str(audit_path)}
