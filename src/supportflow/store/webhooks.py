"""Reading a store's webhook: its signature, then its payload as a ``StoreEvent`` (issue 14).

Shopify signs each delivery with ``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw
request body, keyed by the app's secret; the demo store signs the same way. The payloads are
Shopify's REST webhook payloads (``checkouts/*``, ``orders/*``, ``fulfillments/*``); the demo
store sends the same shapes with string ids. Pure: no I/O, no framework.

Ids in the event are the store port's ids, so a caller can hand them straight to the port:

- ``customer_id``: the port's ``user_id``. Shopify's customer ids are numbers and the Shopify
  adapter names customers by GID (``gid://shopify/Customer/<id>``, the payload's
  ``admin_graphql_api_id``), so a numeric id becomes that GID; the demo store's user ids are
  strings and kept as they are.
- ``order_id``: the order's ``name`` (``#1001``), which the port's ``get_order`` reads. A
  fulfillment carries its own name, the order's name plus ``.<n>`` (``#1001.1``), which gives
  the order's; failing that a numeric ``order_id`` becomes the order's GID (a bare number is
  no order name the port could look up), a string one is kept.
- ``checkout_id``: the checkout's ``token`` (else its ``id``); an order's ``checkout_token``
  (else ``checkout_id``), so a checkout and the order placed from it carry the same id.
- variants and products: Shopify's numbers become GIDs (``ProductVariant`` / ``Product``), as
  in the Shopify adapter's catalogue and orders.

Errors never quote values from the payload (emails, phones and names are personal data):
``UnsupportedTopic`` for a topic this reader does not take, ``IgnoredEvent`` for a well-formed
event that means nothing to the sales agent (a completed checkout, a shipment not yet
delivered), ``UnusableEvent`` (a ``ValueError``) for a payload lacking what its kind needs or
with values of the wrong type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from supportflow.store.events import StoreEvent, StoreEventKind, StoreLineItem

_SHA256_BYTES = 32
_MAX_EVENT_ID = 100  # store_webhook_events.event_id is String(100)
_MAX_ID = 255
# Shopify: "the order name and the fulfillment number, separated by a '.'" (#1001.1).
_FULFILLMENT_NAME = re.compile(r"^(?P<order>.+)\.(?P<number>\d+)$")
_STATUS_WORD = re.compile(r"^[a-z_]{1,40}$")
_DEAD_FULFILLMENTS = frozenset({"cancelled", "error", "failure"})


class StoreEventError(Exception):
    """Base of what ``parse_store_event`` refuses; the message names fields, never values."""


class UnsupportedTopic(StoreEventError):
    """A topic this reader does not take (acknowledge it, do nothing)."""


class IgnoredEvent(StoreEventError):
    """A well-formed event that calls for nothing (a completed checkout, a shipment that is
    not delivered). ``reason`` is short and free of personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnusableEvent(StoreEventError, ValueError):
    """The payload lacks what its kind needs (a checkout or order id) or has values of the
    wrong type."""


