"""Reading store webhooks: Shopify's signature and payloads, and the demo store's.

Shopify payloads are the sample payloads of Shopify's webhook reference
(https://shopify.dev/docs/api/webhooks/2026-07, "checkouts/create", "orders/create",
"fulfillments/update"), trimmed to the fields the reader looks at plus a few it must ignore;
values are as published. The older reference (admin-rest "Webhook" resource, event topics)
shows the same checkout with its numeric ``"id": 981820079255243537`` as well, kept here too.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from supportflow.store.events import StoreEventKind
from supportflow.store.webhooks import (
    SUPPORTED_TOPICS,
    IgnoredEvent,
    UnsupportedTopic,
    UnusableEvent,
    parse_store_event,
    verify_store_hmac,
)

Doc = dict[str, Any]
RECEIVED = datetime(2025, 7, 14, 10, 0, tzinfo=UTC)
EVENT_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"

SHOPIFY_CHECKOUT: Doc = {
    "id": 981820079255243537,
    "token": "123123123",
    "cart_token": "eeafa272cebfd4b22385bc4b645e762c",
    "email": "example@email.com",
    "gateway": None,
    "buyer_accepts_marketing": False,
    "created_at": "2021-12-31T19:00:00-05:00",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "currency": "USD",
    "completed_at": None,
    "phone": None,
    "line_items": [
        {
            "key": "139cb5712fb4c8d9957dcfad9a3028da",
            "product_id": 632910392,
            "quantity": 1,
            "sku": "IPOD2008PINK",
            "title": "IPod Nano - 8GB",
            "variant_id": 808950810,
            "variant_title": "Pink",
            "line_price": "199.00",
            "price": "199.00",
        },
        {
            "key": "139cb5712fb4c8d9957dcfad9a3028da",
            "product_id": 632910392,
            "quantity": 1,
            "title": "IPod Nano - 8GB",
            "variant_id": 808950810,
            "price": "199.00",
        },
    ],
    "name": "#981820079255243537",
    "abandoned_checkout_url": "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token",
    "discount_codes": [],
    "buyer_accepts_sms_marketing": False,
    "sms_marketing_phone": None,
    "total_price": "421.88",
    "customer": {
        "id": 603851970716743426,
        "first_name": "John",
        "last_name": "Smith",
        "email": "john@example.com",
        "phone": None,
        "admin_graphql_api_id": "gid://shopify/Customer/603851970716743426",
    },
}

SHOPIFY_ORDER: Doc = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "buyer_accepts_marketing": True,
    "cancel_reason": "customer",
    "cancelled_at": "2021-12-31T19:00:00-05:00",
    "cart_token": None,
    "checkout_token": None,
    "contact_email": "jon@example.com",
    "created_at": "2021-12-31T19:00:00-05:00",
    "currency": "USD",
    "discount_codes": [],
    "email": "jon@example.com",
    "financial_status": "voided",
    "name": "#9999",
    "phone": None,
    "total_price": "404.95",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "customer": {
        "id": 115310627314723954,
        "email": "john@example.com",
        "phone": None,
        "admin_graphql_api_id": "gid://shopify/Customer/115310627314723954",
    },
    "line_items": [
        {
            "id": 487817672276298554,
            "admin_graphql_api_id": "gid://shopify/LineItem/487817672276298554",
            "name": "Aviator sunglasses",
            "price": "89.99",
            "product_id": 788032119674292922,
            "quantity": 1,
            "title": "Aviator sunglasses",
            "variant_id": None,
        },
        {
            "id": 789012345678901234,
            "admin_graphql_api_id": "gid://shopify/LineItem/789012345678901234",
            "price": "19.99",
            "product_id": None,
            "quantity": 1,
            "title": "Lens Protection Plan (2 Year)",
            "variant_id": None,
        },
    ],
}

SHOPIFY_FULFILLMENT: Doc = {
    "id": 123456,
    "order_id": 820982911946154508,
    "status": "pending",
    "created_at": "2021-12-31T19:00:00-05:00",
    "service": None,
    "updated_at": "2021-12-31T19:00:00-05:00",
    "tracking_company": "UPS",
    "shipment_status": None,
    "email": "jon@example.com",
    "tracking_number": "1z827wk74630",
    "name": "#9999.1",
    "admin_graphql_api_id": "gid://shopify/Fulfillment/123456",
}

# What the demo store sends (its payloads mirror Shopify's, with its own string ids).
DEMO_CUSTOMER = {
    "id": "mia_garcia_4516",
    "email": "mia.garcia@example.com",
    "phone": "+15125550188",
}
DEMO_LINES = [
    {
        "variant_id": "1586641416",
        "product_id": "8310926033",
        "title": "Water Bottle",
        "quantity": 2,
        "price": "12.50",
    }
]
DEMO_CHECKOUT: Doc = {
    "id": "co_5f1c2a",
    "token": "a3f0c1d2e4b5968778695a4b3c2d1e0f",
    "email": "mia.garcia@example.com",
    "phone": "+15125550188",
    "customer": DEMO_CUSTOMER,
    "buyer_accepts_marketing": True,
    "buyer_accepts_sms_marketing": False,
    "line_items": DEMO_LINES,
    "total_price": "25.00",
    "currency": "usd",
    "created_at": "2025-07-14T09:00:00Z",
    "updated_at": "2025-07-14T09:05:00Z",
    "completed_at": None,
    "abandoned_checkout_url": "http://127.0.0.1:8100/checkouts/co_5f1c2a/recover",
    "discount_codes": [{"code": "WELCOME10", "amount": "2.50", "type": "percentage"}],
}
DEMO_ORDER: Doc = {
    "id": "#W4821733",
    "name": "#W4821733",
    "email": "mia.garcia@example.com",
    "phone": "+15125550188",
    "customer": DEMO_CUSTOMER,
    "checkout_id": "co_5f1c2a",
    "checkout_token": "a3f0c1d2e4b5968778695a4b3c2d1e0f",
    "total_price": "22.50",
    "currency": "USD",
    "line_items": DEMO_LINES,
    "discount_codes": [{"code": "WELCOME10", "amount": "2.50", "type": "percentage"}],
    "financial_status": "paid",
    "created_at": "2025-07-14T09:30:00+00:00",
    "buyer_accepts_marketing": True,
}
DEMO_FULFILLMENT: Doc = {
    "id": "ful_1",
    "order_id": "#W4821733",
    "status": "success",
    "shipment_status": "delivered",
    "tracking_number": "1Z999AA10123456784",
    "email": "mia.garcia@example.com",
    "customer": {"id": "mia_garcia_4516"},
    "created_at": "2025-07-15T08:00:00Z",
    "updated_at": "2025-07-17T16:20:00Z",
}


def parse(topic: str, payload: Doc) -> Any:
    return parse_store_event(topic, EVENT_ID, payload, received_at=RECEIVED)


# -- signature ----------------------------------------------------------------------------------


def test_hmac_is_shopifys_base64_sha256_over_the_raw_body() -> None:
    body = b'{"id":981820079255243537,"token":"123123123"}'
    # Computed independently: printf '%s' BODY | openssl dgst -sha256 -hmac hush -binary | base64
    header = "P0M3XMPTtwSskhngXLY3elHJZ0+tT94TLNVzJxGRB/Q="
    assert verify_store_hmac(b"hush", body, header)
    assert verify_store_hmac(b"hush", body, f"  {header}\n")  # header whitespace is not signed


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        # tampered body: one digit changed, the same JSON re-serialised, a trailing newline
        (b"hush", b'{"id":981820079255243538,"token":"123123123"}', None),
        (b"hush", b'{"id": 981820079255243537, "token": "123123123"}', None),
        (b"hush", b'{"id":981820079255243537,"token":"123123123"}\n', None),
        # the wrong secret, no secret
        (b"hush!", b'{"id":981820079255243537,"token":"123123123"}', None),
        (b"", b'{"id":981820079255243537,"token":"123123123"}', None),
    ],
)
def test_hmac_refuses_anything_else(secret: bytes, body: bytes, header: str | None) -> None:
    assert not verify_store_hmac(
        secret, body, header or "P0M3XMPTtwSskhngXLY3elHJZ0+tT94TLNVzJxGRB/Q="
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "not base64 at all!",
        "P0M3XMPTtwSskhngXLY3elHJZ0+tT94TLNVzJxGRB/Q",  # padding cut off
        "P0M3XMPTtwSskhngXLY3elHJZ0+tT94TLNVzJxGRB/Q=AAAA",  # too long
        "c2hvcnQ=",  # valid base64, not a SHA-256 digest
        "P0M3XMPTtwSskhngXLY3elHJZ0-tT94TLNVzJxGRB_Q=",  # URL-safe alphabet: not Shopify's
    ],
)
def test_missing_or_garbled_header_is_false(header: str | None) -> None:
    body = b'{"id":981820079255243537,"token":"123123123"}'
    assert not verify_store_hmac(b"hush", body, header)


def test_hmac_round_trip_over_a_real_payload() -> None:
    import base64
    import hashlib
    import hmac

    secret = b"shpss_0123456789abcdef"
    body = json.dumps(SHOPIFY_CHECKOUT).encode()
    header = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    assert verify_store_hmac(secret, body, header)
    assert not verify_store_hmac(secret, body.replace(b"421.88", b"0.01"), header)


# -- Shopify's payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update", "Checkouts/Create "])
def test_shopify_checkout(topic: str) -> None:
    event = parse(topic, SHOPIFY_CHECKOUT)
    assert event.kind is StoreEventKind.CHECKOUT_CREATED
    assert event.topic == topic.strip().lower()
    assert event.event_id == EVENT_ID
    assert event.checkout_id == "123123123"  # the token, as an order names its checkout
    assert event.customer_id == "gid://shopify/Customer/603851970716743426"  # the port's user_id
    assert event.email == "example@email.com" and event.phone is None
    assert event.total == Decimal("421.88") and event.currency == "USD"
    assert event.accepts_email_marketing is False and event.accepts_sms_marketing is False
    assert event.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert event.abandoned_checkout_url is not None
    assert event.abandoned_checkout_url.endswith(
        "/checkouts/123123123/recover?key=example-secret-token"
    )
    assert [(i.item_id, i.product_id, i.quantity, i.price) for i in event.line_items] == [
        (
            "gid://shopify/ProductVariant/808950810",
            "gid://shopify/Product/632910392",
            1,
            Decimal("199.00"),
        )
    ] * 2
    assert event.line_items[0].title == "IPod Nano - 8GB"
    assert event.discount_codes == [] and event.order_id is None


def test_shopify_checkout_of_the_current_reference_has_only_a_token() -> None:
    # The 2026-07 sample has no numeric "id" any more; the token is the checkout's id.
    payload = {k: v for k, v in SHOPIFY_CHECKOUT.items() if k != "id"}
    assert parse("checkouts/create", payload).checkout_id == "123123123"
    # And a checkout with only an id (no token) is named by the id.
    only_id = {k: v for k, v in SHOPIFY_CHECKOUT.items() if k != "token"}
    assert parse("checkouts/update", only_id).checkout_id == "981820079255243537"


def test_shopify_sms_consent_from_the_opt_in_phone() -> None:
    payload = {
        **SHOPIFY_CHECKOUT,
        "buyer_accepts_sms_marketing": None,
        "sms_marketing_phone": "+16135550135",
        "phone": "+16135550199",
    }
    event = parse("checkouts/create", payload)
    assert event.accepts_sms_marketing is True
    assert event.phone == "+16135550135"  # the number consent was given for
    # Without checkout-level answers, the customer's own consent states count.
    bare = {
        **SHOPIFY_CHECKOUT,
        "buyer_accepts_marketing": None,
        "buyer_accepts_sms_marketing": None,
        "customer": {
            **SHOPIFY_CHECKOUT["customer"],
            "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
            "sms_marketing_consent": {"state": "pending", "opt_in_level": "confirmed_opt_in"},
        },
    }
    event = parse("checkouts/create", bare)
    assert event.accepts_email_marketing is True
    assert event.accepts_sms_marketing is None  # pending says nothing yet
    unsubscribed = copy.deepcopy(bare)
    unsubscribed["customer"]["sms_marketing_consent"]["state"] = "unsubscribed"
    assert parse("checkouts/create", unsubscribed).accepts_sms_marketing is False


def test_completed_checkout_is_ignored() -> None:
    with pytest.raises(IgnoredEvent, match="checkout completed") as caught:
        parse("checkouts/update", {**SHOPIFY_CHECKOUT, "completed_at": "2022-01-01T10:00:00-05:00"})
    assert caught.value.reason == "checkout completed"


def test_shopify_order_created_and_cancelled() -> None:
    created = parse("orders/create", SHOPIFY_ORDER)
    assert created.kind is StoreEventKind.ORDER_CREATED
    assert created.order_id == "#9999"  # the name, as the port names orders
    assert created.checkout_id is None  # an order placed without a checkout (sample: nulls)
    assert created.customer_id == "gid://shopify/Customer/115310627314723954"
    assert created.email == "jon@example.com"
    assert created.total == Decimal("404.95") and created.currency == "USD"
    assert created.accepts_email_marketing is True and created.accepts_sms_marketing is None
    assert created.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    # Lines without a variant (a custom item, a plan) are named by the line.
    assert [i.item_id for i in created.line_items] == [
        "gid://shopify/LineItem/487817672276298554",
        "gid://shopify/LineItem/789012345678901234",
    ]
    assert created.line_items[0].product_id == "gid://shopify/Product/788032119674292922"
    assert created.line_items[1].product_id is None
    cancelled = parse("orders/cancelled", SHOPIFY_ORDER)
    assert cancelled.kind is StoreEventKind.ORDER_CANCELLED and cancelled.order_id == "#9999"
    # An order placed from a checkout carries the checkout's token.
    from_checkout = {
        **SHOPIFY_ORDER,
        "checkout_token": "123123123",
        "checkout_id": 981820079255243537,
    }
    assert parse("orders/create", from_checkout).checkout_id == "123123123"


def test_shopify_order_without_a_name_is_named_by_its_gid() -> None:
    payload = {k: v for k, v in SHOPIFY_ORDER.items() if k != "name"}
    assert parse("orders/create", payload).order_id == "gid://shopify/Order/820982911946154508"


def test_shopify_fulfillment_delivered() -> None:
    delivered = {**SHOPIFY_FULFILLMENT, "status": "success", "shipment_status": "delivered"}
    event = parse("fulfillments/update", delivered)
    assert event.kind is StoreEventKind.ORDER_DELIVERED
    assert event.order_id == "#9999"  # from the fulfillment's name "#9999.1"
    assert event.customer_id is None  # Shopify's fulfillment payload has no customer
    assert event.email == "jon@example.com"
    assert parse("fulfillments/create", delivered).kind is StoreEventKind.ORDER_DELIVERED
    # Without its name, the numeric order id becomes the order's GID (get_order reads GIDs).
    nameless = {k: v for k, v in delivered.items() if k != "name"}
    assert (
        parse("fulfillments/update", nameless).order_id == "gid://shopify/Order/820982911946154508"
    )


@pytest.mark.parametrize(
    ("status", "shipment", "reason"),
    [
        ("pending", None, "shipment status none"),  # the published sample as it is
        ("success", "in_transit", "shipment status in_transit"),
        ("success", "out_for_delivery", "shipment status out_for_delivery"),
        ("success", "Delivered <script>", "shipment status (unrecognised)"),
        ("cancelled", "delivered", "fulfillment cancelled"),
    ],
)
def test_fulfillment_not_delivered_is_ignored(
    status: str, shipment: str | None, reason: str
) -> None:
    payload = {**SHOPIFY_FULFILLMENT, "status": status, "shipment_status": shipment}
    with pytest.raises(IgnoredEvent) as caught:
        parse("fulfillments/update", payload)
    assert caught.value.reason == reason


# -- the demo store's payloads -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("checkouts/create", StoreEventKind.CHECKOUT_CREATED),
        ("checkouts/abandoned", StoreEventKind.CHECKOUT_ABANDONED),
    ],
)
def test_demo_checkout(topic: str, kind: StoreEventKind) -> None:
    event = parse(topic, DEMO_CHECKOUT)
    assert event.kind is kind
    assert event.checkout_id == "a3f0c1d2e4b5968778695a4b3c2d1e0f"
    assert event.customer_id == "mia_garcia_4516"
    assert event.email == "mia.garcia@example.com" and event.phone == "+15125550188"
    assert event.accepts_email_marketing is True and event.accepts_sms_marketing is False
    assert event.total == Decimal("25.00") and event.currency == "USD"
    assert event.occurred_at == datetime(2025, 7, 14, 9, 5, tzinfo=UTC)
    (line,) = event.line_items
    assert (line.item_id, line.product_id, line.title, line.quantity, line.price) == (
        "1586641416",
        "8310926033",
        "Water Bottle",
        2,
        Decimal("12.50"),
    )
    assert event.discount_codes == ["WELCOME10"]
    assert event.abandoned_checkout_url == "http://127.0.0.1:8100/checkouts/co_5f1c2a/recover"


def test_demo_order_names_its_checkout_as_the_checkout_event_does() -> None:
    checkout = parse("checkouts/abandoned", DEMO_CHECKOUT)
    order = parse("orders/create", DEMO_ORDER)
    assert order.kind is StoreEventKind.ORDER_CREATED
    assert order.order_id == "#W4821733"
    assert order.checkout_id == checkout.checkout_id
    assert order.customer_id == "mia_garcia_4516"
    assert order.total == Decimal("22.50") and order.discount_codes == ["WELCOME10"]
    cancelled = parse(
        "orders/cancelled",
        {**DEMO_ORDER, "cancelled_at": "2025-07-14T11:00:00Z", "cancel_reason": "customer"},
    )
    assert cancelled.kind is StoreEventKind.ORDER_CANCELLED
    assert cancelled.occurred_at == datetime(2025, 7, 14, 11, 0, tzinfo=UTC)


def test_demo_fulfillment_delivered() -> None:
    event = parse("fulfillments/update", DEMO_FULFILLMENT)
    assert event.kind is StoreEventKind.ORDER_DELIVERED
    assert event.order_id == "#W4821733" and event.customer_id == "mia_garcia_4516"
    assert event.occurred_at == datetime(2025, 7, 17, 16, 20, tzinfo=UTC)


def test_missing_times_are_the_time_of_receipt() -> None:
    payload = {k: v for k, v in DEMO_CHECKOUT.items() if k not in ("created_at", "updated_at")}
    assert parse("checkouts/create", payload).occurred_at == RECEIVED


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["checkouts/delete", "orders/updated", "carts/create", "", "x" * 300]
)
def test_unsupported_topic(topic: str) -> None:
    assert topic.strip().lower() not in SUPPORTED_TOPICS
    with pytest.raises(UnsupportedTopic):
        parse(topic, DEMO_CHECKOUT)


@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        ("checkouts/create", {**DEMO_CHECKOUT, "id": None, "token": None}, "no token or id"),
        ("checkouts/create", {**DEMO_CHECKOUT, "id": "", "token": ""}, "no token or id"),
        ("orders/create", {**DEMO_ORDER, "id": None, "name": None}, "no name or id"),
        ("fulfillments/update", {**DEMO_FULFILLMENT, "order_id": None}, "no order id"),
        ("checkouts/create", {**DEMO_CHECKOUT, "token": ["a"]}, "token is not an id"),
        ("checkouts/create", {**DEMO_CHECKOUT, "token": True}, "token is not an id"),
        ("orders/create", {**DEMO_ORDER, "name": 1001}, "name is not text"),
        ("orders/create", {**DEMO_ORDER, "customer": "mia"}, "customer is not an object"),
        ("orders/create", {**DEMO_ORDER, "customer": {"id": 1.5}}, "id is not an id"),
        ("orders/create", {**DEMO_ORDER, "total_price": "a lot"}, "total_price is not an amount"),
        ("orders/create", {**DEMO_ORDER, "total_price": "NaN"}, "total_price is not an amount"),
        ("orders/create", {**DEMO_ORDER, "total_price": True}, "total_price is not an amount"),
        ("orders/create", {**DEMO_ORDER, "email": 42}, "email is not text"),
        ("orders/create", {**DEMO_ORDER, "buyer_accepts_marketing": "yes"}, "not true or false"),
        ("orders/create", {**DEMO_ORDER, "line_items": {"a": 1}}, "line_items is not a list"),
        ("orders/create", {**DEMO_ORDER, "line_items": ["x"]}, r"line_items\[0\] is not an object"),
        (
            "orders/create",
            {**DEMO_ORDER, "line_items": [{**DEMO_LINES[0], "quantity": "2"}]},
            r"line_items\[0\]\.quantity",
        ),
        (
            "orders/create",
            {**DEMO_ORDER, "line_items": [{**DEMO_LINES[0], "price": "twelve"}]},
            r"line_items\[0\]\.price is not an amount",
        ),
        (
            "orders/create",
            {**DEMO_ORDER, "discount_codes": "WELCOME10"},
            "discount_codes is not a list",
        ),
        ("orders/create", {**DEMO_ORDER, "discount_codes": [{"amount": "1"}]}, "has no code"),
        ("orders/create", {**DEMO_ORDER, "created_at": "yesterday"}, "created_at is not an ISO"),
        ("checkouts/create", {**DEMO_CHECKOUT, "token": "t" * 300}, "longer than"),
    ],
)
def test_unusable_payloads(topic: str, payload: Doc, message: str) -> None:
    with pytest.raises(UnusableEvent, match=message) as caught:
        parse(topic, payload)
    assert isinstance(caught.value, ValueError)
    # Messages name fields, never values: no email, phone or name leaks into logs.
    for secret in ("mia", "garcia", "example.com", "+1512", "twelve", "yesterday", "a lot"):
        assert secret not in str(caught.value).lower()


def test_unusable_envelope() -> None:
    with pytest.raises(UnusableEvent, match="no event id"):
        parse_store_event("orders/create", "  ", DEMO_ORDER, received_at=RECEIVED)
    with pytest.raises(UnusableEvent, match="longer than 100"):
        parse_store_event("orders/create", "e" * 101, DEMO_ORDER, received_at=RECEIVED)
    with pytest.raises(UnusableEvent, match="not a JSON object"):
        parse_store_event("orders/create", EVENT_ID, [DEMO_ORDER], received_at=RECEIVED)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_store_event("orders/create", EVENT_ID, DEMO_ORDER, received_at=datetime(2025, 7, 14))


def test_parsing_changes_nothing() -> None:
    payload = copy.deepcopy(SHOPIFY_CHECKOUT)
    parse("checkouts/create", payload)
    assert payload == SHOPIFY_CHECKOUT
