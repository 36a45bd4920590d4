"""Retention on cancel through the real CustomerWorkflow (sales-v1), on real Temporal servers
(dev and time-skipping), the real demo store and the app database: one offer before the
confirmation for the tenant's reasons; yes keeps the order with a one-use code made once (a
save, recorded); no or insisting cancels after the usual confirmation, never a second offer;
an offer nobody answers closes politely; retention off is the old flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import AgentEventRow, SalesTouch
from supportflow.settings import Settings
from supportflow.temporal.billable import count_actions
from supportflow.workflows.contract import TranscriptView, customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow
from tests.conftest import _run_store
from tests.helpers import running_workers, store_order
from tests.test_procedures_workflow import Chat, tenant_with_policy

# Pending seed orders of their own per Temporal server (the session's store is shared).
DECLINE = {
    "local": ("james.kim1995@example.com", "#W9154975"),
    "time-skipping": ("olivia.silva3776@example.com", "#W7613749"),
}
INSIST = {
    "local": ("yusuf.taylor6118@example.com", "#W2702727"),
    "time-skipping": ("lei.wilson1253@example.com", "#W3826449"),
}
OFF = {
    "local": ("mei.davis6811@example.com", "#W1267569"),
    "time-skipping": ("ava.nguyen2868@example.com", "#W8367380"),
}
EXCHANGE = {
    "local": ("noah.hernandez4161@example.com", "#W4802126"),
    "time-skipping": ("olivia.smith9157@example.com", "#W1348609"),
}
# On a store of the test's own (its writes are counted).
KEEP = ("omar.kim8981@example.com", "#W8557584")
UNANSWERED = ("isabella.santos9317@example.com", "#W9527030")


def retention(offer: str = "discount", **more: Any) -> dict[str, object]:
    return {
        "sales": {
            "enabled": True,
            "retention": {"enabled": True, "offer": offer, "discount_percent": 10, **more},
        }
    }


def rows(settings: Settings, model: Any, tenant_id: str) -> list[Any]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as s:
            return list(s.scalars(select(model).where(model.tenant_id == tenant_id)).all())
    finally:
        engine.dispose()


async def view(env: WorkflowEnvironment, chat: Chat) -> TranscriptView:
    handle = env.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(chat.tenant_id, chat.customer)
    )
    return await handle.query(CustomerWorkflow.transcript)


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[str]:
    """A store with /admin/events, so every write the agent makes can be counted."""
    yield from _run_store(tmp_path / "retention-store.db", admin=True)


async def test_an_accepted_offer_keeps_the_order_with_one_code_and_records_a_save(
    workflow_env: WorkflowEnvironment, settings: Settings, own_store: str
) -> None:
    settings = settings.model_copy(update={"store_url": own_store})
    tenant_id = tenant_with_policy(settings, "Keeping Shop", retention())
    email, order_id = KEEP
    chat = Chat(workflow_env, settings, tenant_id)
    async with (
        running_workers(workflow_env.client, settings),
        httpx.AsyncClient(base_url=own_store) as store,
    ):
        assert "why" in (await chat.say(f"I want to cancel my order {order_id}", email=email))
        offer = await chat.say("I no longer need it")
        assert f"Before I cancel order {order_id}" in offer and "10% off" in offer
        assert "yes or no" not in offer, "the confirmation comes after the offer"
        kept = await chat.say("yes please")
        assert "stays as it is" in kept and "How did we do?" in kept
        code = kept.split("next order is ")[1].split(" ")[0]
        assert (await store_order(settings, order_id))["status"] == "pending"
        made = (await store.get(f"/discount_codes/{code}")).json()
        assert made["usage_limit"] == 1 and made["value"] == 10
        events = (await store.get("/admin/events", params={"limit": 1000})).json()["events"]
        writes = [e["operation"] for e in events]
        assert writes.count("create_discount_code") == 1
        assert not {"hold", "refund", "cancel"} & set(writes), writes
        v = await view(workflow_env, chat)
        assert [(c.intent, c.status, c.resolution) for c in v.cases] == [
            ("cancel_order", "resolved", "saved")
        ]
        history = await workflow_env.client.get_workflow_handle(
            customer_workflow_id(tenant_id, chat.customer)
        ).fetch_history()
    touches = rows(settings, SalesTouch, tenant_id)
    assert [(t.kind, t.status, t.subject_id, t.discount_code) for t in touches] == [
        ("retention", "saved", order_id, code)
    ]
    events = rows(settings, AgentEventRow, tenant_id)
    kinds = sorted((e.kind, e.data.get("outcome")) for e in events)
    assert kinds == [("case_closed", "resolved"), ("save", None)]
    # The code is the save turn's one activity; the outcomes ride in the reply's workflow task.
    actions = count_actions(history.to_json_dict())
    assert actions["activity"] == 1, actions


async def test_no_to_the_offer_goes_to_the_usual_confirmation_and_cancels(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    tenant_id = tenant_with_policy(settings, "Asking Shop", retention("free_shipping"))
    email, order_id = DECLINE[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    offer = await chat.say(f"cancel order {order_id} please, I no longer need it", email=email)
    assert "free shipping" in offer
    summary = await chat.say("no thanks")
    assert "To confirm: I'll cancel order" in summary and "yes or no" in summary
    assert "free shipping" not in summary, "no second offer"
    done = await chat.say("yes")
    assert "cancelled" in done
    assert (await store_order(settings, order_id))["status"] == "cancelled"
    touches = rows(settings, SalesTouch, tenant_id)
    assert [(t.status, t.discount_code) for t in touches] == [("declined", None)]


async def test_refusing_offers_in_the_first_message_gets_no_offer(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    tenant_id = tenant_with_policy(settings, "Insisted Shop", retention())
    email, order_id = INSIST[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    summary = await chat.say(
        f"cancel order {order_id}, I no longer need it. I don't want any offer.", email=email
    )
    assert "To confirm" in summary and "10% off" not in summary
    assert "cancelled" in await chat.say("yes")
    assert (await store_order(settings, order_id))["status"] == "cancelled"
    assert rows(settings, SalesTouch, tenant_id) == []


async def test_with_retention_off_the_cancel_is_the_old_flow(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    tenant_id = tenant_with_policy(settings, "Plain Shop", {"sales": {"enabled": True}})
    email, order_id = OFF[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    assert "why" in (await chat.say(f"I want to cancel my order {order_id}", email=email))
    summary = await chat.say("I no longer need it")
    assert summary.startswith(f"To confirm: I'll cancel order {order_id}")
    assert summary.endswith("Shall I go ahead? Please answer yes or no.")
    done = await chat.say("yes, please cancel it")
    assert done.startswith(f"Done: order {order_id} is cancelled")
    assert (await store_order(settings, order_id))["status"] == "cancelled"
    assert rows(settings, SalesTouch, tenant_id) == []


async def test_an_exchange_offer_taken_goes_on_as_an_item_change(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    tenant_id = tenant_with_policy(settings, "Swapping Shop", retention("exchange"))
    email, order_id = EXCHANGE[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    offer = await chat.say(f"please cancel {order_id}, I don't need it anymore", email=email)
    assert "another size or colour" in offer
    asked = await chat.say("yes")
    assert asked.startswith("Great, I won't cancel it. Which items from order")
    v = await view(workflow_env, chat)
    assert [(c.intent, c.status) for c in v.cases] == [
        ("cancel_order", "resolved"),
        ("modify_order_items", "open"),
    ]
    assert v.case is not None and v.case.procedure == "modify_items"
    assert (await store_order(settings, order_id))["status"] == "pending"
    assert [t.status for t in rows(settings, SalesTouch, tenant_id)] == ["saved"]


async def test_an_unanswered_offer_closes_politely_once(
    skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Waits a day, so it runs on the time-skipping server only."""
    tenant_id = tenant_with_policy(settings, "Waiting Shop", retention())
    email, order_id = UNANSWERED
    chat = Chat(skipping_env, settings, tenant_id)
    async with running_workers(skipping_env.client, settings):
        offer = await chat.say(f"cancel {order_id}, I no longer need it", email=email)
        assert "10% off" in offer
        await skipping_env.sleep(timedelta(hours=25))
        v = await view(skipping_env, chat)
        after = v.entries[[e.text for e in v.entries].index(offer) + 1 :]
        assert [e.message_id.startswith("timeout:") for e in after] == [True]
        assert f"won't cancel order {order_id}" in after[0].text
        assert [(c.intent, c.status) for c in v.cases] == [("cancel_order", "abandoned")]
        await skipping_env.sleep(timedelta(days=3))
        assert len((await view(skipping_env, chat)).entries) == len(v.entries), "no nagging"
    assert (await store_order(settings, order_id))["status"] == "pending"
    events = rows(settings, AgentEventRow, tenant_id)
    assert [(e.kind, e.data["outcome"]) for e in events] == [("case_closed", "abandoned")]
    assert rows(settings, SalesTouch, tenant_id) == []
