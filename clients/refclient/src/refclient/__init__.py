"""refclient: the reference client library for the refgw gateway."""

from __future__ import annotations

from refclient._version import __version__
from refclient.book import LocalBook
from refclient.client import (
    PROTOCOL_RANGE,
    TIF,
    Event,
    FileSessionStore,
    GatewayClient,
    Instrument,
    OrderHandle,
    ResumeResult,
    Side,
)
from refclient.errors import (
    ClientError,
    FeatureUnsupported,
    LogonRejected,
    OrderRejected,
    ProtocolVersionError,
    ResumeGap,
    SessionLost,
    Throttled,
)
from refclient.orders import Retention
from refclient.sync import SyncClient

__all__ = [
    "PROTOCOL_RANGE",
    "TIF",
    "ClientError",
    "Event",
    "FeatureUnsupported",
    "FileSessionStore",
    "GatewayClient",
    "Instrument",
    "LocalBook",
    "LogonRejected",
    "OrderHandle",
    "OrderRejected",
    "ProtocolVersionError",
    "ResumeGap",
    "ResumeResult",
    "Retention",
    "SessionLost",
    "Side",
    "SyncClient",
    "Throttled",
    "__version__",
]
