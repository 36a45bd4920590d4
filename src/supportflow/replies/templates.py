"""Default reply templates and their sandboxed rendering.

Templates are Jinja2 in a sandbox because merchants edit them: a template can format facts,
never reach Python objects. Facts come from tool results only, so a reply cannot state an
order status the store did not return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

DEFAULT_TEMPLATES: dict[str, str] = {
    "greeting": "Hi{% if first_name %} {{ first_name }}{% endif %}! I can check an order, "
    "and help with cancellations, returns and address changes. What can I do for you?",
    "thanks": "You're welcome! Is there anything else I can help with?",
    "ask_identity": "I can help with that. First, please tell me the email address on your "
    "account so I can find your orders.",
    "identity_not_found": "I couldn't find an account with that email address. Could you "
    "check it, or give the email you used when ordering?",
    "ask_order_id": "Which order is it about? Please give the order number, like #W1234567.",
    "order_status": "Order {{ order_id }} is {{ status_phrase }}."
    "{% if items %} It contains {{ items | join(', ') }}.{% endif %}"
    "{% if tracking_ids %} Tracking number{{ 's' if tracking_ids | length > 1 else '' }}: "
    "{{ tracking_ids | join(', ') }}.{% endif %}",
    "order_not_found": "I couldn't find order {{ order_id }} on your account. Could you check "
    "the number?",
    "handoff": "I'm passing you to a member of our support team; they'll reply here shortly.",
    "not_yet": "I've noted your request ({{ intent_phrase }}). A member of our team will pick it "
    "up and reply here.",
    "clarify": "Sorry, I'm not sure I understood. Could you tell me a bit more about what you "
    "need: an order's status, a cancellation, a return, or an address change?",
    "out_of_scope": "I can only help with questions about your orders and our store. Is there "
    "something about an order I can do for you?",
    "store_unavailable": "I can't reach our order system right now. I'll keep trying; please "
    "write again in a few minutes.",
}

STATUS_PHRASES: dict[str, str] = {
    "pending": "pending: it hasn't been processed yet",
    "processed": "processed and on its way",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "return requested": "awaiting your return",
    "exchange requested": "awaiting your exchange",
    "pending (item modified)": "pending, with the item change you asked for",
}

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class UnknownTemplate(KeyError):
    pass


def render(name: str, facts: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> str:
    source = (overrides or {}).get(name) or DEFAULT_TEMPLATES.get(name)
    if source is None:
        raise UnknownTemplate(name)
    return " ".join(_env.from_string(source).render(**facts).split())
