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

The understand activity is synchronous (model inference runs in the worker's threads), while
the ports belong to the worker's event loop: ``catalogue_for`` hands the work to that loop and
waits in the calling thread; async code awaits ``get``. The cache's map is guarded by a lock
held only for dictionary updates, never across I/O.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from supportflow.activities.order_formats import OrderFormatCache
from supportflow.async_closing import AsyncClosing
from supportflow.store.errors import StoreError
from supportflow.store.port import Capability
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


@dataclass(frozen=True)
class _Entry:
    catalogue: Catalogue
    due: float  # clock time after which the catalogue is read again


class CatalogueCache(AsyncClosing):
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
        if ttl <= 0 or retry_after <= 0 or wait <= 0 or max_tenants < 1:
            raise ValueError("ttl, retry_after and wait must be positive, max_tenants >= 1")
        self._ports = ports
        self._ttl = ttl
        self._retry_after = retry_after
        self._max = max_tenants
        self._wait = wait
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # In-flight loads; touched on the loop only.
        self._loads: dict[str, asyncio.Task[Catalogue]] = {}
        # Each tenant's order-number format, through the same ports (order_formats.py).
        self._order_formats = OrderFormatCache(ports)

    def order_format_for(self, tenant_id: str) -> OrderNumberFormat:
        """The order-number format of the tenant's store, for a worker thread."""
        return self._order_formats.order_format_for(tenant_id)

    async def aclose(self) -> None:
        """Stop the loads under way (nothing waits for them any more)."""
        await self._order_formats.aclose()
        loads = list(self._loads.values())
        for task in loads:
            task.cancel()
        await asyncio.gather(*loads, return_exceptions=True)

    async def get(self, tenant_id: str) -> Catalogue:
        """The tenant's catalogue: the cached one (refreshed in the background once due), or
        loaded now, waiting at most ``wait`` seconds. Never raises for a store's failure."""
        entry = self._lookup(tenant_id)
        if entry is not None and self._clock() < entry.due:
            return entry.catalogue
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("use the cache on the event loop it was built on")
        task = self._loads.get(tenant_id)
        if task is None:
            task = self._loop.create_task(self._load(tenant_id))
            self._loads[tenant_id] = task
            task.add_done_callback(lambda done: self._forget_load(tenant_id, done))
        if entry is not None and len(entry.catalogue):
            # Due for a refresh but still good: this turn keeps it, so only a tenant's very
            # first turn (or one after a failed load) ever waits for a store.
            return entry.catalogue
        try:
            # Shielded: a turn that stops waiting leaves the load running for the next one.
            return await asyncio.wait_for(asyncio.shield(task), self._wait)
        except TimeoutError:
            log.info("item catalogue of tenant %s still loading; this turn goes without", tenant_id)
            return _catalogue_of(self._lookup(tenant_id))

    def catalogue_for(self, tenant_id: str) -> Catalogue:
        """``get`` for a worker thread (the synchronous understand activity): waits in the
        calling thread while the event loop does the I/O."""
        entry = self._lookup(tenant_id)
        if entry is not None and self._clock() < entry.due:
            return entry.catalogue  # the common case, without a hop to the loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("catalogue_for would block the event loop: await get() there")
        try:
            future = asyncio.run_coroutine_threadsafe(self.get(tenant_id), self._loop)
        except RuntimeError:  # the loop has closed: the worker is stopping
            return _catalogue_of(entry)
        try:
            # get() gives up after ``wait``; the margin covers the hops to and from the loop.
            return future.result(timeout=self._wait + 1.0)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.cancel()
            return _catalogue_of(self._lookup(tenant_id))

    async def _load(self, tenant_id: str) -> Catalogue:
        try:
            port = await self._ports.port_for(tenant_id)
            if Capability.LIST_PRODUCTS in port.capabilities:
                products = await port.list_products()
                # Compiling a large shop's name patterns is CPU work: off the loop.
                catalogue = await asyncio.to_thread(Catalogue.from_products, products)
            else:
                catalogue = EMPTY_CATALOGUE  # an answer, not a failure: kept for the ttl
        except Exception as err:  # any failure: degrade to no matching, never fail a turn
            previous = self._lookup(tenant_id)
            log.warning(
                "item catalogue of tenant %s not loaded (%s); %s, trying again in %gs",
                tenant_id,
                _reason(err),
                "keeping the previous one" if previous is not None else "no item matching",
                self._retry_after,
            )
            catalogue = _catalogue_of(previous)
            self._put(tenant_id, _Entry(catalogue, self._clock() + self._retry_after))
            return catalogue
        self._put(tenant_id, _Entry(catalogue, self._clock() + self._ttl))
        return catalogue

    def _lookup(self, tenant_id: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is not None:
                self._entries.move_to_end(tenant_id)
            return entry

    def _put(self, tenant_id: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[tenant_id] = entry
            self._entries.move_to_end(tenant_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def _forget_load(self, tenant_id: str, done: asyncio.Task[Catalogue]) -> None:
        if self._loads.get(tenant_id) is done:
            del self._loads[tenant_id]


def _catalogue_of(entry: _Entry | None) -> Catalogue:
    return EMPTY_CATALOGUE if entry is None else entry.catalogue


def _reason(err: Exception) -> str:
    """The error's type and status: enough to tell down from misconfigured, and nothing a
    message text might carry."""
    status = err.status_code if isinstance(err, StoreError) else None
    return type(err).__name__ + (f" {status}" if status else "")
