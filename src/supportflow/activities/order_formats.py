"""Each tenant's order-number format, read through the tenant's own store port and kept a while.

Understanding reads order numbers the way the tenant's store prints them
(``understanding/order_numbers.py``): the demo store's ``#W2611340``, a Shopify shop's
``#1001`` or its own prefix and suffix. The port says how (``StorePort.order_naming``: a
constant for the demo store, one small query for Shopify), and each tenant's answer is kept:

- for ``ttl`` seconds (a shop's order name format changes rarely);
- for at most ``max_tenants`` tenants, the least recently used dropped first;
- read once at a time per tenant; a format due for a refresh is still served while the
  refresh runs; with none to serve, a turn waits at most ``wait`` seconds, then goes on with
  the default while the read finishes and fills the cache;
- when a read fails (the store is down, the tenant has no store connection) the failure is
  logged with the tenant id and the error's type only, the previous format (else the default)
  is served, and the read is tried again after ``retry_after`` seconds;
- the default is the demo store's format, the one the engines have always read.

The mechanics are ``tenant_cache.TenantCache``'s, shared with the item catalogue (whose cache
owns one of these and hands it to the understand activity).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from supportflow.activities.tenant_cache import TenantCache
from supportflow.store.port import StorePort
from supportflow.store.registry import PortSource
from supportflow.understanding.order_numbers import DEMO_ORDER_NUMBERS, OrderNumberFormat

log = logging.getLogger(__name__)

FORMAT_TTL_S = 900.0
RETRY_AFTER_S = 30.0
MAX_TENANTS = 1000
# One small read: a turn never waits long for it (the understand activity has 15 s in all).
WAIT_S = 2.0
DEFAULT_FORMAT = DEMO_ORDER_NUMBERS


class OrderFormatSource(Protocol):
    """Where the understand activity gets a tenant's order-number format (from a thread)."""

    def order_format_for(self, tenant_id: str) -> OrderNumberFormat: ...


async def _read_format(port: StorePort) -> OrderNumberFormat:
    naming = await port.order_naming()
    try:
        return OrderNumberFormat(prefix=naming.prefix, suffix=naming.suffix, width=naming.width)
    except ValueError:  # an answer, if not a usable one: kept for the ttl
        log.warning("a store's order name format is unusable; using the default")
        return DEFAULT_FORMAT


class OrderFormatCache(TenantCache[OrderNumberFormat]):
    """Per-tenant order-number formats from ``ports``. Build it inside the event loop that
    owns the ports; close it before that loop ends."""

    def __init__(
        self,
        ports: PortSource,
        *,
        ttl: float = FORMAT_TTL_S,
        retry_after: float = RETRY_AFTER_S,
        max_tenants: int = MAX_TENANTS,
        wait: float = WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            ports,
            _read_format,
            default=DEFAULT_FORMAT,
            what="order number format",
            log=log,
            ttl=ttl,
            retry_after=retry_after,
            max_tenants=max_tenants,
            wait=wait,
            clock=clock,
        )

    def order_format_for(self, tenant_id: str) -> OrderNumberFormat:
        """The tenant's format, for a worker thread (the synchronous understand activity)."""
        return self.get_blocking(tenant_id)
