"""refclient: the reference client library for the refgw gateway."""

from __future__ import annotations

__version__ = "1.1.0"

from refclient.client import (
    PROTOCOL_RANGE,
    TIF,
    Event,
    GatewayClient,
    Instrument,
    OrderHandle,
    Side,
    TopOfBook,
)
from refclient.errors import (
    ClientError,
    FeatureUnsupported,
    LogonRejected,
    OrderRejected,
    ProtocolVersionError,
    SessionLost,
)
from refclient.sync import SyncClient

__all__ = [
    "PROTOCOL_RANGE",
    "TIF",
    "ClientError",
    "Event",
    "FeatureUnsupported",
    "GatewayClient",
    "Instrument",
    "LogonRejected",
    "OrderHandle",
    "OrderRejected",
    "ProtocolVersionError",
    "SessionLost",
    "Side",
    "SyncClient",
    "TopOfBook",
    "__version__",
]
