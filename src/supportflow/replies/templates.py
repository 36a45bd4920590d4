"""The shipped wording of replies: the default templates and the words for an order's status.

Merchants may override a template by name (overrides.py); rendering is in render.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# -- product answers (sales/products.py): the sales agent's parts, issue 14 ------------------
# Facts recorded before these parts existed lack them: hence the defaults.
# After a sold-out variant: "; in stock: the same in size 10 at $120.00, in black at $118.00
# or in size 10 and black at $125.00" (closest first).
_PRODUCT_ALTERNATIVES = (
    "{% for alt in p.alternatives | default([]) "
    "if alt.item_id == v.item_id | default(none) and alt.variants %}; in stock: the same"
    "{% for a in alt.variants %}{% if not loop.first %}{{ ' or' if loop.last else ',' }}"
    "{% endif %}{% if a.differs_words %} in {{ a.differs_words | join(' and ') }}{% endif %}"
    " at {{ a.price }}{% endfor %}{% endfor %}"
)
_DIFFER_IN = (
    "they differ in {% for k in c.differs_in %}{% if not loop.first %}"
    "{{ ' and ' if loop.last else ', ' }}{% endif %}{{ k }}{% endfor %}"
)
# Two or more variants named: "The 6 ft one is $20.00 more than the 4 ft one; they differ in
# height." (of more than two, the dearest against the cheapest).
_PRODUCT_COMPARISON = (
    "{% set c = p.comparison | default(none) %}{% if c %}{% if c.same_price %}"
    "{% if c.count > 2 %}All {{ c.count }} cost the same, {{ c.cheaper.price }}. "
    "{% else %}Both cost the same, {{ c.cheaper.price }}; " + _DIFFER_IN + ". {% endif %}"
    "{% else %}{% if c.count > 2 %}Of those {{ c.count }}, the{% else %}The{% endif %} "
    "{{ c.dearer.differs_words | join(', ') }} one is "
    "{% if c.count > 2 %}the dearest, {% endif %}"
    "{{ c.difference }} more than the {{ c.cheaper.differs_words | join(', ') }} one; "
    + _DIFFER_IN
    + ". {% endif %}{% endif %}"
)

DEFAULT_TEMPLATES: dict[str, str] = {
    "greeting": "Hi{% if first_name %} {{ first_name }}{% endif %}! I can check an order, "
    "and help with cancellations, returns and address changes. What can I do for you?",
    "thanks": "You're welcome! Is there anything else I can help with?",
    "ask_identity": "I can help with that. First, please tell me the email address on your "
    "account so I can find your orders.",
    "identity_not_found": "I couldn't find an account with that email address. Could you "
    "check it, or give the email you used when ordering?",
    "ask_order_id": "Which order is it about? Please give the order number, like "
    "{{ order_example | default('#W1234567') }}.",
    "order_status": "Order {{ order_id }} is {{ status_phrase }}."
    "{% if items %} It contains {{ items | join(', ') }}.{% endif %}"
    "{% if tracking_ids %} Tracking number{{ 's' if tracking_ids | length > 1 else '' }}: "
    "{{ tracking_ids | join(', ') }}.{% endif %}",
    "order_not_found": "I couldn't find order {{ order_id }} on your account. Could you check "
    "the number?",
    "handoff": "I'm passing you to a member of our support team.",
    # Said after every hand-over (people-v1 runs): the truth about when a person will answer.
    "person_availability": "{% if status == 'open' %}Someone from our team is in now and "
    "will answer here.{% elif status == 'closed' %}Our team is away right now; they'll answer "
    "here when they're back, from {{ opens }}.{% else %}They'll answer here as soon as they "
    "can.{% endif %}",
    "not_yet": "I've noted your request ({{ intent_phrase }}). A member of our team will pick it "
    "up and reply here.",
    "clarify": "Sorry, I'm not sure I understood. Could you tell me a bit more about what you "
    "need: an order's status, a cancellation, a return, or an address change?",
    "out_of_scope": "I can only help with questions about your orders and our store. Is there "
    "something about an order I can do for you?",
    "kb_answer": "{{ text }}",
    # --- the merchant's own actions (issue 16): an article its action could not fill ---------
    "custom_action_unavailable": "Sorry, I can't look that up from here right now. Would you "
    "like me to pass your question to a member of our team?",
    "custom_action_no": "I checked, but I couldn't find that for your account. Would you like "
    "me to pass your question to a member of our team?",
    # --- several requests in one message, taken one after another ---------------------------
    "several_requests": "I see {{ requests | length }} requests in your message "
    "({{ requests | join('; ') }}). I'll take them one at a time, in that order.",
    "next_request": "Next, {{ request }}:",
    "kb_unknown": "I'm not sure about that one, and I'd rather not guess. Would you like me to "
    "pass you to a member of our team?",
    # --- product questions, answered from the store's catalogue ---------------------------
    "product_info": "{% for p in products %}{% if not loop.first %} {% endif %}"
    "{% for v in p.asked %}The {{ p.name }}{% if v.label %} in {{ v.label }}{% endif %} is "
    "{% if v.available %}in stock at {{ v.price }}{% else %}out of stock right now"
    + _PRODUCT_ALTERNATIVES
    + "{% endif %}. {% endfor %}"
    + _PRODUCT_COMPARISON
    + "{% if p.in_stock %}The {{ p.name }} comes in {{ p.in_stock }} version"
    "{{ 's' if p.in_stock > 1 else '' }} in stock, {{ p.price_range }}"
    "{% else %}The {{ p.name }} is out of stock in every version right now{% endif %}"
    "{% for key, values in p.options.items() %}{{ '; ' if not loop.first else ' (' }}"
    "{{ key }}: {{ values | join(', ') }}{{ ')' if loop.last else '' }}{% endfor %}."
    "{% endfor %}",
    "product_unknown": "I couldn't tell which product you mean. Could you give its name as it "
    "appears in our shop?",
    "store_unavailable": "I can't reach our order system right now. I'll keep trying; please "
    "write again in a few minutes.",
    # --- verifying who the customer is (one-time code by email) ----------------------------
    "ask_verification": "I can help with that. First I need to make sure it's you: what's the "
    "email address on your account? I'll send a 6-digit code to it.",
    "code_sent": "If {{ email }} has an account with us, a 6-digit code is on its way to it. "
    "Please type the code here; it's valid for 10 minutes.",
    "code_rate_limited": "I've already sent several codes. Please look for the latest one in your "
    "inbox (and spam folder), or try again in {{ minutes }} minutes.",
    "code_wrong": "That code doesn't match.{% if tries_left %} You have {{ tries_left }} more "
    "{{ 'try' if tries_left == 1 else 'tries' }}.{% endif %}",
    "code_expired": "That code has expired or was already used. Tell me the email address on "
    "your account again and I'll send a new one.",
    "code_locked": "That was too many wrong codes. Tell me the email address on your account "
    "again and I'll send a new code.",
    "verified": "Thanks{% if first_name %}, {{ first_name }}{% endif %}: you're verified."
    "{% if ask_next %} What can I do for you?{% endif %}",
    "no_account": "You're verified, but I couldn't find an account with that email address. "
    "If you ordered with another address, tell me and I'll send a code to it.",
    "order_status_limited": "Order {{ order_id }} is {{ status_phrase }}."
    "{% if tracking_ids %} Tracking number{{ 's' if tracking_ids | length > 1 else '' }}: "
    "{{ tracking_ids | join(', ') }}.{% endif %} For anything else about it, I first need to "
    "make sure it's you: I can send a 6-digit code to the email on your account.",
    "code_unavailable": "I can't send a sign-in code right now. Please try again in a few "
    "minutes, or ask for a member of our team.",
    "case_not_yours": "This request was started by someone else, so I can't continue it. "
    "To help with your own orders I first need to make sure it's you: what's the email "
    "address on your account?",
    "technical_handoff": "Sorry, something went wrong on our side while I was working on your "
    "message. I've passed your conversation to a member of our team, who will pick it up "
    "from here.",
    # --- how an answer is framed on email and SMS (activities/channels.py) -----------------
    # Line breaks are kept in frames (an email has paragraphs); `body` is the agent's answer.
    "email_frame": "Hi{% if first_name %} {{ first_name }}{% endif %},\n\n{{ body }}\n\n"
    "If there's anything else, just reply to this email.\n\nBest regards,\n{{ store }} support",
    "sms_frame": "{{ store }}: {{ body }}",
}

# Channels a template may have its own wording for: `<name>.<channel>` (shipped below or a
# tenant's override) is used for a message on that channel, else `<name>`.
TEMPLATE_CHANNELS = ("email", "sms")

# Shipped wordings per channel: an SMS is one short paragraph and has no web page to point at.
CHANNEL_TEMPLATES: dict[str, str] = {
    "greeting.sms": "Hi{% if first_name %} {{ first_name }}{% endif %}! I can check, cancel or "
    "return an order, or change its address. What do you need?",
    "ask_verification.sms": "Sure. First, what's the email on your account? I'll send a 6-digit "
    "code to it.",
    "code_sent.sms": "If {{ email }} has an account with us, a 6-digit code is on its way to "
    "it. Text it back here (valid 10 min).",
    "out_of_scope.sms": "Sorry, I can only help with your orders and our store.",
    "clarify.sms": "Sorry, I didn't get that. Is it about an order's status, a cancellation, "
    "a return or an address change?",
    # By email, replying in our thread proves the mailbox (channels/records.replies_to_ours):
    # no code needs typing, though the mailed one works too.
    "ask_verification.email": "I can help with that. First I need to make sure it's you: "
    "please just reply to this email, and I'll carry on from there.",
    "code_sent.email": "I can help with that. To keep your account safe, please reply to this "
    "email to confirm it's you (or type the 6-digit code I've sent to {{ email }}), and I'll "
    "carry on from there.",
    "case_not_yours.email": "To go on with this request I first need to make sure it's you: "
    "please just reply to this email, and I'll carry on from there.",
    "greeting.email": "Hello{% if first_name %} {{ first_name }}{% endif %}, thanks for "
    "writing to us. I can check an order for you, and help with cancellations, returns and "
    "address changes. Tell me what you need and, if it's about an order, its number.",
}


def base_template(name: str) -> str:
    """`order_status` for `order_status.sms`; the name itself otherwise."""
    base, _, channel = name.rpartition(".")
    return base if base and channel in TEMPLATE_CHANNELS else name


STATUS_PHRASES: dict[str, str] = {
    "pending": "pending: it hasn't been processed yet",
    "processed": "processed and on its way",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "return requested": "awaiting your return",
    "exchange requested": "awaiting your exchange",
    "pending (item modified)": "pending, with the item change you asked for",
}


def reply_facts(facts: Mapping[str, Any]) -> Mapping[str, Any]:
    """``facts`` with ``status_phrase`` added when they carry an order's ``status`` and no
    phrase for it: procedures state the store's status, and the words for it are ours."""
    if "status" not in facts or "status_phrase" in facts:
        return facts
    status = facts["status"]
    return {**facts, "status_phrase": STATUS_PHRASES.get(status or "", status)}


