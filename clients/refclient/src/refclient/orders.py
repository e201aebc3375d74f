"""The orders a client remembers, and for how long after they finished (3.1).

The client keeps each order's handle by client_order_id (so ``cancel_order("id")`` and
``amend_order("id", ...)`` find its gateway order id and symbol) and the client_order_id of
each gateway order id (for reports that do not carry it). refclient <= 3.0 kept both for the
life of the client; 3.1 forgets a finished order (a report with nothing left: filled,
cancelled, or a duplicate answer of a finished order) once it is beyond the newest
``finished_orders`` finished ones or finished more than ``finished_age_s`` ago, checked
whenever an order finishes. Live orders are never forgotten.

Forgetting changes nothing the gateway decides: a cancel by client_order_id of a forgotten
order is sent by client_order_id alone and the gateway answers it as before (rejected: the
order is not live), and duplicate client_order_id answers come from the gateway.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refclient import refgw_pb2 as pb

DEFAULT_FINISHED_ORDERS = 10_000
DEFAULT_FINISHED_AGE_S = 3_600.0

_ACCEPTED = pb.ACCEPTED
_REJECTED = pb.REJECTED
_DUPLICATE = pb.DUPLICATE_CLORDID_REPLAYED


@dataclass(frozen=True)
class Retention:
    """``finished_orders``: finished orders remembered (newest first), 0 = none;
    ``finished_age_s``: at most this long after they finished, 0 = no age bound."""

    finished_orders: int = DEFAULT_FINISHED_ORDERS
    finished_age_s: float = DEFAULT_FINISHED_AGE_S

    def __post_init__(self) -> None:
        if isinstance(self.finished_orders, bool) or not isinstance(self.finished_orders, int):
            raise TypeError(f"retention: finished_orders must be an int, got {self.finished_orders!r}")
        if self.finished_orders < 0:
            raise ValueError(f"retention: finished_orders must be >= 0, got {self.finished_orders}")
        if not 0 <= self.finished_age_s < float("inf"):  # also refuses NaN
            raise ValueError(f"retention: finished_age_s must be >= 0 (0 = no age bound), got {self.finished_age_s}")


class KnownOrders:
    """Handles by client_order_id and client_order_ids by gateway order id, bounded by a
    ``Retention`` over the finished ones."""

    def __init__(self, retention: Retention, clock: Callable[[], float] = time.monotonic) -> None:
        self.retention = retention
        self.clock = clock
        self.handles: dict[str, Any] = {}  # client_order_id -> OrderHandle
        self.coid_by_oid: dict[int, str] = {}
        self._finished: OrderedDict[int, float] = OrderedDict()  # order id -> when, oldest first

    def sizes(self) -> dict[str, int]:
        return {"handles": len(self.handles), "order_ids": len(self.coid_by_oid), "finished": len(self._finished)}

    def remember(self, handle: Any) -> None:
        """An insert's first answer (or a duplicate answer): its handle, now with its order id."""
        self.handles[handle.client_order_id] = handle
        self.coid_by_oid[handle.order_id] = handle.client_order_id

    def observe(self, order_id: int, coid: str, exec_type: int, leaves_qty: int, reject_code: int) -> None:
        """An execution report about ``order_id`` (non-zero), after its handle was remembered."""
        if exec_type == _REJECTED:
            # A rejection says nothing of the order's life (an insert that never lived, a cancel
            # or amend refused for a live order), except a duplicate answer with nothing left.
            if reject_code == _DUPLICATE and not leaves_qty:
                self._finish(order_id)
            return
        if order_id not in self.coid_by_oid:
            self.coid_by_oid[order_id] = coid
        if not leaves_qty and exec_type != _ACCEPTED:  # filled, cancelled, replaced or status: done
            self._finish(order_id)

    def _finish(self, order_id: int) -> None:
        finished = self._finished
        now = self.clock()
        finished[order_id] = now
        finished.move_to_end(order_id)
        keep = self.retention.finished_orders
        while len(finished) > keep:
            self._forget(finished.popitem(last=False)[0])
        age = self.retention.finished_age_s
        if age:
            horizon = now - age
            while finished:
                oldest, at = next(iter(finished.items()))
                if at > horizon:
                    break
                del finished[oldest]
                self._forget(oldest)

    def _forget(self, order_id: int) -> None:
        coid = self.coid_by_oid.pop(order_id, None)
        if coid is None:
            return
        handle = self.handles.get(coid)
        # The client_order_id may name a newer order by now (a gateway that forgot the old one).
        if handle is not None and handle.order_id == order_id:
            del self.handles[coid]