def verify_store_hmac(secret: bytes, raw_body: bytes, header: str | None) -> bool:
    """Whether ``header`` is base64(HMAC-SHA256(secret, raw_body)), compared in constant time.
    A missing, empty or garbled header is ``False``, as is an empty secret."""
    if not secret or not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(given) != _SHA256_BYTES:
        return False
    expected = hmac.new(secret, raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def parse_store_event(
    topic: str, event_id: str, payload: Mapping[str, Any], *, received_at: datetime
) -> StoreEvent:
    """The event a webhook reports. ``topic`` is ``X-Shopify-Topic``, ``event_id``
    ``X-Shopify-Webhook-Id`` (the de-duplication key); ``received_at`` (timezone-aware) stands
    in for a payload that does not say when the event happened."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    name = topic.strip().lower() if isinstance(topic, str) else ""
    reader = _READERS.get(name)
    if reader is None:
        raise UnsupportedTopic(f"topic {_safe_word(name)} is not read")
    if not isinstance(event_id, str) or not event_id.strip():
        raise UnusableEvent("the webhook has no event id")
    if len(event_id.strip()) > _MAX_EVENT_ID:
        raise UnusableEvent(f"the event id is longer than {_MAX_EVENT_ID} characters")
    if not isinstance(payload, Mapping):
        raise UnusableEvent("the payload is not a JSON object")
    fields = reader(payload, received_at)
    return StoreEvent(event_id=event_id.strip(), topic=name, **fields)


# -- one reader per topic family -----------------------------------------------------------------


def _checkout(kind: StoreEventKind) -> Callable[[Mapping[str, Any], datetime], dict[str, Any]]:
    def read(payload: Mapping[str, Any], received_at: datetime) -> dict[str, Any]:
        if payload.get("completed_at"):
            raise IgnoredEvent("checkout completed")
        checkout_id = _first_id(payload, "token", "id")
        if checkout_id is None:
            raise UnusableEvent("the checkout has no token or id")
        return {
            "kind": kind,
            "occurred_at": _when(payload, received_at, "updated_at", "created_at"),
            "checkout_id": checkout_id,
            "abandoned_checkout_url": _text(payload, "abandoned_checkout_url"),
            **_buyer(payload),
            **_money(payload),
            "line_items": _line_items(payload),
            "discount_codes": _discount_codes(payload),
        }

    return read


def _order(kind: StoreEventKind) -> Callable[[Mapping[str, Any], datetime], dict[str, Any]]:
    def read(payload: Mapping[str, Any], received_at: datetime) -> dict[str, Any]:
        order_id = _text(payload, "name") or _gid_or_id(payload, "Order")
        if order_id is None:
            raise UnusableEvent("the order has no name or id")
        stamps = ("cancelled_at", "updated_at") if kind is StoreEventKind.ORDER_CANCELLED else ()
        return {
            "kind": kind,
            "occurred_at": _when(payload, received_at, *stamps, "created_at"),
            "order_id": order_id,
            "checkout_id": _first_id(payload, "checkout_token", "checkout_id"),
            **_buyer(payload),
            **_money(payload),
            "line_items": _line_items(payload),
            "discount_codes": _discount_codes(payload),
        }

    return read


def _fulfillment(payload: Mapping[str, Any], received_at: datetime) -> dict[str, Any]:
    status = _text(payload, "status")
    if status is not None and status.lower() in _DEAD_FULFILLMENTS:
        raise IgnoredEvent("fulfillment cancelled")
    shipment = _text(payload, "shipment_status")
    if shipment is None or shipment.lower() != "delivered":
        raise IgnoredEvent(f"shipment status {_safe_word((shipment or 'none').lower())}")
    order_id = _fulfillment_order_name(payload)
    if order_id is None:
        raise UnusableEvent("the fulfillment has no order id")
    return {
        "kind": StoreEventKind.ORDER_DELIVERED,
        "occurred_at": _when(payload, received_at, "updated_at", "created_at"),
        "order_id": order_id,
        "customer_id": _customer_id(payload),
        "email": _text(payload, "email"),
        "phone": _text(payload, "phone"),
    }


_READERS: dict[str, Callable[[Mapping[str, Any], datetime], dict[str, Any]]] = {
    "checkouts/create": _checkout(StoreEventKind.CHECKOUT_CREATED),
    "checkouts/update": _checkout(StoreEventKind.CHECKOUT_CREATED),
    "checkouts/abandoned": _checkout(StoreEventKind.CHECKOUT_ABANDONED),
    "orders/create": _order(StoreEventKind.ORDER_CREATED),
    "orders/cancelled": _order(StoreEventKind.ORDER_CANCELLED),
    "fulfillments/create": _fulfillment,
    "fulfillments/update": _fulfillment,
}
SUPPORTED_TOPICS: frozenset[str] = frozenset(_READERS)


# -- fields shared by checkouts and orders -------------------------------------------------------


def _buyer(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Who bought, how to reach them, and what they agreed to at checkout."""
    customer = _object(payload, "customer")
    sms_phone = _text(payload, "sms_marketing_phone")
    accepts_sms = _flag(payload, "buyer_accepts_sms_marketing")
    if accepts_sms is None and sms_phone is not None:
        # Shopify fills sms_marketing_phone only when the buyer opted in at checkout.
        accepts_sms = True
    if accepts_sms is None and customer is not None:
        accepts_sms = _consent_state(customer, "sms_marketing_consent")
    accepts_email = _flag(payload, "buyer_accepts_marketing")
    if accepts_email is None and customer is not None:
        accepts_email = _consent_state(customer, "email_marketing_consent")
    # The number the buyer opted in with first: an SMS goes to the number consent was given for.
    phone = sms_phone or _text(payload, "phone")
    email = _text(payload, "email") or _text(payload, "contact_email")
    if customer is not None:
        phone = phone or _text(customer, "phone")
        email = email or _text(customer, "email")
    return {
        "customer_id": _customer_id(payload),
        "email": email,
        "phone": phone,
        "accepts_email_marketing": accepts_email,
        "accepts_sms_marketing": accepts_sms,
    }


def _money(payload: Mapping[str, Any]) -> dict[str, Any]:
    currency = _text(payload, "currency")
    return {
        "total": _decimal(payload, "total_price"),
        "currency": currency.upper() if currency else None,
    }


def _line_items(payload: Mapping[str, Any]) -> list[StoreLineItem]:
    lines = payload.get("line_items")
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise UnusableEvent("line_items is not a list")
    items = []
    for index, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise UnusableEvent(f"line_items[{index}] is not an object")
        # The variant, as the port's item ids name variants; a line without one (a custom
        # item) is named by the line itself, and one with no id at all cannot be offered again.
        item_id = (
            _gid_or_id(line, "ProductVariant", key="variant_id", graphql_key=None)
            or _gid_or_id(line, "LineItem")
            or _text(line, "key")
        )
        if item_id is None:
            continue
        quantity = line.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise UnusableEvent(f"line_items[{index}].quantity is not a whole number")
        title = _text(line, "title") or _text(line, "name") or ""
        items.append(
            StoreLineItem(
                item_id=item_id,
                product_id=_gid_or_id(line, "Product", key="product_id", graphql_key=None),
                title=title,
                quantity=quantity,
                price=_decimal(line, "price", where=f"line_items[{index}].price") or Decimal(0),
            )
        )
    return items


def _discount_codes(payload: Mapping[str, Any]) -> list[str]:
    codes = payload.get("discount_codes")
    if codes is None:
        return []
    if not isinstance(codes, list):
        raise UnusableEvent("discount_codes is not a list")
    found = []
    for index, entry in enumerate(codes):
        code = entry.get("code") if isinstance(entry, Mapping) else entry
        if not isinstance(code, str):
            raise UnusableEvent(f"discount_codes[{index}] has no code")
        if code.strip():
            found.append(code.strip())
    return found


# -- ids -----------------------------------------------------------------------------------------


def _customer_id(payload: Mapping[str, Any]) -> str | None:
    customer = _object(payload, "customer")
    return None if customer is None else _gid_or_id(customer, "Customer")


def _fulfillment_order_name(payload: Mapping[str, Any]) -> str | None:
    name = _text(payload, "name")
    match = _FULFILLMENT_NAME.match(name) if name else None
    if match:
        return match["order"]
    return _gid_or_id(payload, "Order", key="order_id", graphql_key=None)


def _gid_or_id(
    payload: Mapping[str, Any],
    kind: str,
    *,
    key: str = "id",
    graphql_key: str | None = "admin_graphql_api_id",
) -> str | None:
    """A Shopify object's GID (``graphql_key``, else ``gid://shopify/<kind>/<number>``), or the
    demo store's string id as it is; ``None`` when absent."""
    prefix = f"gid://shopify/{kind}/"
    if graphql_key is not None:
        graphql_id = _text(payload, graphql_key)
        if graphql_id is not None and graphql_id.startswith(prefix):
            return graphql_id
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnusableEvent(f"{key} is not an id")
    if isinstance(value, int):
        return f"{prefix}{value}"
    return _bounded(value.strip(), key) or None


def _first_id(payload: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` present, as a string (Shopify's numbers, the demo store's text)."""
    for key in keys:
        value = payload.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise UnusableEvent(f"{key} is not an id")
        text = _bounded(str(value).strip(), key)
        if text:
            return text
    return None


def _bounded(value: str, key: str) -> str:
    if len(value) > _MAX_ID:
        raise UnusableEvent(f"{key} is longer than {_MAX_ID} characters")
    return value


# -- typed reads ---------------------------------------------------------------------------------


def _object(payload: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UnusableEvent(f"{key} is not an object")
    return value


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    """A string field, stripped; empty as ``None``."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnusableEvent(f"{key} is not text")
    return value.strip() or None


def _flag(payload: Mapping[str, Any], key: str) -> bool | None:
    value = payload.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise UnusableEvent(f"{key} is not true or false")


def _consent_state(customer: Mapping[str, Any], key: str) -> bool | None:
    """A Shopify customer's marketing consent (``{"state": "subscribed", ...}``): only the
    states that say yes or no count; pending, redacted and unknown ones say nothing."""
    consent = _object(customer, key)
    state = _text(consent, "state") if consent is not None else None
    return {"subscribed": True, "unsubscribed": False}.get((state or "").lower())


def _decimal(payload: Mapping[str, Any], key: str, *, where: str | None = None) -> Decimal | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UnusableEvent(f"{where or key} is not an amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise UnusableEvent(f"{where or key} is not an amount") from exc
    if not amount.is_finite():
        raise UnusableEvent(f"{where or key} is not an amount")
    return amount


def _when(payload: Mapping[str, Any], received_at: datetime, *keys: str) -> datetime:
    """The first timestamp of ``keys`` (ISO 8601; without an offset read as UTC), in UTC; the
    time of receipt when the payload has none."""
    for key in keys:
        value = _text(payload, key)
        if value is None:
            continue
        try:
            when = datetime.fromisoformat(value)
        except ValueError as exc:
            raise UnusableEvent(f"{key} is not an ISO 8601 time") from exc
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    return received_at.astimezone(UTC)


def _safe_word(value: str) -> str:
    """A topic or status fit for a message: a plain word, else a placeholder."""
    return value if _STATUS_WORD.match(value.replace("/", "_")) else "(unrecognised)"
