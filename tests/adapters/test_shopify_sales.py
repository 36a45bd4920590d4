"""ShopifyAdapter's sales calls against the fake Admin GraphQL API on loopback: discount codes,
checkout reads and webhook subscriptions (issue 14).

The fake (``fake_shopify``, a real uvicorn/FastAPI app) checks each operation's arguments as
the Admin API 2025-07 declares them and answers with Shopify's JSON and ``userErrors``; the
adapter code under test is the production code, talking real HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from supportflow.store.adapters.shopify import (
    SALES_WEBHOOK_TOPICS,
    SHOPIFY_CAPABILITIES,
    ShopifyAdapter,
    discount_code,
)
from supportflow.store.adapters.shopify_stripe import ShopifyWithStripeRefunds
from supportflow.store.adapters.stripe import StripeRefunds
from supportflow.store.errors import StoreRejected, StoreUnavailable
from supportflow.store.port import (
    BackendAuthError,
    Capability,
    DiscountSpec,
    StorePort,
    StoreThrottled,
    supports,
)
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState
from tests.adapters.fake_stripe import STRIPE_KEY

OPEN_TOKEN = "0123456789abcdef0456456789abcdef"  # seeded: still open
PAID_TOKEN = "fedcba9876543210fedcba9876543210"  # seeded: recovered into #1001
HOOK_URL = "https://supportflow.example/v1/webhooks/store/t_0a1b2c3d4e5f6a7b"


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def ava(state: ShopifyState) -> str:
    return str(state.by_name("#1001")["customer"]["id"])


# -- discount codes ----------------------------------------------------------------------------


async def test_percentage_code_for_one_customer(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    expires = in_days(3)
    spec = DiscountSpec("percentage", 10, expires, usage_limit=1, customer_id=ava(shopify_state))
    made = await shopify.create_discount_code(spec, "wf-sales-1:discount")
    assert made["code"] == discount_code("wf-sales-1:discount")
    assert made["code"].startswith("SF") and len(made["code"]) == 14
    assert (made["kind"], made["value"], made["usage_limit"]) == ("percentage", 10.0, 1)
    assert made["customer_id"] == ava(shopify_state)
    assert made["expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert made["external"]["id"].startswith("gid://shopify/DiscountCodeNode/")
    (sent,) = shopify_state.mutations("discountCodeBasicCreate")
    basic = sent["basicCodeDiscount"]
    assert basic["customerGets"] == {"value": {"percentage": 0.1}, "items": {"all": True}}
    assert basic["customerSelection"] == {"all": False, "customers": {"add": [ava(shopify_state)]}}
    assert basic["usageLimit"] == 1 and basic["appliesOncePerCustomer"] is True
    assert basic["title"].startswith("supportflow offer [supportflow:")
    assert "wf-sales-1" not in basic["title"]  # a hash of the key, not the workflow's name
    stored = shopify_state.discount(made["code"].lower())  # codes are case-insensitive
    assert stored is not None and stored["codeDiscount"]["status"] == "ACTIVE"


async def test_a_retried_call_creates_one_code(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    spec = DiscountSpec("percentage", 15, in_days(2), customer_id=ava(shopify_state))
    first = await shopify.create_discount_code(spec, "wf-sales-2:discount")
    again = await shopify.create_discount_code(spec, "wf-sales-2:discount")
    assert again == first
    assert len(shopify_state.mutations("discountCodeBasicCreate")) == 1
    assert len(shopify_state.discounts) == 1
    other = await shopify.create_discount_code(spec, "wf-sales-3:discount")
    assert other["code"] != first["code"]  # another key, another code
    assert len(shopify_state.discounts) == 2


async def test_a_create_whose_answer_was_lost_is_not_repeated(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.lose_response_of.add("discountCodeBasicCreate")
    spec = DiscountSpec("percentage", 10, in_days(1), customer_id=ava(shopify_state))
    with pytest.raises(StoreUnavailable):
        await shopify.create_discount_code(spec, "wf-sales-4:discount")
    # Shopify did create it; the retry (same key) finds its own code by its marker.
    made = await shopify.create_discount_code(spec, "wf-sales-4:discount")
    assert made["code"] == discount_code("wf-sales-4:discount")
    assert len(shopify_state.mutations("discountCodeBasicCreate")) == 1
    assert len(shopify_state.discounts) == 1


async def test_fixed_amount_with_its_own_code(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    customer_number = ava(shopify_state).rsplit("/", 1)[1]  # the port also takes the number
    spec = DiscountSpec(
        "fixed_amount", 5, in_days(7), usage_limit=2, customer_id=customer_number, code="COMEBACK5"
    )
    made = await shopify.create_discount_code(spec, "wf-sales-5:discount")
    assert (made["code"], made["kind"], made["value"]) == ("COMEBACK5", "fixed_amount", 5.0)
    assert made["usage_limit"] == 2 and made["customer_id"] == ava(shopify_state)
    (sent,) = shopify_state.mutations("discountCodeBasicCreate")
    assert sent["basicCodeDiscount"]["customerGets"]["value"] == {
        "discountAmount": {"amount": "5.00", "appliesOnEachItem": False}
    }


async def test_free_shipping_for_anyone(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    made = await shopify.create_discount_code(
        DiscountSpec("free_shipping", 0, in_days(5)), "wf-sales-6:discount"
    )
    assert (made["kind"], made["value"], made["customer_id"]) == ("free_shipping", 0.0, None)
    (sent,) = shopify_state.mutations("discountCodeFreeShippingCreate")
    shipping = sent["freeShippingCodeDiscount"]
    assert shipping["destination"] == {"all": True}
    assert shipping["customerSelection"] == {"all": True}
    assert "customerGets" not in shipping
    assert shopify_state.mutations("discountCodeBasicCreate") == []
    again = await shopify.create_discount_code(
        DiscountSpec("free_shipping", 0, in_days(5)), "wf-sales-6:discount"
    )
    assert again == made and len(shopify_state.mutations("discountCodeFreeShippingCreate")) == 1


async def test_someone_elses_code_is_refused(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    # The merchant's own WELCOME10 exists; an offer asking for that code must not take it over.
    await shopify.create_discount_code(
        DiscountSpec("percentage", 10, in_days(30), code="WELCOME10"), "merchant-made-it"
    )
    calls = len(shopify_state.mutations("discountCodeBasicCreate"))
    spec = DiscountSpec("percentage", 10, in_days(1), code="welcome10")
    with pytest.raises(StoreRejected, match="did not make") as caught:
        await shopify.create_discount_code(spec, "wf-sales-7:discount")
    assert caught.value.status_code == 409
    assert "WELCOME10" not in str(caught.value).upper()  # codes stay out of messages and logs
    assert len(shopify_state.mutations("discountCodeBasicCreate")) == calls


async def test_user_errors_are_rejections(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    gone = DiscountSpec("percentage", 10, in_days(1), customer_id="gid://shopify/Customer/1")
    with pytest.raises(StoreRejected, match="Customer does not exist") as caught:
        await shopify.create_discount_code(gone, "wf-sales-8:discount")
    assert caught.value.status_code == 422
    assert shopify_state.discounts == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (DiscountSpec("percentage", 0, in_days(1)), "between 1 and 100"),
        (DiscountSpec("percentage", 150, in_days(1)), "between 1 and 100"),
        (DiscountSpec("percentage", float("nan"), in_days(1)), "between 1 and 100"),
        (DiscountSpec("fixed_amount", -5, in_days(1)), "positive amount"),
        (DiscountSpec("percentage", 10, in_days(1), usage_limit=0), "at least 1"),
        (DiscountSpec("percentage", 10, in_days(-1)), "not in the future"),
        (DiscountSpec("percentage", 10, datetime(2099, 1, 1)), "timezone-aware"),
        (DiscountSpec("percentage", 10, in_days(1), customer_id="not-an-id"), "customer id"),
        (DiscountSpec("percentage", 10, in_days(1), code="TWO WORDS"), "without spaces"),
        (DiscountSpec("bogus", 10, in_days(1)), "kind must be"),  # type: ignore[arg-type]
    ],
)
async def test_specs_shopify_cannot_take_are_refused_before_any_call(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, spec: DiscountSpec, message: str
) -> None:
    with pytest.raises(StoreRejected, match=message) as caught:
        await shopify.create_discount_code(spec, "wf-sales-9:discount")
    assert caught.value.status_code == 422
    assert shopify_state.calls == []


@pytest.mark.parametrize(("status", "error"), [(429, StoreThrottled), (503, StoreUnavailable)])
async def test_throttling_and_5xx_are_transient(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, status: int, error: type[Exception]
) -> None:
    spec = DiscountSpec("percentage", 10, in_days(1))
    shopify_state.http_errors_next.append(status)
    with pytest.raises(error):
        await shopify.create_discount_code(spec, "wf-sales-10:discount")
    shopify_state.throttle_next = 1
    with pytest.raises(StoreThrottled) as caught:
        await shopify.create_discount_code(spec, "wf-sales-10:discount")
    assert caught.value.retry_after == pytest.approx(7.0)
    made = await shopify.create_discount_code(spec, "wf-sales-10:discount")  # the retry
    assert made["code"] == discount_code("wf-sales-10:discount")
    assert len(shopify_state.discounts) == 1


async def test_missing_discount_scope_is_an_auth_error(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.denied_fields.add("discountCodeBasicCreate")
    with pytest.raises(BackendAuthError, match="write_discounts"):
        await shopify.create_discount_code(
            DiscountSpec("percentage", 10, in_days(1)), "wf-sales-11:discount"
        )


# -- checkouts -----------------------------------------------------------------------------------


async def test_open_checkout_by_token(shopify: ShopifyAdapter, shopify_state: ShopifyState) -> None:
    checkout = await shopify.get_checkout(OPEN_TOKEN)
    assert checkout is not None
    assert checkout["id"] == OPEN_TOKEN  # the id asked for, as store events name it
    assert checkout["customer_id"] == ava(shopify_state)
    assert checkout["email"] == "ava.moore@example.com" and checkout["phone"] == "+15125550101"
    assert checkout["completed_order_id"] is None and checkout["completed_at"] is None
    assert checkout["total_price"] == pytest.approx(114.00)
    assert [(i["title"], i["quantity"], i["price"]) for i in checkout["line_items"]] == [
        ("Camp Stove", 1, 89.00),
        ("Trail Map", 2, 12.50),
    ]
    stove = next(
        v for v in shopify_state.catalogue.variants if v["product"]["title"] == "Camp Stove"
    )
    assert checkout["line_items"][0]["item_id"] == stove["id"]
    assert checkout["line_items"][0]["product_id"] == stove["product"]["id"]
    assert checkout["abandoned_checkout_url"].endswith(f"/checkouts/{OPEN_TOKEN}/recover?key=k0")
    assert checkout["created_at"] == "2025-07-13T18:00:00Z"
    # By token: the order placed from it (none), the newest checkouts' URLs, then the one by id.
    assert [name for name, _ in shopify_state.calls] == [
        "orders",
        "abandonedCheckouts",
        "abandonedCheckouts",
    ]
    number = checkout["external"]["id"].rsplit("/", 1)[1]
    assert shopify_state.calls[-1][1]["query"] == f"id:{number}"


async def test_checkout_by_gid_and_number(shopify: ShopifyAdapter) -> None:
    by_token = await shopify.get_checkout(OPEN_TOKEN)
    assert by_token is not None
    gid = by_token["external"]["id"]
    by_gid = await shopify.get_checkout(gid)
    by_number = await shopify.get_checkout(gid.rsplit("/", 1)[1])
    assert by_gid == {**by_token, "id": gid}
    assert by_number == {**by_token, "id": gid.rsplit("/", 1)[1]}


async def test_a_checkout_that_became_an_order(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    checkout = await shopify.get_checkout(PAID_TOKEN)
    assert checkout is not None
    assert checkout["completed_order_id"] == "#1001"
    assert checkout["total_price"] == pytest.approx(254.42)
    assert [i["title"] for i in checkout["line_items"]] == ["Electric Kettle", "Water Bottle"]
    assert [name for name, _ in shopify_state.calls] == ["orders"]  # one query answers it
    assert shopify_state.calls[0][1]["query"] == f"checkout_token:{PAID_TOKEN}"
    # Read by id, the recovered checkout finds its order through its recovery URL's token.
    gid = next(g for g, t in shopify_state.checkout_tokens.items() if t == PAID_TOKEN)
    by_id = await shopify.get_checkout(gid)
    assert by_id is not None
    assert by_id["completed_order_id"] == "#1001" and by_id["completed_at"] is not None


@pytest.mark.parametrize(
    "checkout_id",
    [
        "ffffffffffffffffffffffffffffffff",  # no such token
        "999999",  # no such id, nor token
        "gid://shopify/AbandonedCheckout/999999",
    ],
)
async def test_unknown_checkout_is_none(shopify: ShopifyAdapter, checkout_id: str) -> None:
    assert await shopify.get_checkout(checkout_id) is None


@pytest.mark.parametrize("checkout_id", ["", "two words", "x" * 101, 'a" OR status:open'])
async def test_what_cannot_be_a_checkout_is_none_without_a_call(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, checkout_id: str
) -> None:
    assert await shopify.get_checkout(checkout_id) is None
    assert shopify_state.calls == []


async def test_token_scan_is_bounded(shopify: ShopifyAdapter, shopify_state: ShopifyState) -> None:
    for n in range(5):  # newer checkouts push the open one back to the third page of two
        shopify_state.add_checkout(f"{n:032x}", None, [("Trail Map", "12.50", {}, 1)])
    shopify.checkout_scan_page = 2
    found = await shopify.get_checkout(OPEN_TOKEN)
    assert found is not None and found["id"] == OPEN_TOKEN
    shopify.checkout_scan_pages = 2
    assert await shopify.get_checkout(OPEN_TOKEN) is None  # older than the scan reaches
    guest = await shopify.get_checkout(f"{4:032x}")
    assert guest is not None and guest["customer_id"] is None and guest["email"] is None


@pytest.mark.parametrize(("status", "error"), [(429, StoreThrottled), (502, StoreUnavailable)])
async def test_checkout_read_failures_are_transient(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, status: int, error: type[Exception]
) -> None:
    shopify_state.http_errors_next.append(status)
    with pytest.raises(error):
        await shopify.get_checkout(OPEN_TOKEN)
    assert await shopify.get_checkout(OPEN_TOKEN) is not None


async def test_missing_checkout_scope_is_an_auth_error(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.denied_fields.add("abandonedCheckouts")
    with pytest.raises(BackendAuthError, match="read_orders"):
        await shopify.get_checkout(OPEN_TOKEN)


# -- webhook subscriptions -------------------------------------------------------------------------


async def test_subscribe_is_idempotent(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    ids = await shopify.subscribe_webhooks(HOOK_URL, SALES_WEBHOOK_TOPICS)
    assert len(ids) == 5 and len(set(ids)) == 5
    assert {
        (w["topic"], w["endpoint"]["callbackUrl"], w["format"]) for w in shopify_state.webhooks
    } == {(topic, HOOK_URL, "JSON") for topic in SALES_WEBHOOK_TOPICS}
    assert await shopify.subscribe_webhooks(HOOK_URL, SALES_WEBHOOK_TOPICS) == ids
    assert len(shopify_state.mutations("webhookSubscriptionCreate")) == 5
    assert len(shopify_state.webhooks) == 5


async def test_only_missing_topics_are_created(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    (orders,) = await shopify.subscribe_webhooks(HOOK_URL, ["orders/create"])
    # The same topic to another address (another deployment) is left alone.
    await shopify.subscribe_webhooks("https://old.example/hooks", ["CHECKOUTS_CREATE"])
    ids = await shopify.subscribe_webhooks(HOOK_URL, ["ORDERS_CREATE", "checkouts/create"])
    assert ids[0] == orders and ids[1] != orders
    assert [v["topic"] for v in shopify_state.mutations("webhookSubscriptionCreate")] == [
        "ORDERS_CREATE",
        "CHECKOUTS_CREATE",
        "CHECKOUTS_CREATE",
    ]
    assert len(shopify_state.webhooks) == 3


async def test_a_subscription_made_meanwhile_counts_as_done(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    original = shopify.graphql

    async def parallel_run_first(query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        if "webhookSubscriptionCreate(" in query and variables["topic"] == "ORDERS_CANCELLED":
            with shopify_state.lock:  # another worker subscribed it a moment ago
                shopify_state.webhooks.append(
                    {
                        "id": "gid://shopify/WebhookSubscription/7",
                        "topic": "ORDERS_CANCELLED",
                        "format": "JSON",
                        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": HOOK_URL},
                    }
                )
        return await original(query, variables)

    shopify.graphql = parallel_run_first  # type: ignore[method-assign]
    ids = await shopify.subscribe_webhooks(HOOK_URL, ["ORDERS_CREATE", "ORDERS_CANCELLED"])
    assert ids[1] == "gid://shopify/WebhookSubscription/7"
    assert len(shopify_state.webhooks) == 2


async def test_subscription_refusals(shopify: ShopifyAdapter, shopify_state: ShopifyState) -> None:
    with pytest.raises(StoreRejected, match="https"):
        await shopify.subscribe_webhooks("http://supportflow.example/hooks", SALES_WEBHOOK_TOPICS)
    with pytest.raises(StoreRejected, match="topic must be one of"):
        await shopify.subscribe_webhooks(HOOK_URL, ["PRODUCTS_UPDATE"])
    with pytest.raises(StoreRejected, match="no webhook topics"):
        await shopify.subscribe_webhooks(HOOK_URL, [])
    assert shopify_state.calls == []
    with pytest.raises(StoreRejected, match="internal domain") as caught:
        await shopify.subscribe_webhooks("https://localhost/hooks", ["ORDERS_CREATE"])
    assert caught.value.status_code == 422
    assert shopify_state.webhooks == []


async def test_subscribe_failures_are_transient(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    shopify_state.http_errors_next.append(503)
    with pytest.raises(StoreUnavailable):
        await shopify.subscribe_webhooks(HOOK_URL, SALES_WEBHOOK_TOPICS)
    shopify_state.lose_response_of.add("webhookSubscriptionCreate")
    with pytest.raises(StoreUnavailable):
        await shopify.subscribe_webhooks(HOOK_URL, SALES_WEBHOOK_TOPICS)
    ids = await shopify.subscribe_webhooks(HOOK_URL, SALES_WEBHOOK_TOPICS)  # the retry
    assert len(ids) == 5 and len(shopify_state.webhooks) == 5


# -- the port ------------------------------------------------------------------------------------


@pytest.fixture
async def shopify_stripe(shopify_url: str, stripe_url: str) -> AsyncIterator[ShopifyAdapter]:
    stripe = StripeRefunds(SecretStr(STRIPE_KEY), base_url=stripe_url)
    async with ShopifyWithStripeRefunds(
        shopify_url, SecretStr(SHOPIFY_TOKEN), stripe=stripe
    ) as adapter:
        yield adapter


async def test_sales_capabilities_on_both_shopify_ports(
    shopify: ShopifyAdapter, shopify_stripe: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    assert {Capability.CREATE_DISCOUNT_CODE, Capability.GET_CHECKOUT} <= SHOPIFY_CAPABILITIES
    for adapter in (shopify, shopify_stripe):
        port: StorePort = adapter  # mypy: ShopifyAdapter and the Stripe wrapper are StorePorts
        assert isinstance(port, StorePort)
        assert supports(port, Capability.CREATE_DISCOUNT_CODE)
        assert supports(port, Capability.GET_CHECKOUT)
    checkout = await shopify_stripe.get_checkout(OPEN_TOKEN)
    assert checkout is not None and checkout["customer_id"] == ava(shopify_state)
    made = await shopify_stripe.create_discount_code(
        DiscountSpec("percentage", 10, in_days(1)), "wf-sales-12:discount"
    )
    assert made["code"] == discount_code("wf-sales-12:discount")
