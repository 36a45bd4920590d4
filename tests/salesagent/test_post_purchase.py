"""The post-purchase follow-up: a delivery starts it, it waits the tenant's days durably,
and sends one review request on a consented channel; an order cancelled meanwhile gets
nothing. Real demo store, API, workers, time-skipping Temporal and SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.mail.maildir_server import MaildirServer
from supportflow.sales.consent import set_consent
from supportflow.settings import Settings
from supportflow.workflows.sales import SalesAgentWorkflow
from supportflow.workflows.sales_contract import sales_workflow_id
from tests.conftest import _run_store
from tests.salesagent.shop import SalesShop, open_sales_shop

ITEM = "9612497925"
FOLLOW_UPS = {"enabled": True, "quiet_hours": None, "post_purchase": {"enabled": True}}


@pytest.fixture(scope="module")
def sales_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_store(tmp_path_factory.mktemp("follow-up-store") / "store.db")


async def _order(shop: SalesShop, user_id: str) -> dict[str, Any]:
    checkout = await shop.checkout(user_id, ITEM)
    user = (await shop.store.get(f"/users/{user_id}")).json()
    placed = await shop.store.post(
        f"/checkouts/{checkout['id']}/complete",
        json={"payment_method_id": _card_or_paypal(user)},
        headers={"Idempotency-Key": "pp-" + checkout["id"]},
    )
    assert placed.status_code in (200, 201), placed.text
    return dict(placed.json())


def _card_or_paypal(user: dict[str, Any]) -> str:
    # A gift card may not cover the order; a card or PayPal always does.
    return next(
        str(m["id"]) for m in user["payment_methods"].values() if m["source"] != "gift_card"
    )


def _delivered(order_id: str, user_id: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": f"{order_id}.1",
        "order_id": order_id,
        "status": "success",
        "shipment_status": "delivered",
        "tracking_number": "TRK1",
        "customer": {"id": user_id},
        "created_at": now,
        "updated_at": now,
    }


async def test_a_delivered_order_gets_one_review_request_a_week_later(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_server: MaildirServer,
    sales_store: str,
) -> None:
    async with open_sales_shop(
        skipping_env.client, settings, smtp_server, sales_store, FOLLOW_UPS
    ) as shop:
        user_id = "isabella_sanchez_2068"
        email = (await shop.store.get(f"/users/{user_id}")).json()["email"]
        set_consent(
            shop.sessions, shop.tenant_id, user_id, "email", granted=True, source="checkout"
        )
        order = await _order(shop, user_id)
        r = await shop.post_event("fulfillments/update", _delivered(order["order_id"], user_id))
        assert r.json()["outcome"] == "started:post_purchase", r.text
        wf_id = sales_workflow_id(shop.tenant_id, user_id, "post_purchase", order["order_id"])
        handle = shop.temporal.get_workflow_handle_for(SalesAgentWorkflow.run, wf_id)
        await skipping_env.sleep(timedelta(days=6))
        assert shop.mails_to(email) == [], "not before the tenant's seven days"
        await skipping_env.sleep(timedelta(days=2))
        outcome = await asyncio.wait_for(handle.result(), 120)
        assert outcome.status == "sent", outcome
        [mail] = shop.mails_to(email)
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None and order["order_id"] in str(body.get_content())
        assert mail["List-Unsubscribe"]


async def test_an_order_cancelled_before_its_follow_up_gets_nothing(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_server: MaildirServer,
    sales_store: str,
) -> None:
    async with open_sales_shop(
        skipping_env.client, settings, smtp_server, sales_store, FOLLOW_UPS
    ) as shop:
        user_id = "sofia_li_9219"
        email = (await shop.store.get(f"/users/{user_id}")).json()["email"]
        set_consent(
            shop.sessions, shop.tenant_id, user_id, "email", granted=True, source="checkout"
        )
        order = await _order(shop, user_id)
        # A delivery reported in error, then the (still pending) order is cancelled.
        r = await shop.post_event("fulfillments/update", _delivered(order["order_id"], user_id))
        assert r.json()["outcome"] == "started:post_purchase"
        cancelled = await shop.store.post(
            f"/orders/{quote(order['order_id'], safe='')}/cancel",
            json={"reason": "no longer needed"},
            headers={"Idempotency-Key": "cancel-" + order["order_id"]},
        )
        assert cancelled.status_code == 200, cancelled.text
        wf_id = sales_workflow_id(shop.tenant_id, user_id, "post_purchase", order["order_id"])
        await skipping_env.sleep(timedelta(days=8))
        handle = shop.temporal.get_workflow_handle_for(SalesAgentWorkflow.run, wf_id)
        outcome = await asyncio.wait_for(handle.result(), 120)
        assert (outcome.status, outcome.detail) == ("suppressed", "order_cancelled")
        assert shop.mails_to(email) == []
