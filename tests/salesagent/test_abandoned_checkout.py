"""The sales agent's abandoned-checkout reminder, end to end: a signed store webhook starts
it, durable delays wait (time-skipping or the dev server), consent and the store are checked
at the moment of sending, one email goes out with its discount code and unsubscribe link,
and an order placed meanwhile stops it. Real parts: the demo store (its own database), the
API, workers, Temporal and the SMTP server; the webhooks are signed as Shopify signs them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.db.models import AgentEventRow, SalesConversion, SalesTouch, StoreWebhookEvent
from supportflow.mail.maildir_server import MaildirServer
from supportflow.sales.consent import may_contact
from supportflow.settings import Settings
from supportflow.workflows.sales import SalesAgentWorkflow
from supportflow.workflows.sales_contract import SalesOutcome, sales_workflow_id
from tests.conftest import _run_store
from tests.helpers import TEST_CONVERTER
from tests.salesagent.shop import SalesShop, checkout_payload, open_sales_shop, order_payload

ITEM = "9612497925"  # a T-shirt variant in stock in the seed
SALES_ON = {
    "enabled": True,
    "quiet_hours": None,
    "abandoned_checkout": {"delay": "PT1H", "offer": "discount", "discount_percent": 15},
}


@pytest.fixture(scope="module")
def sales_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_store(tmp_path_factory.mktemp("sales-store") / "store.db")


async def _user(shop: SalesShop, user_id: str) -> dict[str, object]:
    r = await shop.store.get(f"/users/{user_id}")
    assert r.status_code == 200
    return dict(r.json())


async def _outcome(
    shop: SalesShop, wf_id: str, env: WorkflowEnvironment, after: timedelta = timedelta(hours=2)
) -> SalesOutcome:
    """The opportunity's outcome once ``after`` has passed (skipped on the test server)."""
    await env.sleep(after)
    handle = shop.temporal.get_workflow_handle_for(SalesAgentWorkflow.run, wf_id)
    return await asyncio.wait_for(handle.result(), 120)


def _events(shop: SalesShop, kind: str) -> list[str]:
    with shop.sessions() as s:
        rows = s.scalars(
            select(AgentEventRow.event_key).where(
                AgentEventRow.tenant_id == shop.tenant_id, AgentEventRow.kind == kind
            )
        )
        return list(rows)


def _touch(shop: SalesShop, wf_id: str) -> SalesTouch | None:
    with shop.sessions() as s:
        return s.get(SalesTouch, wf_id)


async def test_an_abandoned_checkout_gets_one_reminder_with_its_code(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_server: MaildirServer,
    sales_store: str,
) -> None:
    async with open_sales_shop(
        skipping_env.client, settings, smtp_server, sales_store, SALES_ON
    ) as shop:
        user = await _user(shop, "ivan_santos_6635")
        checkout = await shop.checkout("ivan_santos_6635", ITEM, accepts_email_marketing=True)
        event_id = "evt-" + checkout["id"]
        first = await shop.post_event(
            "checkouts/create", checkout_payload(checkout), event_id=event_id
        )
        assert first.status_code == 200, first.text
        assert first.json() == {
            "event_id": event_id,
            "outcome": "started:abandoned_checkout",
            "duplicate": False,
        }
        # The store delivers it again: acknowledged with the first outcome, nothing new.
        again = await shop.post_event(
            "checkouts/create", checkout_payload(checkout), event_id=event_id
        )
        assert again.status_code == 200 and again.json()["duplicate"] is True
        # A second event for the same checkout joins the running opportunity.
        abandoned = await shop.post_event("checkouts/abandoned", checkout_payload(checkout))
        assert abandoned.json()["outcome"] == "started:abandoned_checkout"

        wf_id = sales_workflow_id(
            shop.tenant_id, "ivan_santos_6635", "abandoned_checkout", checkout["token"]
        )
        outcome = await _outcome(shop, wf_id, skipping_env)
        assert outcome.status == "sent", outcome
        mails = shop.mails_to(str(user["email"]))
        assert len(mails) == 1, "one reminder, never a series"
        mail = mails[0]
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        text = str(body.get_content())
        assert "15% off" in text
        code = re.search(r"Use code (\S+) for", text)
        assert code is not None
        link = str(mail["List-Unsubscribe"]).strip("<>")
        assert link.startswith(f"{shop.settings.public_url}/v1/unsubscribe/{shop.tenant_id}/")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # The code is real in the store, for this customer only.
        made = await shop.store.get(f"/discount_codes/{code.group(1)}")
        assert made.status_code == 200, made.text
        assert made.json()["customer_id"] == "ivan_santos_6635"
        touch = _touch(shop, wf_id)
        assert touch is not None and touch.status == "sent" and touch.channel == "email"
        assert _events(shop, "sales_touch") == [f"sales_touch:{wf_id}"]
        assert touch.discount_code == code.group(1)

        # One-click unsubscribe withdraws consent; a forged link changes nothing.
        forged = await shop.http.post(link[:-4] + "AAAA")
        assert forged.status_code == 404
        assert may_contact(shop.sessions, shop.tenant_id, "ivan_santos_6635", "email")
        done = await shop.http.post(link, content=b"List-Unsubscribe=One-Click")
        assert done.status_code == 200
        assert not may_contact(shop.sessions, shop.tenant_id, "ivan_santos_6635", "email")

        # The history replays.
        history = await shop.temporal.get_workflow_handle(wf_id).fetch_history()
        await Replayer(
            workflows=[SalesAgentWorkflow], data_converter=TEST_CONVERTER
        ).replay_workflow(history)


