"""Activities of the `integrations` task queue: reads from the tenant's store."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.activities.contract import (
    IdentifyInput,
    IdentifyResult,
    LookupOrderInput,
    OrderEmailInput,
    OrderFacts,
    OrderItemFacts,
    ProductAnswers,
    ProductQuestionInput,
)
from supportflow.sales.products import answer_product
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreRejected
from supportflow.store.port import Capability, StorePort
from supportflow.store.registry import PortSource, port_source


class StoreActivities:
    """Reads on each tenant's own store: ``store`` is a ``StoreRegistry`` (or one demo
    ``StoreClient`` for every tenant)."""

    def __init__(self, store: StoreClient | PortSource) -> None:
        self._ports = port_source(store)

    async def _port(self, tenant_id: str) -> StorePort:
        try:
            return await self._ports.port_for(tenant_id)
        except StoreRejected as exc:
            # A tenant's store connection that cannot work: no retry will fix it.
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc

    @activity.defn(name="identify_customer")
    async def identify_customer(self, inp: IdentifyInput) -> IdentifyResult:
        store = await self._port(inp.tenant_id)
        try:
            users = await store.find_users(email=inp.email.strip().lower())
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
        if len(users) != 1:
            return IdentifyResult(store_user_id=None)
        user = users[0]
        return IdentifyResult(
            store_user_id=str(user["user_id"]), first_name=user.get("name", {}).get("first_name")
        )

    @activity.defn(name="lookup_order")
    async def lookup_order(self, inp: LookupOrderInput) -> OrderFacts:
        store = await self._port(inp.tenant_id)
        try:
            order = await store.get_order(inp.order_id)
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
            city=(order.get("address") or {}).get("city"),
        )

    @activity.defn(name="order_status_by_email")
    async def order_status_by_email(self, inp: OrderEmailInput) -> OrderFacts:
        """Status and tracking of an order whose email matches; "not found" otherwise, the
        same answer as for an order that does not exist."""
        store = await self._port(inp.tenant_id)
        try:
            order = await store.get_order(inp.order_id)
            user = await store.get_user(str(order["user_id"])) if order else None
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
        owner = str((user or {}).get("email", "")).strip().lower()
        if order is None or not owner or owner != inp.email.strip().lower():
            return OrderFacts(order_id=inp.order_id, found=False)
        tracking = [t for f in order.get("fulfillments", []) for t in f.get("tracking_id", [])]
        return OrderFacts(
            order_id=order["order_id"],
            found=True,
            status=order.get("status"),
            tracking_ids=tracking,
        )

    @activity.defn(name="answer_product_question")
    async def answer_product_question(self, inp: ProductQuestionInput) -> ProductAnswers:
        """What the store says now about the products a customer asks about: options, prices,
        what is in stock, the variants they named, alternatives in stock for those sold out
        and how the named ones compare (``sales.products.answer_product``). A backend that
        cannot read products answers nothing (the workflow then tries the knowledge base)."""
        store = await self._port(inp.tenant_id)
        if Capability.GET_PRODUCT not in store.capabilities:
            return ProductAnswers()
        answers = []
        for product_id in inp.product_ids:
            try:
                product = await store.get_product(product_id)
            except StoreRejected as exc:
                raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
            if product is not None:
                answers.append(answer_product(product, inp.item_ids))
        return ProductAnswers(products=answers)
