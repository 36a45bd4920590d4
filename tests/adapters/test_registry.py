"""The store registry: each tenant gets the backend its connection names (the real demo store,
or Shopify / Stripe through their loopback stand-ins), cached for a short TTL, closed on exit;
a missing secret, a missing connection or a variable outside the tenant's namespace is a
clear, permanent refusal, and the activities pass it on as one."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from supportflow.activities.actions import ActionActivities
from supportflow.activities.contract import LoadCaseFactsInput, RefundOrderInput
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.stack.demo_tenant import DEMO_TENANT_NAME, ensure_demo_tenant
from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.adapters.shopify_stripe import ShopifyWithStripeRefunds
from supportflow.store.connection import (
    DEFAULT_CONNECTION,
    StoreConnectionError,
    tenant_env_name,
)
from supportflow.store.connection_store import StoreConnectionStore, TenantStoreConnectionRow
from supportflow.store.errors import StoreRejected
from supportflow.store.port import REFUND_APPLIED
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
    sessions: sessionmaker[Session],
    store_url: str,
    environ: dict[str, str],
    clock: Clock,
    demo_store_tenants: Collection[str] = (),
) -> StoreRegistry:
    return StoreRegistry(
        default_store_url=store_url,
        sessions=sessions,
        ttl=30,
        environ=environ,
        clock=clock,
        shopify_options=FAST_JOBS,
        demo_store_tenants=demo_store_tenants,
    )


def tenant(sessions: sessionmaker[Session], name: str, connection: dict[str, object] | None) -> str:
    """A tenant with this connection; ``token_env`` and ``stripe.key_env`` are given as the
    part after the tenant's namespace (``SHOPIFY_TOKEN``)."""
    tenant_id = create_tenant(sessions, name).tenant_id
    if connection is not None:
        StoreConnectionStore(sessions).put(tenant_id, namespaced(tenant_id, connection))
    return tenant_id


def namespaced(tenant_id: str, connection: dict[str, object]) -> dict[str, object]:
    doc = dict(connection)
    if isinstance(doc.get("token_env"), str):
        doc["token_env"] = tenant_env_name(tenant_id, str(doc["token_env"]))
    stripe = doc.get("stripe")
    if isinstance(stripe, dict):
        doc["stripe"] = {**stripe, "key_env": tenant_env_name(tenant_id, stripe["key_env"])}
    return doc


async def test_each_tenant_gets_its_backend(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str
) -> None:
    plain = tenant(sessions, "Plain Shop", {"backend": "demo"})
    other_demo = tenant(sessions, "Other Demo", {"backend": "demo"})
    acme = tenant(
        sessions,
        "Acme",
        {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN"},
    )
    environ = {tenant_env_name(acme, "SHOPIFY_TOKEN"): SHOPIFY_TOKEN}
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
        {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN"},
    )
    async with registry(sessions, store_url, {"UNRELATED": "x"}, Clock()) as reg:
        with pytest.raises(StoreConfigError, match=r"_SHOPIFY_TOKEN.*not set") as caught:
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
        assert tenant_env_name(acme, "SHOPIFY_TOKEN") in failed.value.message


async def test_a_changed_connection_or_secret_applies_after_the_ttl(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str
) -> None:
    shop = tenant(sessions, "Changing", {"backend": "demo"})
    clock = Clock()
    token_env = tenant_env_name(shop, "SHOPIFY_TOKEN")
    environ = {token_env: SHOPIFY_TOKEN}
    async with registry(sessions, store_url, environ, clock) as reg:
        first = await reg.port_for(shop)
        assert isinstance(first, DemoStoreAdapter)
        StoreConnectionStore(sessions).put(
            shop, {"backend": "shopify", "shop": shopify_url, "token_env": token_env}
        )
        assert await reg.port_for(shop) is first  # cached for the TTL
        clock.now += 31
        second = await reg.port_for(shop)
        assert isinstance(second, ShopifyAdapter)
        clock.now += 31
        assert await reg.port_for(shop) is second  # same connection, same secret: kept
        environ[token_env] = SHOPIFY_TOKEN + "rotated"
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
        {"backend": "shopify", "shop": shopify_url, "token_env": "SHOPIFY_TOKEN"},
    )
    plain = tenant(sessions, "Plain", {"backend": "demo"})
    environ = {tenant_env_name(acme, "SHOPIFY_TOKEN"): SHOPIFY_TOKEN}
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
            "token_env": "SHOPIFY_TOKEN",
            "stripe": {
                "key_env": "STRIPE_KEY",
                "account_id": "acct_1AcmeTest",
                "api_base": stripe_url,
            },
        },
    )
    environ = {
        tenant_env_name(acme, "SHOPIFY_TOKEN"): SHOPIFY_TOKEN,
        tenant_env_name(acme, "STRIPE_KEY"): STRIPE_KEY,
    }
    async with registry(sessions, store_url, environ, Clock()) as reg:
        port = await reg.port_for(acme)
        assert isinstance(port, ShopifyWithStripeRefunds)
        first = await port.refund_order("#1007", "wf/case/a1.refund")
        again = await port.refund_order("#1007", "wf/case/a1.refund")  # a retried step
        # What Stripe refunded, reported with the order (the retry: Stripe's same answer).
        assert first[REFUND_APPLIED] == again[REFUND_APPLIED] == 50.0
        (refund,) = stripe_state.refunds.values()
        assert refund["payment_intent"] == "pi_3PaidFullyAAAA" and refund["amount"] == 5_000
        keys = {r["idempotency_key"] for r in stripe_state.requests}
        assert keys == {"wf/case/a1.refund:pi_3PaidFullyAAAA"}
        assert {r["stripe_account"] for r in stripe_state.requests} == {"acct_1AcmeTest"}
        assert shopify_state.mutations("refundCreate") == []  # Shopify did not refund too
        # Payments of other gateways are still refunded by Shopify.
        by_shopify = await port.refund_order("#1001", "wf/case/a2.refund")
        assert len(shopify_state.mutations("refundCreate")) == 1
        assert by_shopify[REFUND_APPLIED] > 0