# -- support procedures (procedures/) --------------------------------------------------------
# Confirmations say exactly what will happen, and where and when money goes: at once for a
# gift card, 5-7 business days for any other method.

_REFUND_LINES = (
    "{% for r in refunds %}{{ r.amount }} to {{ r.to }} "
    "({{ 'at once' if r.at_once else 'in 5-7 business days' }})"
    "{{ '' if loop.last else ' and ' }}{% endfor %}"
)
_REFUND_TIMING = (
    "{% if refund_at_once and refund_later %}The gift card part arrives at once; the rest "
    "takes 5-7 business days to appear.{% elif refund_at_once %}A gift card refund arrives at "
    "once.{% else %}The refund takes 5-7 business days to appear on your statement.{% endif %}"
)
_APPROVAL_NOTE = (
    "{% if needs_approval %} A member of our team will need to approve it first.{% endif %}"
)
_YES_NO = " Shall I go ahead? Please answer yes or no."
_SWAPS = (
    "{% for c in changes %}{{ c.old }} ({{ c.old_price }}) for {{ c.new }} ({{ c.new_price }})"
    "{{ '' if loop.last else '; ' }}{% endfor %}"
)
_DIFFERENCE = (
    "{% if pay_more %} The difference of {{ difference }} will be charged to {{ payment }}."
    "{% elif refund_back %} The difference of {{ difference }} goes back to {{ payment }}, "
    "{{ 'at once' if refund_at_once else 'in 5-7 business days' }}.{% else %} The price is "
    "the same.{% endif %}"
)

