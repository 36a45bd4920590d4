"""Activities of the `integrations` task queue: reads from the tenant's store."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.activities.contract import (
    IdentifyInput,
    IdentifyResult,
    LookupOrderInput,
    OrderFacts,
    OrderItemFacts,
)
from supportflow.store.client import StoreClient
from supportflow.store.errors import StoreRejected


class StoreActivities:
    def __init__(self, store: StoreClient) -> None:
        self._store = store

    @activity.defn(name="identify_customer")
    async def identify_customer(self, inp: IdentifyInput) -> IdentifyResult:
        users = await self._store.find_users(email=inp.email.strip().lower())
        if len(users) != 1:
            return IdentifyResult(store_user_id=None)
        user = users[0]
        return IdentifyResult(
            store_user_id=str(user["user_id"]), first_name=user.get("name", {}).get("first_name")
        )

    @activity.defn(name="lookup_order")
    async def lookup_order(self, inp: LookupOrderInput) -> OrderFacts:
        try:
            order = await self._store.get_order(inp.order_id)
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
        if order is None:
            return OrderFacts(order_id=inp.order_id, found=False)
        if order.get("user_id") != inp.store_user_id:
            # Same answer as "not found": never confirm that someone else's order exists.
            return OrderFacts(order_id=inp.order_id, found=False)
        tracking = [t for f in order.get("fulfillments", []) for t in f.get("tracking_id", [])]
        return OrderFacts(
            order_id=order["order_id"],
            found=True,
            belongs_to_customer=True,
            status=order.get("status"),
            items=[
                OrderItemFacts(
                    name=item["name"],
                    options={k: str(v) for k, v in item.get("options", {}).items()},
                    price=float(item["price"]),
                )
                for item in order.get("items", [])
            ],
            tracking_ids=tracking,
            city=order.get("address", {}).get("city"),
        )
