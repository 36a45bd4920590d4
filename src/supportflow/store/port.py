"""The store port: what agents need from a commerce backend, in the demo store's vocabulary.

Every adapter speaks the tau2 seed's JSON shapes (see ``demo_store/README.md``), whatever the
backend calls things:

- an order: ``order_id`` (the customer-facing name, e.g. ``#W2611340`` or ``#1001``),
  ``user_id``, ``status`` (``pending`` | ``processed`` | ``delivered`` | ``cancelled``, plus the
  demo store's ``pending (item modified)`` / ``return requested`` / ``exchange requested``),
  ``address``, ``items`` (``item_id`` names the variant), ``fulfillments``
  (``tracking_id: [...]``, ``item_ids: [...]``) and ``payment_history``
  (``transaction_type: payment | refund``, ``amount``, ``payment_method_id``);
- a user: ``user_id``, ``name {first_name, last_name}``, ``email``, ``address``,
  ``payment_methods {id: {source, id, ...}}``, ``orders``.

Adapters may add keys (the demo store adds ``cancel_reason``; Shopify adds ``external``),
never change these. Users carry ``phone`` too (E.164, or ``None`` where the account has none):
the demo store gives every user one, Shopify has the customer's default phone.

Errors are the demo store's (``store.errors``), so one retry policy fits every backend:
``StoreNotFound`` / ``StoreRejected`` are permanent, ``StoreUnavailable`` is transient (retry
with the same idempotency key). Two refinements live here: ``BackendAuthError`` (a permanent
``StoreRejected``: bad or under-scoped credentials, which no retry will fix) and
``StoreThrottled`` (a ``StoreUnavailable`` carrying the backend's hint of when to come back).

Not every backend can do everything: an adapter lists its ``capabilities``, and procedures call
``require(port, Capability.X)`` before promising anything, so an unsupported action is refused
cleanly (``UnsupportedOperation``) instead of failing half way.

Every write takes an idempotency key derived from workflow id and step; an adapter must make a
retried write with the same key apply at most once, whether or not its backend has
idempotency keys (each adapter documents how).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from supportflow.store.errors import StoreRejected, StoreUnavailable

Doc = dict[str, Any]

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
# refund_order's answer: the amount that refund applied, next to the order's own fields.
REFUND_APPLIED = "refund_applied"


class Capability(StrEnum):
    """What a backend can do. Each store write needs one of these (``store.actions.ACTIONS``);
    the write capabilities bear the write's name, as recorded in ``CaseFacts.capabilities``."""

    GET_ORDER = "get_order"
    GET_USER = "get_user"
    FIND_USERS = "find_users"
    GET_PRODUCT = "get_product"
    # The whole catalogue, for item matching in understanding (issue 10: per tenant).
    LIST_PRODUCTS = "list_products"
    CANCEL_ORDER = "cancel_order"
    REFUND_ORDER = "refund_order"
    MODIFY_ORDER_ADDRESS = "modify_order_address"
    TRACKING = "tracking"
    # The cancel saga's first step and its compensation.
    HOLD_ORDER = "hold_order"
    RELEASE_ORDER = "release_order"
    # The demo store's own operations (DESIGN §4); other backends may lack them.
    MODIFY_ORDER_PAYMENT = "modify_order_payment"
    MODIFY_ORDER_ITEMS = "modify_order_items"
    RETURN_ORDER_ITEMS = "return_order_items"
    EXCHANGE_ORDER_ITEMS = "exchange_order_items"
    MODIFY_USER_ADDRESS = "modify_user_address"
    # Sales (issue 14): one-off discount codes the sales agent offers, and a checkout read
    # (what was left in it, whether it became an order).
    CREATE_DISCOUNT_CODE = "create_discount_code"
    GET_CHECKOUT = "get_checkout"


ALL_CAPABILITIES: frozenset[Capability] = frozenset(Capability)