DEFAULT_TEMPLATES.update(
    {
        # questions
        "ask_cancel_reason": "I can cancel order {{ order_id }}. May I ask why: is it no "
        "longer needed, or was it ordered by mistake?",
        "ask_items": "Which items from order {{ order_id }} would you like to {{ purpose }}? "
        "It contains {{ items | join('; ') }}.",
        "ask_new_items": "{% if unavailable %}Sorry, the {{ name }} in {{ unavailable }} is "
        "out of stock. {% endif %}{% if other_product %}I can only swap an item for another "
        "version of the same product, not for {{ other_product | join(', ') }}. {% endif %}"
        "Which {{ name }} would you like instead of {{ item }}? Available: "
        "{{ options | join('; ') }}{% if more_options %}, and more{% endif %}.",
        "ask_payment_method": "{% if not_found %}I couldn't find that payment method on your "
        "account. {% endif %}Which payment method should I use to {{ purpose }}? On your "
        "account: {{ methods | join('; ') }}.",
        "ask_refund_method": "{% if not_allowed %}A return can only be refunded to the original "
        "payment method or to a gift card. {% elif not_found %}I couldn't find that payment "
        "method on your account. {% endif %}Where should the refund go: "
        "{{ methods | join(' or ') }}?",
        "ask_address": "Please write the new address{% if for_account %} for your account"
        "{% else %} for order {{ order_id }}{% endif %} like this: street, apartment (if any), "
        'city, state and ZIP code, for example "12 Oak Street, Apt 4, Austin, TX 78701".',
        # confirmations
        "confirm_cancel": "To confirm: I'll cancel order {{ order_id }} ({{ items | join('; ') "
        "}}) because it was {{ reason }}, and refund {{ amount }}: "
        + _REFUND_LINES
        + ". "
        + _REFUND_TIMING
        + _APPROVAL_NOTE
        + _YES_NO,
        "confirm_modify_address": "To confirm: I'll ship order {{ order_id }} to {{ address }}"
        "{% if old_address %} instead of {{ old_address }}{% endif %}." + _APPROVAL_NOTE + _YES_NO,
        "confirm_modify_payment": "To confirm: I'll charge {{ amount }} for order {{ order_id }} "
        "to {{ payment }} and refund {{ old_payment }} "
        "{{ 'at once' if refund_at_once else 'in 5-7 business days' }}." + _APPROVAL_NOTE + _YES_NO,
        "confirm_modify_items": "To confirm: in order {{ order_id }} I'll change "
        + _SWAPS
        + "."
        + _DIFFERENCE
        + " Items can only be changed once, so please check they're right."
        + _APPROVAL_NOTE
        + _YES_NO,
        "confirm_return": "To confirm: I'll start a return of {{ items | join('; ') }} from "
        "order {{ order_id }}. Once we receive them, you'll get {{ amount }} back: "
        + _REFUND_LINES
        + ". "
        + _REFUND_TIMING
        + _APPROVAL_NOTE
        + _YES_NO,
        "confirm_exchange": "To confirm: for order {{ order_id }} I'll exchange "
        + _SWAPS
        + "."
        + _DIFFERENCE
        + " You'll get instructions to send the old items back."
        + _APPROVAL_NOTE
        + _YES_NO,
        "confirm_user_address": "To confirm: I'll change your default address to {{ address }}"
        "{% if old_address %} (it is now {{ old_address }}){% endif %}. Orders already placed "
        "keep their address." + _APPROVAL_NOTE + _YES_NO,
        # done
        "cancel_done": "Done: order {{ order_id }} is cancelled, and {{ amount }} is on its way "
        "back: " + _REFUND_LINES + ". " + _REFUND_TIMING,
        "modify_address_done": "Done: order {{ order_id }} will ship to {{ address }}.",
        "modify_payment_done": "Done: order {{ order_id }} is now paid with {{ payment }}; "
        "{{ old_payment }} is refunded "
        "{{ 'at once' if refund_at_once else 'in 5-7 business days' }}.",
        "modify_items_done": "Done: order {{ order_id }} now has " + _SWAPS + "." + _DIFFERENCE,
        "return_done": "Done: the return of {{ items | join('; ') }} from order {{ order_id }} "
        "is started; you'll receive instructions by email. Once we receive the items, "
        + _REFUND_LINES
        + ". "
        + _REFUND_TIMING,
        "exchange_done": "Done: the exchange for order {{ order_id }} is started ("
        + _SWAPS
        + "); you'll receive instructions by email."
        + _DIFFERENCE,
        "user_address_done": "Done: your default address is now {{ address }}.",
        # refusals, in plain words
        "cancel_not_pending": "I'm sorry, order {{ order_id }} can't be cancelled: it is "
        "{{ status_phrase }}, and only orders that haven't been processed yet can be cancelled."
        "{% if can_return %} I can help you return items from it instead.{% endif %}",
        "modify_not_pending": "I'm sorry, I can't change {{ what }} for order {{ order_id }}: "
        "it is {{ status_phrase }}, and only orders that haven't been processed yet can be "
        "changed.",
        "items_modified_once": "I'm sorry, the items in order {{ order_id }} were already "
        "changed once, and an order's items can only be changed once.",
        "not_delivered": "I'm sorry, order {{ order_id }} can't be {{ what }} yet: it is "
        "{{ status_phrase }}, and only delivered orders can be {{ what }}."
        "{% if can_cancel %} Since it hasn't been processed, I can cancel it instead.{% endif %}",
        "no_other_variant": "I'm sorry, there is no other version of {{ item }} available right "
        "now, so I can't swap it.",
        "gift_card_balance": "Your gift card has {{ balance }} left, which doesn't cover "
        "{{ amount }}.{% if methods %} Which other payment method should I use: "
        "{{ methods | join('; ') }}?{% endif %}",
        "payment_same": "Order {{ order_id }} is already paid with {{ payment }}."
        "{% if methods %} Which other method would you like: {{ methods | join('; ') }}?"
        "{% endif %}",
        "payment_change_split": "I'm sorry, the payment method of order {{ order_id }} can't "
        "be changed because it was paid in more than one payment. A member of our team can "
        "help.",
        "policy_denied": "I'm sorry, I can't {{ action }}: {{ reason }}"
        "{% if escalated %} I've passed your request on; they'll reply here.{% endif %}",
        "approval_requested": "Thank you. To {{ action }}, {{ reason }} I'll let you know here "
        "as soon as it's approved.",
        "approval_pending": "Your request to {{ action }} is still waiting for approval from "
        "our team. I'll let you know here as soon as there's an answer.",
        "approval_denied": "I'm sorry, our team couldn't approve the request to {{ action }}. "
        '{% if note is defined and note %}They said: "{{ note }}". {% endif %}'
        "Nothing was changed. Is there anything else I can help with?",
        "approval_expired": "I'm sorry, I couldn't get an approval to {{ action }} in time, so "
        "nothing was changed. I've passed your request to a member of our team.",
        "action_stuck": "I'm sorry: our order system still isn't answering, so I couldn't "
        "finish your request to {{ action }}. I've passed it to a member of our team, who will "
        "finish it; nothing will be done twice.",
        # changes of mind, timeouts and failures
        "case_abandoned": "No problem, I won't {{ action }}; nothing was changed. Is there "
        "anything else I can help with?",
        "case_timed_out": "I haven't heard back, so I've left everything as it was and won't "
        "{{ action }}. Just write again whenever you'd like to continue.",
        "action_in_progress": "I'm working on your request to {{ action }} right now; I'll "
        "confirm here as soon as it's done.",
        "action_delayed": "Our order system isn't answering right now. Your request to "
        "{{ action }} is saved, and I'll finish it as soon as the system is back; nothing "
        "will be done twice.",
        "action_store_down": "I couldn't reach our order system, so I couldn't {{ action }} "
        "and nothing was changed. Please reply yes in a few minutes to try again, or no to "
        "leave it.",
        "action_failed": "I'm sorry, I couldn't {{ action }}, and nothing was changed. I've "
        "passed your request to a member of our team; they'll reply here.",
        "action_incomplete": "I'm sorry, something went wrong while I tried to {{ action }}. "
        "I've passed it to a member of our team to finish; they'll reply here shortly.",
        "action_unsupported": "I'm sorry, I can't {{ action }} myself in this shop, so I "
        "haven't changed anything. I've passed your request to a colleague, who will handle "
        "it and reply here.",
        # information
        "refund_status": "Order {{ order_id }} is {{ status_phrase }}. "
        "{% if refunds %}Refunded so far: "
        + _REFUND_LINES
        + ". "
        + _REFUND_TIMING
        + "{% elif return_pending %}Your refund will be issued once we receive the returned "
        "items.{% else %}There's no refund on this order yet."
        "{% if can_cancel %} I can cancel it for a full refund if you like.{% elif can_return "
        "%} I can start a return for a refund if you like.{% endif %}{% endif %}",
    }
)