async def test_an_order_placed_meanwhile_stops_the_reminder_and_converts(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_server: MaildirServer,
    sales_store: str,
) -> None:
    async with open_sales_shop(
        skipping_env.client, settings, smtp_server, sales_store, SALES_ON
    ) as shop:
        user = await _user(shop, "anya_garcia_3271")
        checkout = await shop.checkout("anya_garcia_3271", ITEM, accepts_email_marketing=True)
        r = await shop.post_event("checkouts/create", checkout_payload(checkout))
        assert r.json()["outcome"] == "started:abandoned_checkout"
        wf_id = sales_workflow_id(
            shop.tenant_id, "anya_garcia_3271", "abandoned_checkout", checkout["token"]
        )
        payment = next(iter(user["payment_methods"]))  # type: ignore[call-overload]
        placed = await shop.store.post(
            f"/checkouts/{checkout['id']}/complete",
            json={"payment_method_id": payment},
            headers={"Idempotency-Key": "order-" + checkout["id"]},
        )
        assert placed.status_code in (200, 201), placed.text
        order = placed.json()
        r = await shop.post_event(
            "orders/create",
            order_payload(order["order_id"], "anya_garcia_3271", checkout, "50.88"),
        )
        assert r.status_code == 200, r.text
        # Converted here, or by the reminder once told (if this came before its touch).
        assert r.json()["outcome"] in ("order:converted:reminder_stopped", "order:reminder_stopped")
        outcome = await _outcome(shop, wf_id, skipping_env)
        assert (outcome.status, outcome.detail) == ("suppressed", "ordered")
        assert shop.mails_to(str(user["email"])) == []
        with shop.sessions() as s:
            conversion = s.get(SalesConversion, (shop.tenant_id, order["order_id"]))
        assert conversion is not None and conversion.touch_id == wf_id
        # The management agent counts it once, whichever side recorded it first.
        assert _events(shop, "conversion") == [f"conversion:{order['order_id']}"]
        assert _events(shop, "sales_touch") == [], "nothing was sent"


async def test_consent_withdrawn_before_sending_sends_nothing(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_server: MaildirServer,
    sales_store: str,
) -> None:
    async with open_sales_shop(
        skipping_env.client, settings, smtp_server, sales_store, SALES_ON
    ) as shop:
        user = await _user(shop, "yara_sanchez_1902")
        checkout = await shop.checkout("yara_sanchez_1902", ITEM, accepts_email_marketing=True)
        r = await shop.post_event("checkouts/create", checkout_payload(checkout))
        assert r.json()["outcome"] == "started:abandoned_checkout"
        from supportflow.sales.consent import set_consent

        # Withdrawn after the reminder was scheduled, before it is due.
        set_consent(
            shop.sessions,
            shop.tenant_id,
            "yara_sanchez_1902",
            "email",
            granted=False,
            source="unsubscribe",
        )
        wf_id = sales_workflow_id(
            shop.tenant_id, "yara_sanchez_1902", "abandoned_checkout", checkout["token"]
        )
        outcome = await _outcome(shop, wf_id, skipping_env)
        assert (outcome.status, outcome.detail) == ("suppressed", "no_consent")
        assert shop.mails_to(str(user["email"])) == []
        touch = _touch(shop, wf_id)
        assert touch is not None and touch.status == "suppressed:no_consent"
        # A late webhook saying "accepts marketing" from before the unsubscribe undoes nothing.
        day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        old = checkout_payload(checkout, created_at=day_ago, updated_at=day_ago)
        await shop.post_event("checkouts/update", old)
        assert not may_contact(shop.sessions, shop.tenant_id, "yara_sanchez_1902", "email")


async def test_bad_store_events_change_nothing(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_server: MaildirServer,
    sales_store: str,
) -> None:
    async with open_sales_shop(
        skipping_env.client, settings, smtp_server, sales_store, SALES_ON
    ) as shop:
        checkout = await shop.checkout("yara_li_8961", ITEM, accepts_email_marketing=True)
        payload = checkout_payload(checkout)
        # Forged (another secret), unknown tenant, no signature: 401 and nothing recorded.
        forged = await shop.post_event(
            "checkouts/create", payload, secret="x" * 38, event_id="e-forged"
        )
        assert forged.status_code == 401
        unknown = await shop.post_event(
            "checkouts/create", payload, tenant_id="t_nope", event_id="e-unknown"
        )
        assert unknown.status_code == 401
        with shop.sessions() as s:
            assert s.get(StoreWebhookEvent, (shop.tenant_id, "e-forged")) is None
        wf_id = sales_workflow_id(
            shop.tenant_id, "yara_li_8961", "abandoned_checkout", checkout["token"]
        )
        with pytest.raises(RPCError):
            await shop.temporal.get_workflow_handle(wf_id).describe()
        # Signed but unusable: a clear 4xx.
        r = await shop.post_event("checkouts/create", {"token": None, "customer": "x"})
        assert r.status_code == 422, r.text
        # A guest checkout, an unknown topic: acknowledged with why, nothing started.
        guest = await shop.post_event("checkouts/create", checkout_payload(checkout, customer=None))
        assert guest.json()["outcome"] == "ignored:guest"
        other = await shop.post_event("products/update", {"id": 1})
        assert other.json()["outcome"] == "ignored:topic"
        # A customer the store does not know: started, then skipped without a message.
        ghost = checkout_payload(checkout, customer={"id": "no_such_user_1"}, token="chk-ghost")
        r = await shop.post_event("checkouts/create", ghost)
        assert r.json()["outcome"] == "started:abandoned_checkout"
        outcome = await _outcome(
            shop,
            sales_workflow_id(shop.tenant_id, "no_such_user_1", "abandoned_checkout", "chk-ghost"),
            skipping_env,
        )
        assert (outcome.status, outcome.detail) == ("skipped", "unknown_customer")
