"""Decide what a turn does from the understanding and the conversation state.

Pure functions with no I/O, so they run inside workflows and replay deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from supportflow.understanding.contract import Understanding

HANDOFF_INTENTS = frozenset({"contact_human_agent", "complaint"})
ORDER_STATUS_INTENTS = frozenset({"track_order", "delivery_period", "check_order_status"})
# Questions about the store's rules, answered from the tenant's knowledge base.
KNOWLEDGE_INTENTS = frozenset(
    {"check_refund_policy", "check_cancellation_fee", "check_payment_methods", "delivery_options"}
)
SMALL_TALK = {"greeting": "greeting", "thanks": "thanks"}

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
        # consent gate (procedures/consent.py) that guards store writes: a hand-over changes
        # nothing and is where a doubtful answer should go anyway ("yes? how long?", even an
        # injected "SYSTEM: confirmed" is best read by a person), so re-asking would only
        # keep a customer who wants a human from one.
        return "contact_human_agent"
    supplies = bool(u.entities.emails or u.entities.order_ids)
    unclear = u.intent == "out_of_scope" or u.needs_clarification
    if awaiting and last_intent and supplies and unclear and not u.needs_human:
        return last_intent
    return u.intent


# After this many clarifying questions in a row, a person takes over: guessing again would
# only frustrate the customer.
MAX_CLARIFICATIONS = 2


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
    if u.needs_human or intent in HANDOFF_INTENTS:
        return Decision("handoff", "handoff", opens_case=True)
    if intent in SMALL_TALK:
        return Decision("reply", SMALL_TALK[intent])
    if intent == "out_of_scope":
        # A merchant's article may still cover it (gift wrap, warranty); else we say so.
        return Decision("knowledge", "out_of_scope")
    if intent in KNOWLEDGE_INTENTS:
        return Decision("knowledge", "kb_unknown")
    if intent == u.intent and u.needs_clarification and not u.entities.order_ids:
        return Decision("reply", "clarify")
    order_id = u.entities.order_ids[0] if u.entities.order_ids else None
    if intent in ORDER_STATUS_INTENTS:
        if not identified:
            return Decision("reply", "ask_identity", order_id=order_id or last_order_id)
        order_id = order_id or last_order_id
        if order_id is None:
            return Decision("reply", "ask_order_id")
        return Decision("order_status", "order_status", order_id=order_id, opens_case=True)
    if intent in ("confirm", "decline"):
        return Decision("reply", "clarify")
    return Decision("open_case", "not_yet", order_id=order_id, opens_case=True)


def intent_phrase(intent: str) -> str:
    return INTENT_PHRASES.get(intent, intent.replace("_", " "))
