"""Something read from each tenant's own store and kept a while: the mechanics both the item
catalogue (``catalogue_cache.py``) and the order-number format (``order_formats.py``) use.

- fresh for ``ttl`` seconds, so a change in the store arrives without a restart;
- for at most ``max_tenants`` tenants, the least recently used dropped first;
- read once at a time per tenant; a value due for a refresh is still served while the refresh
  runs in the background (when ``serve_stale`` allows); with none to serve, a turn waits at
  most ``wait`` seconds, then goes on with the fallback while the read finishes and fills the
  cache;
- when a read fails (the store is down, the tenant has no store connection) the failure is
  logged with the tenant id and the error's type only, the previous value (else the default)
  is served, and the read is tried again after ``retry_after`` seconds: a store that was down
  is never remembered for the whole ``ttl``.

The understand activity is synchronous (model inference runs in the worker's threads), while
the ports belong to the worker's event loop: ``get_blocking`` hands the read to that loop and
waits in the calling thread; async code awaits ``get``. The map is guarded by a lock held only
for dictionary updates, never across I/O.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from supportflow.async_closing import AsyncClosing
from supportflow.store.errors import StoreError
from supportflow.store.port import StorePort
from supportflow.store.registry import PortSource

V = TypeVar("V")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    due: float  # clock time after which the value is read again


class TenantCache(AsyncClosing, Generic[V]):
    """Per-tenant values read by ``read`` from the tenant's port. Build it inside the event
    loop that owns the ports; close it (``aclose`` or ``async with``) before that loop ends."""

    def __init__(
        self,
        ports: PortSource,
        read: Callable[[StorePort], Awaitable[V]],
        *,
        default: V,
        what: str,
        log: logging.Logger,
        ttl: float,
        retry_after: float,
        max_tenants: int,
        wait: float,
        clock: Callable[[], float] = time.monotonic,
        serve_stale: Callable[[V], bool] = lambda _: True,
    ) -> None:
        if ttl <= 0 or retry_after <= 0 or wait <= 0 or max_tenants < 1:
            raise ValueError("ttl, retry_after and wait must be positive, max_tenants >= 1")
        self._ports = ports
        self._read = read
        self._default = default
        self._what = what
        self._log = log
        self._ttl = ttl
        self._retry_after = retry_after
        self._max = max_tenants
        self._wait = wait
        self._clock = clock
        self._serve_stale = serve_stale
        self._loop = asyncio.get_running_loop()
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        # In-flight reads; touched on the loop only.
        self._loads: dict[str, asyncio.Task[V]] = {}

    async def aclose(self) -> None:
        """Stop the reads under way (nothing waits for them any more)."""
        loads = list(self._loads.values())
        for task in loads:
            task.cancel()
        await asyncio.gather(*loads, return_exceptions=True)

    async def get(self, tenant_id: str) -> V:
        """The tenant's value: the cached one (refreshed in the background once due), or read
        now, waiting at most ``wait`` seconds. Never raises for a store's failure."""
        entry = self._lookup(tenant_id)
        if entry is not None and self._clock() < entry.due:
            return entry.value
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("use the cache on the event loop it was built on")
        task = self._loads.get(tenant_id)
        if task is None:
            task = self._loop.create_task(self._load(tenant_id))
            self._loads[tenant_id] = task
            task.add_done_callback(lambda done: self._forget_load(tenant_id, done))
        if entry is not None and self._serve_stale(entry.value):
            # Due for a refresh but still good: this turn keeps it, so only a tenant's very
            # first turn (or one after a failed read) ever waits for a store.
            return entry.value
        try:
            # Shielded: a turn that stops waiting leaves the read running for the next one.
            return await asyncio.wait_for(asyncio.shield(task), self._wait)
        except TimeoutError:
            self._log.info(
                "%s of tenant %s still loading; fallback this turn", self._what, tenant_id
            )
            return self._value_of(self._lookup(tenant_id))

    def get_blocking(self, tenant_id: str) -> V:
        """``get`` for a worker thread: waits in the calling thread while the loop reads."""
        entry = self._lookup(tenant_id)
        if entry is not None and self._clock() < entry.due:
            return entry.value  # the common case, without a hop to the loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("a blocking read would block the event loop: await get() there")
        try:
            future = asyncio.run_coroutine_threadsafe(self.get(tenant_id), self._loop)
        except RuntimeError:  # the loop has closed: the worker is stopping
            return self._value_of(entry)
        try:
            # get() gives up after ``wait``; the margin covers the hops to and from the loop.
            return future.result(timeout=self._wait + 1.0)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.cancel()
            return self._value_of(self._lookup(tenant_id))

    async def _load(self, tenant_id: str) -> V:
        try:
            value = await self._read(await self._ports.port_for(tenant_id))
        except Exception as err:  # any failure: the previous or default value, never a failed turn
            previous = self._lookup(tenant_id)
            self._log.warning(
                "%s of tenant %s not loaded (%s); %s, trying again in %gs",
                self._what,
                tenant_id,
                _reason(err),
                "keeping the previous one" if previous is not None else "using the default",
                self._retry_after,
            )
            value = self._value_of(previous)
            self._put(tenant_id, _Entry(value, self._clock() + self._retry_after))
            return value
        self._put(tenant_id, _Entry(value, self._clock() + self._ttl))
        return value

    def _value_of(self, entry: _Entry[V] | None) -> V:
        return self._default if entry is None else entry.value

    def _lookup(self, tenant_id: str) -> _Entry[V] | None:
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is not None:
                self._entries.move_to_end(tenant_id)
            return entry

    def _put(self, tenant_id: str, entry: _Entry[V]) -> None:
        with self._lock:
            self._entries[tenant_id] = entry
            self._entries.move_to_end(tenant_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def _forget_load(self, tenant_id: str, done: asyncio.Task[V]) -> None:
        if self._loads.get(tenant_id) is done:
            del self._loads[tenant_id]


def _reason(err: Exception) -> str:
    """The error's type and status: enough to tell down from misconfigured, and nothing a
    message text might carry."""
    status = err.status_code if isinstance(err, StoreError) else None
    return type(err).__name__ + (f" {status}" if status else "")
