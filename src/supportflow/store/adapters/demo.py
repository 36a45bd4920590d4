"""The demo store behind the store port.

``StoreClient`` already has every operation of ``StoreOperations`` with the port's signatures;
it lacks only ``capabilities``, ``tracking``, ``list_products`` and ``order_naming``, which this
subclass adds. Everything else (holds and the cancel saga, payment and item changes, returns,
exchanges) stays available.
"""

from __future__ import annotations

import asyncio

from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.port import (
    ALL_CAPABILITIES,
    DEMO_ORDER_NAMING,
    Capability,
    Doc,
    OrderNaming,
    TrackingInfo,
    tracking_from_order,
)

# Product reads in flight at once while listing the catalogue: enough to take ~50 products in a
# few round trips, few enough not to crowd out the turns the store is serving meanwhile.
_LIST_CONCURRENCY = 8


class DemoStoreAdapter(StoreClient):
    """``StoreClient`` as a ``StorePort``: the demo store supports every port operation."""

    capabilities: frozenset[Capability] = ALL_CAPABILITIES

    @classmethod
    def sharing(cls, client: StoreClient) -> DemoStoreAdapter:
        """A port over an open ``StoreClient``'s connection pool. The client stays the
        owner: close the client, not this view."""
        view = cls.__new__(cls)
        view._http = client._http
        return view

    async def order_naming(self) -> OrderNaming:
        return DEMO_ORDER_NAMING  # the seed's ids, and every order the store creates

    async def tracking(self, order_id: str) -> list[TrackingInfo] | None:
        order = await self.get_order(order_id)
        return None if order is None else tracking_from_order(order)

    async def list_products(self) -> list[Doc]:
        """Every product with its variants, in the store's listing order (by name).

        ``GET /products`` names the products; each is then read whole (``GET
        /products/{id}``). Any failure fails the whole listing: a partial catalogue would
        look complete to item matching."""
        listing = await self._request("GET", "/products")
        ids = [str(p["product_id"]) for p in listing.get("products") or []]
        gate = asyncio.Semaphore(_LIST_CONCURRENCY)

        async def read(product_id: str) -> Doc | None:
            async with gate:
                return await self.get_product(product_id)

        tasks = [asyncio.create_task(read(i)) for i in ids]
        try:
            docs = await asyncio.gather(*tasks)
        except BaseException:
            # The first failure is the answer (a StoreError, as from any other read): stop
            # the reads still going rather than leave them running unowned.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        # A product deleted between the listing and its read is simply not there.
        return [doc for doc in docs if doc is not None]
