"""The router of conversations recorded before the dispatcher (``procedures/dispatch.py``).

Runs without PATCH_DISPATCH answered order status, hand-overs and store questions here, with
the procedures only for store actions; their histories replay through it. It reads the one
intent table (``procedures/intents.py``). Also the intent phrases replies use, and
``effective_intent``, which both paths share.

Pure functions with no I/O, so they run inside workflows and replay deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from supportflow.procedures.dispatch import MAX_CLARIFICATIONS
from supportflow.procedures.intents import (
    AskKnowledge,
    RunProcedure,
    Say,
    handler_for,
    intents_of,
)
from supportflow.understanding.contract import Understanding

ORDER_STATUS_INTENTS = intents_of("order_status")

INTENT_PHRASES: dict[str, str] = {
    "cancel_order": "cancel an order",
    "change_order": "change an order",
    "modify_order_items": "change items in an order",
    "modify_order_payment": "change an order's payment method",
    "change_shipping_address": "change a shipping address",
    "set_up_shipping_address": "set up a shipping address",
    "return_items": "return items",
    "exchange_items": "exchange items",
    "get_refund": "a refund",
    "track_refund": "a refund's status",
    "check_refund_policy": "our refund policy",
    "check_cancellation_fee": "cancellation fees",
    "payment_issue": "a payment issue",
    "check_payment_methods": "payment methods",
    "check_invoice": "an invoice",
    "get_invoice": "an invoice",
    "place_order": "placing an order",
    "delivery_options": "delivery options",
    "create_account": "creating an account",
    "delete_account": "deleting an account",
    "edit_account": "editing your account",
    "recover_password": "recovering your password",
    "registration_problems": "registration problems",
    "switch_account": "switching accounts",
    "newsletter_subscription": "the newsletter",
    "cancel_subscription": "cancelling a subscription",
    "pause_subscription": "pausing a subscription",
    "review": "leaving a review",
    "contact_customer_service": "contacting customer service",
    "track_order": "where an order is",
    "check_order_status": "an order's status",
    "delivery_period": "when an order arrives",
    "contact_human_agent": "talking to a person",
    "complaint": "your complaint",
    "product_question": "a product question",
    "out_of_scope": "a question about the store",
}

Action = Literal[
    "reply",  # answer with a template, no tool needed
    "order_status",  # look the order up, then answer
    "handoff",  # hand over to a human
    "open_case",  # note a request the agents cannot do yet
    "knowledge",  # answer from the tenant's knowledge base
]


@dataclass(frozen=True)
class Decision:
    action: Action
    template: str
    order_id: str | None = None
    opens_case: bool = False


def effective_intent(u: Understanding, *, awaiting: str | None, last_intent: str | None) -> str:
    """The intent this turn serves. A message that only supplies what the agent asked for
    (an email, an order number) continues the request that asked for it."""
    if awaiting == "handoff_offer" and u.intent == "confirm":
        # "yes" to "shall I pass you to a person?". Deliberately looser than the strict
        # consent gate (procedures/consent/) that guards store writes: a hand-over changes
        # nothing and is where a doubtful answer should go anyway ("yes? how long?", even an
        # injected "SYSTEM: confirmed" is best read by a person), so re-asking would only
        # keep a customer who wants a human from one.
        return "contact_human_agent"
    supplies = bool(u.entities.emails or u.entities.order_ids)
    unclear = u.intent == "out_of_scope" or u.needs_clarification
    if awaiting and last_intent and supplies and unclear and not u.needs_human:
        return last_intent
    return u.intent


def decide(
    u: Understanding,
    intent: str,
    *,
    identified: bool,
    last_order_id: str | None,
    clarifications: int = 0,
) -> Decision:
    """`clarifications` counts the clarifying questions asked in a row before this turn."""
    decision = _decide(u, intent, identified=identified, last_order_id=last_order_id)
    if decision.template == "clarify" and clarifications >= MAX_CLARIFICATIONS:
        return Decision("handoff", "handoff", opens_case=True)
    return decision


def _decide(
    u: Understanding, intent: str, *, identified: bool, last_order_id: str | None
) -> Decision:
    handler = handler_for(intent)
    if u.needs_human or handler == RunProcedure("handoff"):
        return Decision("handoff", "handoff", opens_case=True)
    if isinstance(handler, Say) and handler.template != "clarify":
        return Decision("reply", handler.template)
    if isinstance(handler, AskKnowledge):
        return Decision("knowledge", handler.fallback)
    if intent == u.intent and u.needs_clarification and not u.entities.order_ids:
        return Decision("reply", "clarify")
    order_id = u.entities.order_ids[0] if u.entities.order_ids else None
    if handler == RunProcedure("order_status"):
        if not identified:
            return Decision("reply", "ask_identity", order_id=order_id or last_order_id)
        order_id = order_id or last_order_id
        if order_id is None:
            return Decision("reply", "ask_order_id")
        return Decision("order_status", "order_status", order_id=order_id, opens_case=True)
    if isinstance(handler, Say):
        return Decision("reply", "clarify")
    return Decision("open_case", "not_yet", order_id=order_id, opens_case=True)


def intent_phrase(intent: str) -> str:
    return INTENT_PHRASES.get(intent, intent.replace("_", " "))
