"""Procedures (pure code) against a backend's capabilities: what the tenant's store cannot do
is handed to a person before anything is asked or promised; what it can do, and every
history recorded without capabilities, goes on as before."""

from __future__ import annotations

from typing import Any

import pytest

from supportflow.demo_store.seeding import load_seed
from supportflow.policy.model import TenantPolicy
from supportflow.procedures.base import REQUIRED_ACTIONS, step
from supportflow.procedures.case import StepResult
from supportflow.procedures.facts import CaseFacts
from supportflow.replies.render import render
from supportflow.store.adapters.shopify import SHOPIFY_CAPABILITIES
from supportflow.store.port import Capability
from tests.procedures.conftest import NOW, facts_for, find_order, u

Doc = dict[str, Any]
SHOPIFY = sorted(c.value for c in SHOPIFY_CAPABILITIES)


@pytest.fixture(scope="module")
def seed() -> Doc:
    return load_seed()


def on_shopify(facts: CaseFacts) -> CaseFacts:
    return facts.model_copy(update={"capabilities": SHOPIFY})


def turn(facts: CaseFacts, intent: str, order_id: str | None, text: str = "") -> StepResult:
    return step(
        None,
        u(intent, order_ids=[order_id] if order_id else []),
        facts,
        policy=TenantPolicy(),
        now=NOW,
        new_case_id="wf-1/case/1",
        text=text,
    )


def test_every_store_action_is_a_capability() -> None:
    names = {c.value for c in Capability}
    for actions in REQUIRED_ACTIONS.values():
        assert set(actions) <= names


@pytest.mark.parametrize(
    ("intent", "status", "text"),
    [
        ("return_items", "delivered", "I want to return it"),
        ("exchange_items", "delivered", "I want to exchange it"),
        ("modify_order_payment", "pending", "change the payment method"),
        ("modify_order_items", "pending", "change the items"),
    ],
)
def test_an_action_the_backend_lacks_goes_to_a_person_at_once(
    seed: Doc, intent: str, status: str, text: str
) -> None:
    order = find_order(seed, lambda o, _: o["status"] == status)
    facts = facts_for(seed, order["order_id"])
    result = turn(on_shopify(facts), intent, order["order_id"], text)
    assert result.outcome == "escalated" and result.template == "action_unsupported"
    assert result.plan is None and result.awaiting is None
    assert result.state is not None and result.state.step == "escalated"
    reply = render(result.template, result.facts)
    assert "colleague" in reply and "haven't changed anything" in reply
    # The same request on the demo store (no capabilities reported) goes on as before.
    before = turn(facts, intent, order["order_id"], text)
    assert before.template != "action_unsupported" and before.outcome != "escalated"


def test_a_cancel_the_backend_supports_goes_on_to_confirmation(seed: Doc) -> None:
    order = find_order(seed, lambda o, _: o["status"] == "pending")
    facts = on_shopify(facts_for(seed, order["order_id"]))
    result = turn(facts, "cancel_order", order["order_id"], "I no longer need it")
    assert result.template == "confirm_cancel" and result.awaiting == "confirm"
    # Without holds the saga cannot run safely: refused before the customer is asked.
    no_holds = facts.model_copy(update={"capabilities": [c for c in SHOPIFY if c != "hold_order"]})
    refused = turn(no_holds, "cancel_order", order["order_id"], "I no longer need it")
    assert refused.template == "action_unsupported" and refused.plan is None


def test_old_facts_without_the_field_mean_everything() -> None:
    facts = CaseFacts.model_validate({"order_id_requested": "#W1"})
    assert facts.capabilities is None and facts.supports("modify_user_address")