@dataclass(frozen=True)
class DiscountSpec:
    """A discount code to create: ``percentage`` (value 1-100), ``fixed_amount`` (value in
    the store's currency) or ``free_shipping`` (value ignored), usable ``usage_limit`` times
    until ``expires_at``, by ``customer_id`` only when set. ``code`` None: the store picks."""

    kind: Literal["percentage", "fixed_amount", "free_shipping"]
    value: float
    expires_at: datetime
    usage_limit: int = 1
    customer_id: str | None = None
    code: str | None = None


class TrackingInfo(TypedDict):
    """One shipment: a tracking number, the items (variant ids) in it, and what the carrier
    says when the backend knows it (the demo store does not: ``None``)."""

    tracking_id: str
    item_ids: list[str]
    carrier: str | None
    url: str | None


@dataclass(frozen=True)
class OrderNaming:
    """How a backend names its orders (the ``order_id`` of its order documents): ``prefix``
    + number + ``suffix``, the number ``width`` digits wide when fixed, or counting up
    (``width`` None). Understanding reads order numbers in customers' messages this way and
    gives them to ``get_order`` in this form."""

    prefix: str = "#"
    suffix: str = ""
    width: int | None = None


# The demo store's orders: "#W" and 7 digits ("#W2611340").
DEMO_ORDER_NAMING = OrderNaming(prefix="#W", width=7)


class UnsupportedOperation(StoreRejected):
    """The backend behind this port cannot do the operation at all. Permanent."""

    default_status = 501


class BackendAuthError(StoreRejected):
    """The backend refused our credentials (401) or their scopes (403). Permanent: fix the
    tenant's integration settings; retrying cannot help."""

    default_status = 401


class StoreThrottled(StoreUnavailable):
    """Rate limited (HTTP 429, Shopify ``THROTTLED``). Transient; ``retry_after`` is the
    backend's estimate in seconds, when it gave one."""

    default_status = 429

    def __init__(
        self, detail: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status_code=status_code)
        self.retry_after = retry_after


