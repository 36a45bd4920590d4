"""The agents' side of a store: the port (``port``), its adapters (``adapters``: the demo store
over HTTP, Shopify, Stripe refunds), each tenant's connection (``connection``,
``connection_store``) and the registry that opens a tenant's port (``registry``).

``errors`` is the vocabulary shared with the demo store service (``supportflow.demo_store``),
which may import it; nothing here imports the service: the demo adapter speaks HTTP to it.
"""

from supportflow.store.errors import (
    IdempotencyKeyReused,
    StoreError,
    StoreNotFound,
    StoreRejected,
    StoreUnavailable,
)

__all__ = [
    "IdempotencyKeyReused",
    "StoreError",
    "StoreNotFound",
    "StoreRejected",
    "StoreUnavailable",
]