# -- strict consent (procedures/consent/) ------------------------------------------------------
# A confirmation asked again because the answer was not a plain yes (a question, a hedge, a
# mixed message, text claiming to be the system) says so first, in plain words. ``unclear``
# (a reason label) is set only on such a re-ask, so every other confirmation reads as before.
_UNCLEAR = (
    "{% if unclear is defined and unclear %}To be safe, I need a plain yes or no from you "
    "before I change anything. {% endif %}"
)
for _name in [n for n in DEFAULT_TEMPLATES if n.startswith("confirm_")]:
    DEFAULT_TEMPLATES[_name] = _UNCLEAR + DEFAULT_TEMPLATES[_name]

# -- sales messages (issue 14; activities/sales.py) ---------------------------------------------
# Facts: first_name, store, items (titles), total, checkout_url, code, discount_percent,
# offer ("none" | "discount" | "free_shipping"), order_id. Each email ends with how to stop
# these messages (the unsubscribe link is added by the sender); each SMS with "STOP".
_SALES_OFFER = (
    "{% if offer == 'discount' and code %} Use code {{ code }} for {{ discount_percent }}% off "
    "(valid for a few days).{% elif offer == 'free_shipping' and code %} Use code {{ code }} "
    "for free shipping.{% endif %}"
)
DEFAULT_TEMPLATES.update(
    {
        "sales_abandoned_checkout": "You left {{ items | join(', ') }} in your cart at "
        "{{ store }}. It's still waiting for you{% if checkout_url %}: {{ checkout_url }}"
        "{% endif %}." + _SALES_OFFER,
        "sales_abandoned_checkout.sms": "{{ store }}: your cart ({{ items | join(', ') }}) is "
        "still waiting{% if checkout_url %}: {{ checkout_url }}{% endif %}." + _SALES_OFFER,
        "sales_post_purchase_review": "We hope you're enjoying your order {{ order_id }} "
        "({{ items | join(', ') }}). Would you tell us how it went? Just reply to this message "
        "with a few words.",
        "sales_post_purchase_review.sms": "{{ store }}: how is your order {{ order_id }}? "
        "Reply with a few words, we read every one.",
        "sales_post_purchase_complementary": "Thanks again for order {{ order_id }}. Customers "
        "who bought {{ items | join(', ') }} often pick up something to go with it: have a "
        "look at {{ store }}." + _SALES_OFFER,
        "sales_post_purchase_complementary.sms": "{{ store }}: thanks for order "
        "{{ order_id }}! Something to go with it?" + _SALES_OFFER,
    }
)

