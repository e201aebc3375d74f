"""refclient: the reference client library for the refgw gateway."""

from __future__ import annotations

__version__ = "1.0.0"

from refclient.client import Event, GatewayClient, Instrument, OrderHandle, Side, TopOfBook
from refclient.errors import ClientError, LogonRejected, OrderRejected, SessionLost
from refclient.sync import SyncClient

__all__ = [
    "ClientError",
    "Event",
    "GatewayClient",
    "Instrument",
    "LogonRejected",
    "OrderHandle",
    "OrderRejected",
    "SessionLost",
    "Side",
    "SyncClient",
    "TopOfBook",
    "__version__",
]