# --- Store isolation (issue 9, found problem 9) ---------------------------------------------


async def test_a_tenant_without_a_connection_has_no_store(
    sessions: sessionmaker[Session], store_url: str
) -> None:
    """Not the operator's demo store: a clear refusal, permanent, that the activities pass on
    as a non-retryable StoreRejected (the customer hears "can't reach our order system")."""
    stranger = tenant(sessions, "Stranger", None)
    async with registry(sessions, store_url, {}, Clock()) as reg:
        with pytest.raises(StoreConfigError, match="has no store connection") as caught:
            await reg.port_for(stranger)
        assert isinstance(caught.value, StoreRejected)
        env = ActivityEnvironment()
        with pytest.raises(ApplicationError) as failed:
            await env.run(
                ActionActivities(reg).load_case_facts,
                LoadCaseFactsInput(tenant_id=stranger, store_user_id="sofia_rossi_8776"),
            )
        assert failed.value.non_retryable and failed.value.type == "StoreRejected"
        assert "has no store connection" in failed.value.message
        # A literal id with no tenant row at all (a workflow's input) is refused the same way.
        with pytest.raises(StoreConfigError, match="has no store connection"):
            await reg.port_for("t_not_a_tenant")


async def test_the_operator_may_allow_the_demo_store_without_a_connection(
    sessions: sessionmaker[Session], store_url: str
) -> None:
    allowed, other = tenant(sessions, "Allowed", None), tenant(sessions, "Other", None)
    async with registry(sessions, store_url, {}, Clock(), demo_store_tenants=[allowed]) as reg:
        assert isinstance(await reg.port_for(allowed), DemoStoreAdapter)
        with pytest.raises(StoreConfigError, match="has no store connection"):
            await reg.port_for(other)
    async with registry(sessions, store_url, {}, Clock(), demo_store_tenants=["*"]) as reg:
        assert isinstance(await reg.port_for(other), DemoStoreAdapter)


async def test_a_connection_cannot_name_variables_outside_its_namespace(
    sessions: sessionmaker[Session], store_url: str, shopify_url: str
) -> None:
    """Another tenant's token, the app's own secrets, or any variable at all: refused by name,
    with one message whether or not the variable exists."""
    acme = tenant(sessions, "Acme", {"backend": "shopify", "shop": shopify_url, "token_env": "T"})
    thief = tenant(sessions, "Thief", None)
    store = StoreConnectionStore(sessions)
    messages = set()
    for name in (tenant_env_name(acme, "T"), "HOME", "NO_SUCH_VARIABLE_ANYWHERE"):
        doc = {"backend": "shopify", "shop": shopify_url, "token_env": name}
        with pytest.raises(StoreConnectionError) as refused:
            store.put(thief, doc)
        messages.add(str(refused.value).replace(name, "<name>"))
    assert len(messages) == 1, messages
    (message,) = messages
    assert tenant_env_name(thief, "") in message
    assert store.get(thief) is None  # nothing was saved
    # A row stored before namespaces (or written around the API) is refused when loaded,
    # before any variable is read.
    legacy = {"backend": "shopify", "shop": shopify_url, "token_env": tenant_env_name(acme, "T")}
    with sessions.begin() as s:
        s.add(TenantStoreConnectionRow(tenant_id=thief, document=json.dumps(legacy)))
    environ = {tenant_env_name(acme, "T"): SHOPIFY_TOKEN}
    async with registry(sessions, store_url, environ, Clock()) as reg:
        with pytest.raises(StoreConfigError, match="own namespace"):
            await reg.port_for(thief)
        assert isinstance(await reg.port_for(acme), ShopifyAdapter)


async def test_up_marks_its_demo_tenant_and_only_it(
    sessions: sessionmaker[Session], store_url: str, tmp_path: Path
) -> None:
    """`supportflow up`'s demo tenant gets the demo store by a stored connection (not by its
    name), also in a data dir made before store isolation."""
    keys = ensure_demo_tenant(sessions, tmp_path)
    demo = keys["tenant_id"]
    assert StoreConnectionStore(sessions).get(demo) == DEFAULT_CONNECTION
    # A tenant with the same name is not the demo tenant.
    impostor = tenant(sessions, DEMO_TENANT_NAME, None)
    async with registry(sessions, store_url, {}, Clock()) as reg:
        assert isinstance(await reg.port_for(demo), DemoStoreAdapter)
        with pytest.raises(StoreConfigError, match="has no store connection"):
            await reg.port_for(impostor)
    # An older data dir: keys file present, no connection row. The next start adds it, and
    # never replaces a connection the operator set.
    with sessions.begin() as s:
        s.delete(s.get(TenantStoreConnectionRow, demo))
    assert ensure_demo_tenant(sessions, tmp_path) == keys
    assert StoreConnectionStore(sessions).get(demo) == DEFAULT_CONNECTION
    StoreConnectionStore(sessions).put(demo, {"backend": "demo", "store_url": store_url})
    ensure_demo_tenant(sessions, tmp_path)
    kept = StoreConnectionStore(sessions).get(demo)
    assert kept is not None and kept.store_url == store_url