# -- the support agent's sales part (issue 14, sales-v1 runs; procedures/retention.py and
# procedures/csat.py) -------------------------------------------------------------------------
# retention_offer facts: order_id, offer ("discount" | "free_shipping" | "exchange"), percent,
# unclear (asked again after an answer that was neither yes nor no). retention_saved adds
# code and valid_until. csat_ask ends a reply after a resolved case; csat_thanks answers the
# rating.
_OFFER_WHAT = (
    "{% if offer == 'discount' %}keep it and get {{ percent }}% off your next order instead"
    "{% elif offer == 'free_shipping' %}keep it and get free shipping on your next order "
    "instead{% else %}exchange it for another size or colour instead{% endif %}"
)
DEFAULT_TEMPLATES.update(
    {
        "retention_offer": "{% if unclear %}Sorry, I need a plain yes or no on this one. Would "
        "you like to " + _OFFER_WHAT + " (yes), or shall I go on with cancelling order "
        "{{ order_id }} (no)?{% else %}Before I cancel order {{ order_id }}: would you like to "
        + _OFFER_WHAT
        + "?{% if offer != 'exchange' %} You'd get a one-use code right here.{% endif %} "
        "Just say yes, or no and I'll go on with the cancellation.{% endif %}",
        "retention_saved": "Great, order {{ order_id }} stays as it is. Your one-use code for "
        "{% if offer == 'discount' %}{{ percent }}% off{% else %}free shipping on{% endif %} "
        "your next order is {{ code }}{% if valid_until %} (valid until {{ valid_until }})"
        "{% endif %}.",
        "retention_code_failed": "Great, order {{ order_id }} stays as it is. I couldn't create "
        "your code just now, so I've asked a member of our team to send it to you.",
        "csat_ask": "How did we do? Reply with a number from 1 (poor) to 5 (great).",
        "csat_thanks": "Thanks for your rating!",
    }
)
# Said before the item question when the customer took an exchange instead of cancelling
# (which item, or, for an order of one item, which version of it).
for _asks in ("ask_items", "ask_new_items"):
    DEFAULT_TEMPLATES[_asks] = (
        "{% if kept is defined and kept %}Great, I won't cancel it. {% endif %}"
        + DEFAULT_TEMPLATES[_asks]
    )
CHANNEL_TEMPLATES.update(
    {
        "retention_offer.sms": "{% if unclear %}Please reply YES to "
        + _OFFER_WHAT
        + ", or NO to cancel order {{ order_id }}.{% else %}Before I cancel {{ order_id }}: "
        "would you like to " + _OFFER_WHAT + "? Reply YES or NO.{% endif %}",
        "retention_saved.sms": "Great, order {{ order_id }} stays as it is. Your code for "
        "{% if offer == 'discount' %}{{ percent }}% off{% else %}free shipping on{% endif %} "
        "your next order: {{ code }}{% if valid_until %} (until {{ valid_until }}){% endif %}.",
        "csat_ask.sms": "How did we do? Reply 1 (poor) to 5 (great).",
        "csat_ask.email": "How did we do? Just reply to this email with a number from 1 "
        "(poor) to 5 (great).",
    }
)
