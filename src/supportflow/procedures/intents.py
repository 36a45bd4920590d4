"""What each intent of the understanding engine is answered with: the one table.

The dispatcher (``procedures/dispatch.py``), the procedures (``procedures/base.py``) and the
router kept for conversations recorded before the dispatcher (``procedures/router.py``) all
read it; none keeps a map of its own. Pure data, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supportflow.procedures.case import ProcedureName
from supportflow.understanding.contract import Understanding


@dataclass(frozen=True)
class RunProcedure:
    """A procedure serves it (a case: details, confirmation, store actions)."""

    procedure: ProcedureName


@dataclass(frozen=True)
class AskKnowledge:
    """The tenant's knowledge base answers it; ``fallback`` is the reply when no article does."""

    fallback: str


@dataclass(frozen=True)
class AnswerProduct:
    """The store's catalogue answers it (options, prices, what is in stock); the knowledge
    base when no product is named."""


@dataclass(frozen=True)
class Say:
    """A reply with nothing to look up (small talk; a yes or no with no question open)."""

    template: str


@dataclass(frozen=True)
class NoteForLater:
    """In scope, but the agents cannot do it yet: noted for a person ("not_yet")."""


Handler = RunProcedure | AskKnowledge | AnswerProduct | Say | NoteForLater

INTENTS: dict[str, Handler] = {
    "cancel_order": RunProcedure("cancel"),
    "return_items": RunProcedure("return"),
    "exchange_items": RunProcedure("exchange"),
    "modify_order_items": RunProcedure("modify_items"),
    "modify_order_payment": RunProcedure("modify_payment"),
    "set_up_shipping_address": RunProcedure("user_address"),
    "track_order": RunProcedure("order_status"),
    "check_order_status": RunProcedure("order_status"),
    "delivery_period": RunProcedure("order_status"),
    "track_refund": RunProcedure("refund_status"),
    "get_refund": RunProcedure("refund_status"),
    "contact_human_agent": RunProcedure("handoff"),
    "complaint": RunProcedure("handoff"),
    # Questions about the store's rules.
    "check_refund_policy": AskKnowledge("kb_unknown"),
    "check_cancellation_fee": AskKnowledge("kb_unknown"),
    "check_payment_methods": AskKnowledge("kb_unknown"),
    "delivery_options": AskKnowledge("kb_unknown"),
    "product_question": AnswerProduct(),
    # A merchant's article may still cover it (gift wrap, warranty); else we say so.
    "out_of_scope": AskKnowledge("out_of_scope"),
    "greeting": Say("greeting"),
    "thanks": Say("thanks"),
    "confirm": Say("clarify"),
    "decline": Say("clarify"),
}


def handler_for(intent: str) -> Handler:
    """The handler of an intent; in-scope intents with none are noted for a person."""
    return INTENTS.get(intent, NoteForLater())


def intents_of(procedure: ProcedureName) -> frozenset[str]:
    return frozenset(
        i for i, h in INTENTS.items() if isinstance(h, RunProcedure) and h.procedure == procedure
    )


_ACCOUNT = re.compile(r"\b(default|account|profile|my address|home address)\b", re.I)
_ADDRESS = re.compile(r"\baddress\b", re.I)
_PAYMENT = re.compile(r"\b(pay|payment|paypal|card)\b", re.I)


def procedure_for(u: Understanding, text: str = "") -> ProcedureName | None:
    """The procedure an understanding asks for, or None (no procedure serves it). Two intents
    are not in the table: which procedure serves them depends on what the customer wrote."""
    handler = handler_for(u.intent)
    if u.needs_human or handler == RunProcedure("handoff"):
        return "handoff"
    if u.needs_clarification:
        return None
    if u.intent == "change_shipping_address":
        has_order = bool(u.entities.order_ids)
        return "user_address" if _ACCOUNT.search(text) and not has_order else "modify_address"
    if u.intent == "change_order":
        if _ADDRESS.search(text):
            return "modify_address"
        return "modify_payment" if _PAYMENT.search(text) else "modify_items"
    return handler.procedure if isinstance(handler, RunProcedure) else None
