"""The procedures as state machines, turn by turn, over real seed orders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from supportflow.policy.model import TenantPolicy
from supportflow.procedures.base import (
    approve,
    deadline,
    finish,
    on_timeout,
    procedure_for,
    step,
)
from supportflow.procedures.case import StepResult, idempotency_key
from supportflow.procedures.facts import CaseFacts
from supportflow.procedures.saga import ActionResult, SagaOutcome
from supportflow.workflows.saga_steps import action_input
from tests.procedures.conftest import (
    NOW,
    Conversation,
    Doc,
    check_rendered,
    facts_for,
    find_order,
    match,
    source_of,
    u,
)


def pending_by(source: str, skip: int = 0) -> Any:
    return lambda seed: find_order(
        seed, lambda o, us: o["status"] == "pending" and source_of(o, us) == source, skip
    )


def one_option_swap(seed: Doc, order: Doc) -> tuple[Doc, Doc, str] | None:
    """(order item, other available variant differing in one option, that option's value),
    with the value unique among the product's variants' differing values."""
    for item in order["items"]:
        product = seed["products"][item["product_id"]]
        for variant in product["variants"].values():
            if variant["item_id"] == item["item_id"] or not variant["available"]:
                continue
            diff = {k: v for k, v in variant["options"].items() if item["options"].get(k) != v}
            if len(diff) != 1:
                continue
            ((_key, value),) = diff.items()
            if value.lower() in ("yes", "no", "none") or len(value) < 3:
                continue
            # The named value alone must pick this variant (no other one-option swap to it).
            rivals = [
                v
                for v in product["variants"].values()
                if v["item_id"] != variant["item_id"]
                and {k: x for k, x in v["options"].items() if item["options"].get(k) != x} == diff
            ]
            if not rivals:
                return item, variant, value
    return None


def assert_plan_builds(result: StepResult) -> None:
    """Every step of a plan (and its compensation) builds a valid activity input."""
    assert result.plan is not None and result.state is not None
    for s in result.plan.steps:
        for one in (s, s.compensation):
            if one is not None:
                action_input(
                    one,
                    tenant_id="t",
                    store_user_id="u",
                    workflow_id="wf-1",
                    case_id=result.state.case_id,
                    attempt=result.plan.attempt,
                )


# -- routing --------------------------------------------------------------------------------


def test_intents_map_to_procedures() -> None:
    assert procedure_for(u("cancel_order")) == "cancel"
    assert procedure_for(u("return_items")) == "return"
    assert procedure_for(u("change_shipping_address"), "change my default address") == (
        "user_address"
    )
    assert procedure_for(u("change_shipping_address", order_ids=["#W1"]), "address") == (
        "modify_address"
    )
    assert procedure_for(u("change_order"), "pay with paypal instead") == "modify_payment"
    assert procedure_for(u("greeting")) is None
    assert procedure_for(u("cancel_order", needs_clarification=True)) is None
    assert procedure_for(u("greeting", needs_human=True)) == "handoff"


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_pending_gift_card_order_asks_reason_confirms_then_plans_the_saga(
    seed: Doc,
) -> None:
    order = pending_by("gift_card")(seed)
    oid = order["order_id"]
    chat = Conversation(seed, order["user_id"])
    first = chat.say(u("cancel_order", order_ids=[oid]), f"please cancel {oid}")
    assert (first.outcome, first.awaiting, first.template) == (
        "continue",
        "cancel_reason",
        "ask_cancel_reason",
    )
    second = chat.say(u("out_of_scope", reason="ordered by mistake"), "I ordered it by mistake")
    assert second.awaiting == "confirm" and second.template == "confirm_cancel"
    text = check_rendered(second)
    assert oid in text and "by mistake" in text and "at once" in text
    assert "5-7 business days" not in text
    assert "yes or no" in text
    third = chat.say(u("confirm"), "yes")
    assert third.outcome == "execute" and third.plan is not None
    assert [s.name for s in third.plan.steps] == ["hold", "refund", "cancel"]
    assert third.plan.steps[0].compensation is not None
    assert third.plan.steps[1].pivot
    assert_plan_builds(third)
    assert third.state is not None and third.state.step == "executing"
    done = finish(
        third.state, third.plan, SagaOutcome(status="completed"), now=NOW + timedelta(seconds=1)
    )
    assert done.outcome == "done" and done.template == "cancel_done"
    assert "at once" in check_rendered(done)
    assert done.state is not None and done.state.step == "done"


def test_cancel_by_card_tells_5_to_7_business_days(seed: Doc) -> None:
    order = pending_by("credit_card")(seed)
    chat = Conversation(seed, order["user_id"])
    result = chat.say(
        u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"),
        "cancel it, I no longer need it",
    )
    assert result.template == "confirm_cancel"
    assert "5-7 business days" in check_rendered(result)


def test_cancel_of_a_processed_or_delivered_order_is_refused_plainly(seed: Doc) -> None:
    processed = seed["orders"]["#W2611340"]
    chat = Conversation(seed, processed["user_id"])
    result = chat.say(
        u("cancel_order", order_ids=["#W2611340"], reason="no longer needed"), "cancel it"
    )
    assert (result.outcome, result.template) == ("refused", "cancel_not_pending")
    assert "processed" in check_rendered(result)
    delivered = find_order(seed, lambda o, _u: o["status"] == "delivered")
    chat = Conversation(seed, delivered["user_id"])
    result = chat.say(u("cancel_order", order_ids=[delivered["order_id"]]), "cancel")
    assert result.outcome == "refused" and "return" in check_rendered(result)


def test_someone_elses_order_looks_not_found(seed: Doc) -> None:
    order = pending_by("gift_card")(seed)
    other_user = next(uid for uid in seed["users"] if uid != order["user_id"])
    chat = Conversation(seed, other_user)
    result = chat.say(u("cancel_order", order_ids=[order["order_id"]]), "cancel")
    assert (result.template, result.awaiting) == ("order_not_found", "order_id")
    assert result.state is not None and result.state.order_id is None


def test_a_case_without_an_identified_customer_asks_identity_then_resumes(seed: Doc) -> None:
    order = pending_by("gift_card")(seed)
    oid = order["order_id"]
    anonymous = CaseFacts(order_id_requested=oid)
    first = step(
        None,
        u("cancel_order", order_ids=[oid]),
        anonymous,
        policy=TenantPolicy(),
        now=NOW,
        new_case_id="c1",
    )
    assert (first.template, first.awaiting) == ("ask_identity", "identity")
    second = step(
        first.state,
        u("out_of_scope"),
        facts_for(seed, oid),
        policy=TenantPolicy(),
        now=NOW,
        new_case_id="c2",
        text="me@example.com",
    )
    assert second.awaiting == "cancel_reason"
    assert second.state is not None and second.state.case_id == "c1"


# -- change of mind, timeouts -----------------------------------------------------------------


def test_declining_abandons_cleanly(seed: Doc) -> None:
    order = pending_by("gift_card", 1)(seed)
    chat = Conversation(seed, order["user_id"])
    chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"), "cancel")
    result = chat.say(u("decline"), "no, keep it")
    assert (result.outcome, result.template) == ("abandoned", "case_abandoned")
    assert result.plan is None and result.state is not None and result.state.step == "abandoned"
    assert chat.say(u("thanks"), "thanks").outcome == "not_handled"


def test_a_new_request_before_confirming_drops_the_pending_one(seed: Doc) -> None:
    order = pending_by("credit_card", 1)(seed)
    oid = order["order_id"]
    chat = Conversation(seed, order["user_id"])
    chat.say(u("cancel_order", order_ids=[oid], reason="no longer needed"), "cancel")
    switched = chat.say(
        u("change_shipping_address", order_ids=[oid]),
        "actually just ship it to 12 Oak Street, Apt 4, Austin, TX 78701",
    )
    assert switched.dropped is not None and switched.dropped.procedure == "cancel"
    assert switched.dropped.step == "abandoned"
    assert switched.template == "confirm_modify_address"
    assert "12 Oak Street" in check_rendered(switched)
    done = chat.say(u("confirm"), "yes")
    assert done.plan is not None and done.plan.steps[0].action == "modify_order_address"
    assert done.plan.steps[0].args["address"]["zip"] == "78701"
    assert_plan_builds(done)


def test_asking_for_a_human_mid_case_hands_off(seed: Doc) -> None:
    order = pending_by("gift_card", 2)(seed)
    chat = Conversation(seed, order["user_id"])
    chat.say(u("cancel_order", order_ids=[order["order_id"]]), "cancel")
    result = chat.say(u("contact_human_agent"), "let me talk to a person")
    assert (result.outcome, result.template) == ("escalated", "handoff")
    assert result.dropped is not None and result.dropped.step == "abandoned"


def test_unclear_answer_to_confirmation_asks_again(seed: Doc) -> None:
    order = pending_by("gift_card", 3)(seed)
    chat = Conversation(seed, order["user_id"])
    chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"), "")
    again = chat.say(u("out_of_scope"), "hmm what")
    assert (again.awaiting, again.template) == ("confirm", "confirm_cancel")
    assert again.plan is None


def test_changing_a_detail_at_confirmation_reconfirms(seed: Doc) -> None:
    order = pending_by("gift_card", 4)(seed)
    chat = Conversation(seed, order["user_id"])
    chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"), "")
    changed = chat.say(u("confirm", reason="ordered by mistake"), "yes, I ordered by mistake")
    # A yes that changes what it agrees to is not a yes to the new summary.
    assert changed.plan is None and changed.awaiting == "confirm"
    assert "by mistake" in check_rendered(changed)
    assert chat.say(u("confirm"), "yes").outcome == "execute"


def test_the_confirmation_times_out_politely(seed: Doc) -> None:
    order = pending_by("gift_card", 5)(seed)
    policy = TenantPolicy(confirmation_timeout=timedelta(minutes=30))
    chat = Conversation(seed, order["user_id"], policy)
    result = chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"))
    assert deadline(result.state, policy) == NOW + timedelta(minutes=30)
    assert result.state is not None
    closed = on_timeout(result.state)
    assert (closed.outcome, closed.template) == ("abandoned", "case_timed_out")
    assert "won't cancel order" in check_rendered(closed)
    assert deadline(closed.state, policy) is None


def test_store_down_during_the_saga_keeps_nothing_and_offers_to_retry(seed: Doc) -> None:
    order = pending_by("gift_card", 6)(seed)
    chat = Conversation(seed, order["user_id"])
    chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"))
    run = chat.say(u("confirm"), "yes")
    assert run.state is not None and run.plan is not None
    outcome = SagaOutcome(
        status="compensated",
        failed_step="hold",
        failure=ActionResult(status="unavailable"),
        compensated=["hold"],
    )
    held = finish(run.state, run.plan, outcome, now=NOW)
    assert (held.template, held.awaiting) == ("action_store_down", "confirm")
    assert "nothing was changed" in check_rendered(held)
    chat.case = held.state
    retry = chat.say(u("confirm"), "yes")
    # A second attempt gets fresh idempotency keys; the first attempt's answers never replay.
    assert retry.plan is not None and retry.plan.attempt == run.plan.attempt + 1
    interrupted = finish(
        run.state, run.plan, SagaOutcome(status="interrupted", failed_step="refund"), now=NOW
    )
    assert interrupted.outcome == "retry_later" and interrupted.plan == run.plan
    stuck = finish(run.state, run.plan, SagaOutcome(status="stuck"), now=NOW)
    assert stuck.outcome == "escalated" and stuck.template == "action_incomplete"
    failed = finish(
        run.state,
        run.plan,
        SagaOutcome(status="compensated", failure=ActionResult(status="rejected")),
        now=NOW,
    )
    assert failed.outcome == "escalated" and "nothing was changed" in check_rendered(failed)


# -- policy ---------------------------------------------------------------------------------


def test_policy_denial_is_explained_and_escalated(seed: Doc) -> None:
    order = pending_by("credit_card", 2)(seed)
    chat = Conversation(seed, order["user_id"], TenantPolicy(max_auto_refund=1))
    result = chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"))
    assert (result.outcome, result.template) == ("escalated", "policy_denied")
    assert result.policy is not None and result.policy.rule_id == "refund_above_limit"
    assert "larger than I'm allowed" in check_rendered(result)


def test_an_action_the_tenant_disabled_is_refused(seed: Doc) -> None:
    order = pending_by("credit_card", 3)(seed)
    policy = TenantPolicy(agents={"support": frozenset({"modify_order_address"})})
    chat = Conversation(seed, order["user_id"], policy)
    result = chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"))
    assert result.template == "policy_denied" and result.plan is None
    assert result.policy is not None and result.policy.verdict == "denied"


def test_above_the_approval_threshold_the_yes_records_an_approval_request(seed: Doc) -> None:
    order = pending_by("credit_card", 4)(seed)
    policy = TenantPolicy(approval_above=1)
    chat = Conversation(seed, order["user_id"], policy)
    asked = chat.say(u("cancel_order", order_ids=[order["order_id"]], reason="no longer needed"))
    assert "approve it first" in check_rendered(asked)
    waiting = chat.say(u("confirm"), "yes")
    assert waiting.outcome == "awaiting_approval" and waiting.approval is not None
    assert waiting.approval.rule_id == "approval_above_threshold"
    assert waiting.plan is None and waiting.awaiting == "approval"
    assert chat.say(u("out_of_scope"), "any news?").template == "approval_pending"
    assert chat.case is not None
    facts = facts_for(seed, order["order_id"])
    ok = approve(chat.case, facts, approved=True, policy=policy, now=NOW)
    assert ok.outcome == "execute" and ok.plan is not None
    no = approve(chat.case, facts, approved=False, policy=policy, now=NOW)
    assert (no.outcome, no.template) == ("refused", "approval_denied")


# -- modify ---------------------------------------------------------------------------------


def test_modify_payment_to_an_empty_gift_card_is_refused_then_another_method(
    seed: Doc,
) -> None:
    def shape(o: Doc, us: Doc) -> bool:
        cards = [m for m in us["payment_methods"].values() if m["source"] == "gift_card"]
        return (
            o["status"] == "pending"
            and source_of(o, us) != "gift_card"
            and len(o["payment_history"]) == 1
            and bool(cards)
            and all(c["balance"] < o["payment_history"][0]["amount"] for c in cards)
        )

    order = find_order(seed, shape)
    chat = Conversation(seed, order["user_id"])
    oid = order["order_id"]
    asked = chat.say(u("modify_order_payment", order_ids=[oid]), "change the payment")
    assert asked.awaiting == "payment_method"
    short = chat.say(u("out_of_scope"), "use my gift card")
    assert (short.template, short.awaiting) == ("gift_card_balance", "payment_method")
    assert "doesn't cover" in check_rendered(short)
    same = chat.say(u("out_of_scope"), f"use {order['payment_history'][0]['payment_method_id']}")
    assert same.template == "payment_same"


def test_modify_items_once_same_product_other_variant(seed: Doc) -> None:
    def swappable(o: Doc, _u: Doc) -> bool:
        return o["status"] == "pending" and one_option_swap(seed, o) is not None

    order = find_order(seed, swappable)
    item, variant, value = one_option_swap(seed, order)  # type: ignore[misc]
    chat = Conversation(seed, order["user_id"])
    oid = order["order_id"]
    result = chat.say(
        u("modify_order_items", order_ids=[oid], items=[match(seed, item["item_id"])]),
        f"change the {item['name']} to {value}",
    )
    assert result.template == "confirm_modify_items", result
    text = check_rendered(result)
    assert "only be changed once" in text and value in text
    done = chat.say(u("confirm"), "yes")
    assert done.plan is not None
    args = done.plan.steps[0].args
    assert args["item_ids"] == [item["item_id"]] and args["new_item_ids"] == [variant["item_id"]]
    assert_plan_builds(done)
    # Once modified, never again.
    modified = dict(order, status="pending (item modified)")
    facts = facts_for(seed, None).model_copy(
        update={
            "order": facts_for(seed, oid).order.model_copy(update={"status": modified["status"]}),  # type: ignore[union-attr]
            "order_id_requested": oid,
            "user": facts_for(seed, oid).user,
        }
    )
    again = step(
        None,
        u("modify_order_items", order_ids=[oid]),
        facts,
        policy=TenantPolicy(),
        now=NOW,
        new_case_id="c9",
    )
    assert (again.outcome, again.template) == ("refused", "items_modified_once")


def test_an_item_of_another_product_is_refused(seed: Doc) -> None:
    order = find_order(seed, lambda o, _u: o["status"] == "delivered" and len(o["items"]) == 1)
    item = order["items"][0]
    other = next(p for p in seed["products"].values() if p["product_id"] != item["product_id"])
    other_variant = next(iter(other["variants"]))
    chat = Conversation(seed, order["user_id"])
    result = chat.say(
        u(
            "exchange_items",
            order_ids=[order["order_id"]],
            items=[match(seed, other_variant)],
        ),
        f"exchange it for a {other['name']}",
    )
    assert (result.template, result.awaiting) == ("ask_new_items", "new_items")
    text = check_rendered(result)
    assert other["name"] in text and "same product" in text


# -- returns and exchanges --------------------------------------------------------------------


def test_return_delivered_items_to_original_card_or_gift_card(seed: Doc) -> None:
    def shape(o: Doc, us: Doc) -> bool:
        return (
            o["status"] == "delivered"
            and len(o["items"]) >= 2
            and source_of(o, us) == "credit_card"
            and any(m["source"] == "gift_card" for m in us["payment_methods"].values())
        )

    order = find_order(seed, shape)
    item = order["items"][0]
    chat = Conversation(seed, order["user_id"])
    oid = order["order_id"]
    first = chat.say(u("return_items", order_ids=[oid]), "I want to return something")
    assert (first.template, first.awaiting) == ("ask_items", "items")
    second = chat.say(u("out_of_scope", items=[match(seed, item["item_id"])]), item["name"])
    assert second.template == "confirm_return"
    assert "5-7 business days" in check_rendered(second)
    third = chat.say(u("out_of_scope"), "to my gift card please")
    assert third.template == "confirm_return" and "at once" in check_rendered(third)
    done = chat.say(u("confirm"), "yes")
    assert done.plan is not None
    assert done.plan.steps[0].args["payment_method_id"].startswith("gift_card")
    assert_plan_builds(done)


def test_return_of_an_undelivered_order_is_refused(seed: Doc) -> None:
    order = pending_by("gift_card", 7)(seed)
    chat = Conversation(seed, order["user_id"])
    result = chat.say(u("return_items", order_ids=[order["order_id"]]), "return")
    assert (result.outcome, result.template) == ("refused", "not_delivered")
    assert "cancel it instead" in check_rendered(result)


def test_exchange_for_another_variant(seed: Doc) -> None:
    def swappable(o: Doc, us: Doc) -> bool:
        if o["status"] != "delivered" or source_of(o, us) == "gift_card":
            return False
        return one_option_swap(seed, o) is not None

    order = find_order(seed, swappable)
    item, variant, value = one_option_swap(seed, order)  # type: ignore[misc]
    chat = Conversation(seed, order["user_id"])
    result = chat.say(
        u("exchange_items", order_ids=[order["order_id"]], items=[match(seed, item["item_id"])]),
        f"exchange my {item['name']} for the {value} one",
    )
    assert result.template == "confirm_exchange", result
    done = chat.say(u("confirm"), "yes")
    assert done.plan is not None
    assert done.plan.steps[0].args["new_item_ids"] == [variant["item_id"]]


# -- several requests, information ------------------------------------------------------------


def test_requests_one_after_another(seed: Doc) -> None:
    user_id = next(
        uid
        for uid, us in seed["users"].items()
        if sum(seed["orders"][o]["status"] == "pending" for o in us["orders"]) >= 2
    )
    pending = [
        o for o in seed["users"][user_id]["orders"] if seed["orders"][o]["status"] == "pending"
    ]
    chat = Conversation(seed, user_id)
    for oid in pending[:2]:
        chat.say(u("cancel_order", order_ids=[oid], reason="no longer needed"))
        run = chat.say(u("confirm"), "yes")
        assert run.plan is not None and run.state is not None
        assert run.plan.steps[0].args["order_id"] == oid
        chat.case = finish(run.state, run.plan, SagaOutcome(status="completed"), now=NOW).state
    status = chat.say(u("track_order", order_ids=[pending[0]]))
    assert status.template == "order_status" and status.outcome == "done"
    assert "cancelled" not in check_rendered(status)  # facts are the seed's, not the saga's
    theirs = chat.say(u("track_order", order_ids=["#W2611340"]))
    assert theirs.template == "order_not_found"  # James Li's order, not this customer's
    address = chat.say(u("set_up_shipping_address"), "12 Oak Street, Austin, TX 78701")
    assert address.template == "confirm_user_address"
    assert_plan_builds(chat.say(u("confirm"), "yes"))


def test_refund_status(seed: Doc) -> None:
    cancelled = find_order(seed, lambda o, _u: o["status"] == "cancelled")
    chat = Conversation(seed, cancelled["user_id"])
    result = chat.say(u("track_refund", order_ids=[cancelled["order_id"]]))
    assert result.template == "refund_status"
    assert "Refunded so far" in check_rendered(result)


def test_idempotency_keys_are_stable_and_distinct() -> None:
    key = idempotency_key("wf-1", "wf-1/case/1", "a1.hold")
    assert key == idempotency_key("wf-1", "wf-1/case/1", "a1.hold")
    assert key != idempotency_key("wf-1", "wf-1/case/1", "a1.refund")
    assert key != idempotency_key("wf-2", "wf-2/case/1", "a1.hold")
    assert len(idempotency_key("w" * 300, "c", "s")) <= 255
