"""The store registry: each tenant gets the backend its connection names (the real demo store,
or Shopify / Stripe through their loopback stand-ins), cached for a short TTL, closed on exit;
a missing secret is a clear, permanent refusal, and the activities pass it on as one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from supportflow.activities.actions import ActionActivities
from supportflow.activities.contract import LoadCaseFactsInput, RefundOrderInput
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.adapters.shopify_stripe import ShopifyWithStripeRefunds
from supportflow.store.connection_store import StoreConnectionStore
from supportflow.store.errors import StoreRejected
from supportflow.store.registry import StoreConfigError, StoreRegistry
from supportflow.tenants.service import create_tenant
from tests.adapters.fake_shopify import SHOPIFY_TOKEN, ShopifyState
from tests.adapters.fake_stripe import STRIPE_KEY, StripeState

FAST_JOBS = {"job_poll_interval": 0.01, "job_poll_max_interval": 0.05, "job_timeout": 5}


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registry(
    sessions: sessionmaker[Session], store_url: str, environ: dict[str, str], clock: Clock
) -> StoreRegistry:
    return StoreRegistry(
        default_store_url=store_url,
        sessions=sessions,
        ttl=30,
        environ=environ,
        clock=clock,
        shopify_options=FAST_JOBS,
    )


def tenant(sessions: sessionmaker[Session], name: str, connection: dict[str, object] | None) -> str:
    tenant_id = create_tenant(sessions, name).tenant_id
    if connection is not None:
        StoreConnectionStore(sessions).put(tenant_id, connection)
    return tenant_id


async def test_each_tenant_gets_its_backend(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str
) -> None:
    plain = tenant(sessions, "Plain Shop", None)
    other_demo = tenant(sessions, "Other Demo", {"backend": "demo"})
    acme = tenant(
        sessions,
        "Acme",
        {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN_ACME"},
    )
    environ = {"SHOPIFY_TOKEN_ACME": SHOPIFY_TOKEN}
    async with registry(sessions, store_url, environ, Clock()) as reg:
        demo = await reg.port_for(plain)
        assert isinstance(demo, DemoStoreAdapter)
        assert await reg.port_for(other_demo) is demo  # one client per demo store URL
        assert (await demo.get_order("#W4817420") or {})["status"] == "delivered"
        shop = await reg.port_for(acme)
        assert isinstance(shop, ShopifyAdapter) and not isinstance(shop, DemoStoreAdapter)
        assert (await shop.get_order("#1001") or {})["order_id"] == "#1001"
        assert "get_product" not in {c.value for c in shop.capabilities}
    # Closed on exit: nothing can use them any more.
    assert demo._http.is_closed and shop._http.is_closed


async def test_a_missing_secret_is_a_clear_permanent_refusal(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str
) -> None:
    acme = tenant(
        sessions,
        "Acme",
        {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN_ACME"},
    )
    async with registry(sessions, store_url, {"UNRELATED": "x"}, Clock()) as reg:
        with pytest.raises(StoreConfigError, match=r"SHOPIFY_TOKEN_ACME.*not set") as caught:
            await reg.port_for(acme)
        assert isinstance(caught.value, StoreRejected)
        # The activities turn it into a non-retryable failure: the case goes to a person.
        actions = ActionActivities(reg)
        env = ActivityEnvironment()
        inp = RefundOrderInput(
            tenant_id=acme,
            store_user_id="u",
            order_id="#1001",
            idempotency_key="k",
            amount=None,
            payment_method_id=None,
        )
        with pytest.raises(ApplicationError) as failed:
            await env.run(actions.refund_order, inp)
        assert failed.value.non_retryable and failed.value.type == "StoreRejected"
        assert "SHOPIFY_TOKEN_ACME" in failed.value.message


async def test_a_changed_connection_or_secret_applies_after_the_ttl(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str
) -> None:
    shop = tenant(sessions, "Changing", None)
    clock = Clock()
    environ = {"SHOPIFY_TOKEN_CHANGING": SHOPIFY_TOKEN}
    async with registry(sessions, store_url, environ, clock) as reg:
        first = await reg.port_for(shop)
        assert isinstance(first, DemoStoreAdapter)
        StoreConnectionStore(sessions).put(
            shop, {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN_CHANGING"}
        )
        assert await reg.port_for(shop) is first  # cached for the TTL
        clock.now += 31
        second = await reg.port_for(shop)
        assert isinstance(second, ShopifyAdapter)
        clock.now += 31
        assert await reg.port_for(shop) is second  # same connection, same secret: kept
        environ["SHOPIFY_TOKEN_CHANGING"] = SHOPIFY_TOKEN + "rotated"
        clock.now += 31
        third = await reg.port_for(shop)
        assert third is not second and isinstance(third, ShopifyAdapter)
        assert not second._http.is_closed  # an activity may still be using it
    assert second._http.is_closed and third._http.is_closed


async def test_load_case_facts_reports_the_backends_capabilities(
    sessions: sessionmaker[Session],
    store_url: str,
    shopify_url: str,
    shopify_state: ShopifyState,
) -> None:
    acme = tenant(
        sessions,
        "Acme",
        {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN_ACME"},
    )
    plain = tenant(sessions, "Plain", None)
    environ = {"SHOPIFY_TOKEN_ACME": SHOPIFY_TOKEN}
    ava = shopify_state.by_name("#1001")["customer"]["id"]
    async with registry(sessions, store_url, environ, Clock()) as reg:
        env, actions = ActivityEnvironment(), ActionActivities(reg)
        facts = await env.run(
            actions.load_case_facts,
            LoadCaseFactsInput(tenant_id=acme, store_user_id=ava, order_id="#1001"),
        )
        assert facts.order is not None and facts.order.status == "pending"
        assert facts.capabilities is not None
        assert facts.supports("cancel_order") and facts.supports("hold_order")
        assert not facts.supports("return_order_items")
        demo_facts = await env.run(
            actions.load_case_facts,
            LoadCaseFactsInput(tenant_id=plain, store_user_id="sofia_rossi_8776"),
        )
        assert demo_facts.user is not None and demo_facts.capabilities is None  # everything


async def test_refunds_through_stripe_when_the_tenant_configured_it(
    sessions: sessionmaker[Session],
    store_url: str,
    shopify_url: str,
    shopify_state: ShopifyState,
    stripe_url: str,
    stripe_state: StripeState,
) -> None:
    acme = tenant(
        sessions,
        "Acme",
        {
            "backend": "shopify",
            "shop": shopify_url,
            "token_env": "SHOPIFY_TOKEN_ACME",
            "stripe": {
                "key_env": "STRIPE_KEY_ACME",
                "account_id": "acct_1AcmeTest",
                "api_base": stripe_url,
            },
        },
    )
    environ = {"SHOPIFY_TOKEN_ACME": SHOPIFY_TOKEN, "STRIPE_KEY_ACME": STRIPE_KEY}
    async with registry(sessions, store_url, environ, Clock()) as reg:
        port = await reg.port_for(acme)
        assert isinstance(port, ShopifyWithStripeRefunds)
        await port.refund_order("#1007", "wf/case/a1.refund")
        await port.refund_order("#1007", "wf/case/a1.refund")  # a retried step
        (refund,) = stripe_state.refunds.values()
        assert refund["payment_intent"] == "pi_3PaidFullyAAAA" and refund["amount"] == 5_000
        keys = {r["idempotency_key"] for r in stripe_state.requests}
        assert keys == {"wf/case/a1.refund:pi_3PaidFullyAAAA"}
        assert {r["stripe_account"] for r in stripe_state.requests} == {"acct_1AcmeTest"}
        assert shopify_state.mutations("refundCreate") == []  # Shopify did not refund too
        # Payments of other gateways are still refunded by Shopify.
        await port.refund_order("#1001", "wf/case/a2.refund")
        assert len(shopify_state.mutations("refundCreate")) == 1
