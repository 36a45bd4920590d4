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
    ProductAnswer,
    ProductAnswers,
    ProductQuestionInput,
    VariantAnswer,
)
from supportflow.procedures.facts import money
from supportflow.store.adapters.demo_client import Doc, StoreClient
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
        what is in stock, and the variants they named. A backend that cannot read products
        answers nothing (the workflow then tries the knowledge base)."""
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
                answers.append(_product_answer(product, inp.item_ids))
        return ProductAnswers(products=answers)


def _product_answer(product: Doc, asked_ids: list[str]) -> ProductAnswer:
    variants: list[Doc] = [v for v in (product.get("variants") or {}).values() if v]
    options: dict[str, list[str]] = {}
    for v in variants:
        for key, value in (v.get("options") or {}).items():
            values = options.setdefault(str(key), [])
            if str(value) not in values:
                values.append(str(value))
    in_stock = [v for v in variants if v.get("available")]
    prices = [float(v["price"]) for v in (in_stock or variants) if v.get("price") is not None]
    low, high = (min(prices), max(prices)) if prices else (0.0, 0.0)
    by_id = {str(v.get("item_id")): v for v in variants}
    asked = [by_id[i] for i in dict.fromkeys(asked_ids) if i in by_id][:5]
    return ProductAnswer(
        name=str(product.get("name", "")),
        price_range=money(low) if low == high else f"{money(low)} to {money(high)}",
        in_stock=len(in_stock),
        variants=len(variants),
        options=options,
        asked=[
            VariantAnswer(
                label=_variant_label(v.get("options") or {}),
                available=bool(v.get("available")),
                price=money(float(v.get("price") or 0.0)),
            )
            for v in asked
        ],
    )


def _variant_label(options: dict[str, object]) -> str:
    """ "clicky, no backlight, full size": a yes/no option reads as words, not "none"."""
    words = []
    for key, value in options.items():
        v = str(value)
        words.append(
            f"no {key}" if v.lower() in ("none", "no") else key if v.lower() == "yes" else v
        )
    return ", ".join(words)
