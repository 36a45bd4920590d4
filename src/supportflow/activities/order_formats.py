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

Like ``catalogue_cache.CatalogueCache`` (which owns one of these and hands it to the understand
activity): ``order_format_for`` serves the synchronous understand activity's thread, async code
awaits ``get``; the map is guarded by a lock held only for dictionary updates.
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

from supportflow.async_closing import AsyncClosing
from supportflow.store.errors import StoreError
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


@dataclass(frozen=True)
class _Entry:
    order_format: OrderNumberFormat
    due: float  # clock time after which the format is read again


class OrderFormatCache(AsyncClosing):
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
        self._loads: dict[str, asyncio.Task[OrderNumberFormat]] = {}  # on the loop only

    async def aclose(self) -> None:
        loads = list(self._loads.values())
        for task in loads:
            task.cancel()
        await asyncio.gather(*loads, return_exceptions=True)

    async def get(self, tenant_id: str) -> OrderNumberFormat:
        """The tenant's format: the cached one (refreshed in the background once due), or
        read now, waiting at most ``wait`` seconds. Never raises for a store's failure."""
        entry = self._lookup(tenant_id)
        if entry is not None and self._clock() < entry.due:
            return entry.order_format
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("use the cache on the event loop it was built on")
        task = self._loads.get(tenant_id)
        if task is None:
            task = self._loop.create_task(self._load(tenant_id))
            self._loads[tenant_id] = task
            task.add_done_callback(lambda done: self._forget_load(tenant_id, done))
        if entry is not None:
            return entry.order_format  # due for a refresh, still good meanwhile
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._wait)
        except TimeoutError:
            log.info("order number format of tenant %s still loading; default this turn", tenant_id)
            return _format_of(self._lookup(tenant_id))

    def order_format_for(self, tenant_id: str) -> OrderNumberFormat:
        """``get`` for a worker thread: waits in the calling thread while the loop reads."""
        entry = self._lookup(tenant_id)
        if entry is not None and self._clock() < entry.due:
            return entry.order_format
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("order_format_for would block the event loop: await get() there")
        try:
            future = asyncio.run_coroutine_threadsafe(self.get(tenant_id), self._loop)
        except RuntimeError:  # the loop has closed: the worker is stopping
            return _format_of(entry)
        try:
            return future.result(timeout=self._wait + 1.0)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.cancel()
            return _format_of(self._lookup(tenant_id))

    async def _load(self, tenant_id: str) -> OrderNumberFormat:
        try:
            port = await self._ports.port_for(tenant_id)
            naming = await port.order_naming()
        except Exception as err:  # any failure: the previous or default format, never a failed turn
            previous = self._lookup(tenant_id)
            log.warning(
                "order number format of tenant %s not read (%s); using the %s one, trying "
                "again in %gs",
                tenant_id,
                _reason(err),
                "previous" if previous is not None else "default",
                self._retry_after,
            )
            order_format = _format_of(previous)
            self._put(tenant_id, _Entry(order_format, self._clock() + self._retry_after))
            return order_format
        try:
            order_format = OrderNumberFormat(
                prefix=naming.prefix, suffix=naming.suffix, width=naming.width
            )
        except ValueError:  # an answer, if not a usable one: kept for the ttl
            log.warning("order name format of tenant %s unusable; using the default", tenant_id)
            order_format = DEFAULT_FORMAT
        self._put(tenant_id, _Entry(order_format, self._clock() + self._ttl))
        return order_format

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

    def _forget_load(self, tenant_id: str, done: asyncio.Task[OrderNumberFormat]) -> None:
        if self._loads.get(tenant_id) is done:
            del self._loads[tenant_id]


def _format_of(entry: _Entry | None) -> OrderNumberFormat:
    return DEFAULT_FORMAT if entry is None else entry.order_format


def _reason(err: Exception) -> str:
    """The error's type and status, nothing a message text might carry."""
    status = err.status_code if isinstance(err, StoreError) else None
    return type(err).__name__ + (f" {status}" if status else "")
