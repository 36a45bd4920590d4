"""What procedures know about the world: the customer, one order and its products.

Built from store documents (the demo store's / tau2 JSON shapes) by the ``load_case_facts``
activity, so procedures stay pure: they never fetch, they are handed these facts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from supportflow.store.actions import ACTIONS, StoreAction

Doc = dict[str, Any]


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def cents(amount: float) -> int:
    return round(amount * 100)


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    address1: str = Field(min_length=1, max_length=200)
    address2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=200)
    state: str = Field(min_length=1, max_length=200)
    country: str = Field(default="USA", min_length=1, max_length=200)
    zip: str = Field(min_length=3, max_length=12)

    def one_line(self) -> str:
        street = ", ".join(p for p in (self.address1, self.address2) if p)
        return f"{street}, {self.city}, {self.state} {self.zip}, {self.country}"

    def as_store(self) -> dict[str, str]:
        return self.model_dump()


class PaymentMethod(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    source: str  # credit_card | paypal | gift_card
    brand: str | None = None
    last_four: str | None = None
    balance: float | None = None

    @property
    def is_gift_card(self) -> bool:
        return self.source == "gift_card"

    def label(self) -> str:
        if self.source == "gift_card":
            return "your gift card"
        if self.source == "paypal":
            return "your PayPal account"
        if self.source == "credit_card":
            brand = (self.brand or "credit").title()
            return f"your {brand} card ending in {self.last_four}" if self.last_four else "card"
        return self.source.replace("_", " ")


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: str
    product_id: str
    name: str
    price: float
    options: dict[str, str] = Field(default_factory=dict)

    def label(self) -> str:
        opts = ", ".join(self.options.values())
        return f"{self.name} ({opts})" if opts else self.name


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    transaction_type: str  # payment | refund
    amount: float
    payment_method_id: str


class Variant(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: str
    options: dict[str, str]
    available: bool
    price: float


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str
    name: str
    variants: dict[str, Variant]


class OrderSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    status: str
    items: list[OrderItem]
    address: Address | None = None
    payment_history: list[Payment] = Field(default_factory=list)
    tracking_ids: list[str] = Field(default_factory=list)
    # When the order was placed; the demo store does not record it (None).
    placed_at: datetime | None = None

    def net_paid_by_method(self) -> dict[str, float]:
        """Paid minus refunded per method, in order of first use (as the store refunds)."""
        net: dict[str, int] = {}
        for p in self.payment_history:
            sign = 1 if p.transaction_type == "payment" else -1
            net[p.payment_method_id] = net.get(p.payment_method_id, 0) + sign * cents(p.amount)
        return {k: v / 100 for k, v in net.items()}

    def outstanding(self) -> float:
        return sum(cents(v) for v in self.net_paid_by_method().values()) / 100

    @property
    def original_payment_method_id(self) -> str | None:
        return self.payment_history[0].payment_method_id if self.payment_history else None

    def refunds(self) -> list[Payment]:
        return [p for p in self.payment_history if p.transaction_type == "refund"]

    def item(self, item_id: str) -> OrderItem | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    def total(self) -> float:
        return sum(cents(i.price) for i in self.items) / 100


class UserSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    first_name: str | None = None
    address: Address | None = None
    payment_methods: dict[str, PaymentMethod] = Field(default_factory=dict)


class CaseFacts(BaseModel):
    """Everything a procedure may consult this turn, fetched fresh by the workflow."""

    model_config = ConfigDict(frozen=True)

    user: UserSnapshot | None = None
    # The order asked for; None when there is none, or it is not this customer's (the two look
    # the same on purpose: never confirm that someone else's order exists).
    order: OrderSnapshot | None = None
    order_id_requested: str | None = None
    # The catalogue entries of the products in the order (for variants and availability).
    products: dict[str, Product] = Field(default_factory=dict)
    # What the tenant's store backend can do (``store.port.Capability`` values). None: every
    # operation (the demo store, and every history recorded before backends were per tenant).
    capabilities: list[str] | None = None

    def supports(self, action: StoreAction) -> bool:
        """Whether the backend can do this store write (its capability, ``store.actions``)."""
        return self.capabilities is None or ACTIONS[action].capability in self.capabilities

    @property
    def order_missing(self) -> bool:
        return self.order_id_requested is not None and self.order is None


# -- from store documents ------------------------------------------------------------------


def _address(doc: Any) -> Address | None:
    if not isinstance(doc, dict):
        return None
    try:
        return Address.model_validate(
            {k: str(v) for k, v in doc.items() if k in Address.model_fields}
        )
    except ValueError:
        return None


def user_from_store(doc: Doc) -> UserSnapshot:
    methods = {
        mid: PaymentMethod(
            id=str(m.get("id", mid)),
            source=str(m.get("source", "")),
            brand=m.get("brand"),
            last_four=m.get("last_four"),
            balance=float(m["balance"]) if m.get("balance") is not None else None,
        )
        for mid, m in (doc.get("payment_methods") or {}).items()
    }
    return UserSnapshot(
        user_id=str(doc["user_id"]),
        first_name=(doc.get("name") or {}).get("first_name"),
        address=_address(doc.get("address")),
        payment_methods=methods,
    )


def order_from_store(doc: Doc) -> OrderSnapshot:
    placed = doc.get("placed_at") or doc.get("created_at")
    return OrderSnapshot(
        order_id=str(doc["order_id"]),
        status=str(doc["status"]),
        items=[
            OrderItem(
                item_id=str(i["item_id"]),
                product_id=str(i["product_id"]),
                name=str(i["name"]),
                price=float(i["price"]),
                options={k: str(v) for k, v in (i.get("options") or {}).items()},
            )
            for i in doc.get("items", [])
        ],
        address=_address(doc.get("address")),
        payment_history=[
            Payment(
                transaction_type=str(p["transaction_type"]),
                amount=float(p["amount"]),
                payment_method_id=str(p["payment_method_id"]),
            )
            for p in doc.get("payment_history", [])
        ],
        tracking_ids=[
            str(t) for f in doc.get("fulfillments", []) for t in f.get("tracking_id", [])
        ],
        placed_at=datetime.fromisoformat(str(placed)) if placed else None,
    )


def product_from_store(doc: Doc) -> Product:
    return Product(
        product_id=str(doc["product_id"]),
        name=str(doc["name"]),
        variants={
            vid: Variant(
                item_id=str(v["item_id"]),
                options={k: str(o) for k, o in (v.get("options") or {}).items()},
                available=bool(v.get("available")),
                price=float(v["price"]),
            )
            for vid, v in (doc.get("variants") or {}).items()
        },
    )


def case_facts_from_store(
    user: Doc | None,
    order: Doc | None,
    products: list[Doc],
    *,
    order_id_requested: str | None,
) -> CaseFacts:
    """Facts from raw documents; an order of another user is dropped here too."""
    snapshot_user = user_from_store(user) if user else None
    snapshot_order = order_from_store(order) if order else None
    if snapshot_order is not None and (
        snapshot_user is None or order is None or order.get("user_id") != snapshot_user.user_id
    ):
        snapshot_order = None
    return CaseFacts(
        user=snapshot_user,
        order=snapshot_order,
        order_id_requested=order_id_requested,
        products={p.product_id: p for p in map(product_from_store, products)},
    )
