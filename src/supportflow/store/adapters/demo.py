"""The demo store behind the store port.

``StoreClient`` already has every operation of ``StoreOperations`` with the port's signatures;
it lacks only ``capabilities`` and ``tracking``, which this subclass adds. Everything else
(holds and the cancel saga, payment and item changes, returns, exchanges) stays available.
"""

from __future__ import annotations

from typing import Self

from supportflow.store.client import StoreClient
from supportflow.store.port import ALL_CAPABILITIES, Capability, TrackingInfo, tracking_from_order


class DemoStoreAdapter(StoreClient):
    """``StoreClient`` as a ``StorePort``: the demo store supports every port operation."""

    capabilities: frozenset[Capability] = ALL_CAPABILITIES

    async def __aenter__(self) -> Self:
        return self

    @classmethod
    def sharing(cls, client: StoreClient) -> DemoStoreAdapter:
        """A port over an open ``StoreClient``'s connection pool. The client stays the
        owner: close the client, not this view."""
        view = cls.__new__(cls)
        view._http = client._http
        return view

    async def tracking(self, order_id: str) -> list[TrackingInfo] | None:
        order = await self.get_order(order_id)
        return None if order is None else tracking_from_order(order)
