"""How long the gateway remembers an order after it finished (3.1).

A finished order (FILLED, CANCELLED, REJECTED) is kept so that a repeated client_order_id is
answered with it (DUPLICATE_CLORDID_REPLAYED), a cancel or amend of it is rejected with its
state, and a resume-gap status snapshot lists it. refgw <= 3.0 kept every order for the life
of the process (about 1 KB each); 3.1 forgets a finished order once it is beyond the newest
``finished_orders`` finished ones or finished more than ``finished_age_s`` ago, whichever
comes first. Live orders are never forgotten.

Beyond retention the gateway knows nothing of the order: a late exchange event for it is
logged and dropped, a cancel of it is rejected UNKNOWN_ORDER ("no order ..."), and its
client_order_id may be used again for a new order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_FINISHED_ORDERS = 100_000
DEFAULT_FINISHED_AGE_S = 86_400.0


@dataclass(frozen=True)
class Retention:
    """``finished_orders``: finished orders kept (newest first), 0 = none; ``finished_age_s``:
    at most this long after they finished, 0 = no age bound."""

    finished_orders: int = DEFAULT_FINISHED_ORDERS
    finished_age_s: float = DEFAULT_FINISHED_AGE_S

    def __post_init__(self) -> None:
        if self.finished_orders < 0:
            raise ValueError(f"retention: finished_orders must be >= 0, got {self.finished_orders}")
        if not self.finished_age_s >= 0:  # also refuses NaN
            raise ValueError(f"retention: finished_age_s must be >= 0 (0 = no age bound), got {self.finished_age_s}")


class FinishedOrders:
    """The finished orders' ids in the order they finished, with when (wall-clock seconds: a
    restart recovers the finish times from the journal's record times, which are wall time)."""

    def __init__(self, retention: Retention) -> None:
        self.retention = retention
        self._at: OrderedDict[int, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, gw_id: int) -> bool:
        return gw_id in self._at

    def add(self, gw_id: int, finished_at: float) -> None:
        self._at[gw_id] = finished_at

    def expired(self, now: float) -> Iterator[int]:
        """Remove and yield the ids beyond retention at ``now``, oldest first."""
        at = self._at
        keep = self.retention.finished_orders
        while len(at) > keep:
            yield at.popitem(last=False)[0]
        age = self.retention.finished_age_s
        if age:
            horizon = now - age
            while at:
                gw_id, finished_at = next(iter(at.items()))
                if finished_at > horizon:
                    break
                del at[gw_id]
                yield gw_id
