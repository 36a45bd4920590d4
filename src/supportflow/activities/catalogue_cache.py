"""Each tenant's item catalogue, read through the tenant's own store port and kept a while.

Item matching (``understanding.items``) must see the products of the tenant's store, never
another's: a Shopify shop's "the blue one in size 10" is matched against that shop. Reading a
whole catalogue costs a store dozens of requests, so each tenant's is kept:

- fresh for ``ttl`` seconds (minutes), so a catalogue change arrives without a restart;
- for at most ``max_tenants`` tenants, the least recently used dropped first;
- loaded once at a time per tenant; a catalogue due for a refresh is still served while the
  refresh runs in the background; with none to serve, a turn waits at most ``wait`` seconds
  for the load, then goes on without while the load finishes and fills the cache;
- when a load fails (the store is down, the tenant has no store connection) the failure is
  logged with the tenant id and the error's type only, any previous catalogue is kept, and the
  load is tried again after ``retry_after`` seconds: a store that was down is never remembered
  as an empty catalogue for the whole ``ttl``;
- a backend that cannot list its products (no ``Capability.LIST_PRODUCTS``) has an empty
  catalogue: no item matching, and the procedures ask the customer which item they mean.

The mechanics (freshness, the bound, one read at a time, failures, the hop from the
understand activity's thread to the worker's loop) are ``tenant_cache.TenantCache``'s, shared
with each tenant's order-number format (``order_formats.py``), which this cache also serves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from supportflow.activities.order_formats import OrderFormatCache
from supportflow.activities.tenant_cache import TenantCache
from supportflow.store.port import Capability, StorePort
from supportflow.store.registry import PortSource
from supportflow.understanding.catalogue import EMPTY_CATALOGUE, Catalogue
from supportflow.understanding.order_numbers import OrderNumberFormat

log = logging.getLogger(__name__)

CATALOGUE_TTL_S = 300.0
RETRY_AFTER_S = 30.0
MAX_TENANTS = 1000
# Well inside the understand activity's 15 s: a slow store costs one turn its item matching,
# never the turn itself.
WAIT_S = 5.0


class CatalogueSource(Protocol):
    """Where the understand activity gets a tenant's catalogue (from a worker thread), and
    the order-number format of the tenant's store (``order_formats.py``)."""

    def catalogue_for(self, tenant_id: str) -> Catalogue: ...

    def order_format_for(self, tenant_id: str) -> OrderNumberFormat: ...


async def _read_catalogue(port: StorePort) -> Catalogue:
    if Capability.LIST_PRODUCTS not in port.capabilities:
        return EMPTY_CATALOGUE  # an answer, not a failure: kept for the ttl
    products = await port.list_products()
    # Compiling a large shop's name patterns is CPU work: off the loop.
    return await asyncio.to_thread(Catalogue.from_products, products)


class CatalogueCache(TenantCache[Catalogue]):
    """Per-tenant catalogues from ``ports``. Build it inside the event loop that owns the
    ports; close it (``aclose`` or ``async with``) before that loop ends."""

    def __init__(
        self,
        ports: PortSource,
        *,
        ttl: float = CATALOGUE_TTL_S,
        retry_after: float = RETRY_AFTER_S,
        max_tenants: int = MAX_TENANTS,
        wait: float = WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            ports,
            _read_catalogue,
            default=EMPTY_CATALOGUE,
            what="item catalogue",
            log=log,
            ttl=ttl,
            retry_after=retry_after,
            max_tenants=max_tenants,
            wait=wait,
            clock=clock,
            # An empty catalogue (a failed first read) is not worth serving while a read runs.
            serve_stale=lambda catalogue: len(catalogue) > 0,
        )
        # Each tenant's order-number format, through the same ports (order_formats.py).
        self._order_formats = OrderFormatCache(ports)

    def catalogue_for(self, tenant_id: str) -> Catalogue:
        """The tenant's catalogue, for a worker thread (the synchronous understand activity)."""
        return self.get_blocking(tenant_id)

    def order_format_for(self, tenant_id: str) -> OrderNumberFormat:
        """The order-number format of the tenant's store, for a worker thread."""
        return self._order_formats.order_format_for(tenant_id)

    async def aclose(self) -> None:
        """Stop the reads under way (nothing waits for them any more)."""
        await self._order_formats.aclose()
        await super().aclose()