@runtime_checkable
class StoreOperations(Protocol):
    """Reads and writes on orders and users. The demo ``StoreClient`` satisfies this as is."""

    async def get_order(self, order_id: str) -> Doc | None:
        """The order, or ``None`` when there is no such order."""
        ...

    async def get_user(self, user_id: str) -> Doc | None:
        """The user, or ``None`` when there is no such user."""
        ...

    async def find_users(
        self,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip: str | None = None,
        phone: str | None = None,
    ) -> list[Doc]:
        """Users matching ``email``, or ``first_name`` + ``last_name`` + ``zip``, or
        ``phone`` (case-insensitive, exact)."""
        ...

    async def find_user_by_phone(self, phone_e164: str) -> Doc | None:
        """The user whose account carries this phone number, or ``None`` when no account
        does, or several do (a shared number identifies no one). ``phone_e164`` is E.164
        (``+12015550123``); anything else raises ``StoreRejected`` (422) before the backend
        is asked (``store.phones.e164_or_reject``). A read under ``Capability.FIND_USERS``."""
        ...

    async def cancel_order(self, order_id: str, reason: str, idempotency_key: str) -> Doc:
        """Cancel the order, refunding what was paid to the original payment methods;
        ``reason`` is one of ``CANCEL_REASONS``. Returns the order afterwards."""
        ...

    async def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        amount: float | None = None,
        payment_method_id: str | None = None,
    ) -> Doc:
        """Refund ``amount`` (default: everything still outstanding) to the original methods,
        or only to ``payment_method_id``. Returns the order afterwards, with what this
        refund applied under ``REFUND_APPLIED`` (the store's own figure, in the order's
        currency; a replay of the same idempotency key reports the same) when known.

        On the demo store this is a step of the cancel saga and needs a hold first
        (``hold_order``); backends without holds refund directly."""
        ...

    async def modify_order_address(
        self, order_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        """Change the shipping address (``address1, address2, city, state, country, zip``)
        of an order not yet shipped. Returns the order afterwards."""
        ...


@runtime_checkable
class StorePort(StoreOperations, Protocol):
    """A commerce backend as agents see it: the operations, tracking, what it supports.

    The support procedures' writes beyond ``StoreOperations`` (hold/release for the cancel
    saga, payment and item changes, returns, exchanges, the user's default address) and
    ``get_product`` are part of the port too; a backend without one lists it not in
    ``capabilities`` and raises ``UnsupportedOperation`` when it is called anyway.
    """

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The operations this backend supports; others raise ``UnsupportedOperation``."""
        ...

    async def tracking(self, order_id: str) -> list[TrackingInfo] | None:
        """The order's shipments, or ``None`` when there is no such order."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...

    async def order_naming(self) -> OrderNaming:
        """How this backend names orders, for reading order numbers in messages. May read the
        backend (Shopify: the shop's order number prefix and suffix); a store error is
        raised like any read's."""
        ...

    async def get_product(self, product_id: str) -> Doc | None:
        """The product with its variants, or ``None``."""
        ...

    async def list_products(self) -> list[Doc]:
        """Every product with its variants, in the seed's product shape (``product_id``,
        ``name``, ``variants: {item_id: {item_id, options, ...}}``): the tenant's catalogue,
        read for item matching."""
        ...

    async def hold_order(
        self, order_id: str, idempotency_key: str, *, reason: str | None = None
    ) -> Doc:
        """Stop the order from being fulfilled (the cancel saga's first, reversible step)."""
        ...

    async def release_order(
        self, order_id: str, idempotency_key: str, hold_idempotency_key: str | None = None
    ) -> Doc:
        """Undo the hold made with ``hold_idempotency_key``; a no-op when it never applied."""
        ...

    async def modify_order_payment(
        self, order_id: str, payment_method_id: str, idempotency_key: str
    ) -> Doc: ...

    async def modify_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc: ...

    async def return_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str, idempotency_key: str
    ) -> Doc: ...

    async def exchange_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc: ...

    async def modify_user_address(
        self, user_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc: ...

    # --- sales (issue 14) -----------------------------------------------------------------

    async def create_discount_code(self, spec: DiscountSpec, idempotency_key: str) -> Doc:
        """Create a discount code (``Capability.CREATE_DISCOUNT_CODE``); the same key gives the
        same code back. Returns ``{"code", "kind", "value", "expires_at", "usage_limit",
        "customer_id"}`` (``expires_at`` ISO 8601 UTC)."""
        ...

    async def get_checkout(self, checkout_id: str) -> Doc | None:
        """The checkout (``Capability.GET_CHECKOUT``), or ``None``: ``{"id", "customer_id",
        "email", "phone", "line_items": [{"item_id", "product_id", "title", "quantity",
        "price"}], "total_price", "completed_order_id", "abandoned_checkout_url",
        "created_at"}``."""
        ...


def supports(port: StorePort, capability: Capability) -> bool:
    return capability in port.capabilities


def require(port: StorePort, *capabilities: Capability) -> None:
    """Refuse up front (``UnsupportedOperation``) what the backend cannot do."""
    missing = [c.value for c in capabilities if c not in port.capabilities]
    if missing:
        raise UnsupportedOperation(f"{type(port).__name__} does not support: {', '.join(missing)}")


def tracking_from_order(order: Mapping[str, Any]) -> list[TrackingInfo]:
    """Shipments from an order document's ``fulfillments`` (one entry per tracking number)."""
    found: list[TrackingInfo] = []
    for fulfillment in _dicts(order.get("fulfillments")):
        item_ids = [str(i) for i in fulfillment.get("item_ids") or []]
        for number in fulfillment.get("tracking_id") or []:
            found.append(
                TrackingInfo(
                    tracking_id=str(number),
                    item_ids=item_ids,
                    carrier=fulfillment.get("carrier"),
                    url=fulfillment.get("tracking_url"),
                )
            )
    return found


def _dicts(value: object) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, Mapping))
