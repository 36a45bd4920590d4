"""The embedded demo store: its own database and HTTP API, plus the client agents call it with."""

from supportflow.store.client import StoreClient
from supportflow.store.errors import (
    IdempotencyKeyReused,
    StoreError,
    StoreNotFound,
    StoreRejected,
    StoreUnavailable,
)
from supportflow.store.faults import FaultSettings, OperationFault

__all__ = [
    "FaultSettings",
    "IdempotencyKeyReused",
    "OperationFault",
    "StoreClient",
    "StoreError",
    "StoreNotFound",
    "StoreRejected",
    "StoreUnavailable",
]
