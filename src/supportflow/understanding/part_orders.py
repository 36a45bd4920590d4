"""Which order a request of a several-request message is about when its own words name none.

"Cancel #W1234567, and change the address on it to ..." - the second request says "it": it is
about the order the first named. The rule, applied where parts are built (``request_parts.py``)
and again where order ids are re-read in the tenant's format (``entities.with_order_numbers``):
a request about an order that names no order id takes the previous request's when it refers
back ("it", "that order", "the same one"), or the message's only order id when it names exactly
one and the request does not point at another order ("my last order", "the other one").
Account, subscription and policy requests and yes/no parts never take one.
"""

from __future__ import annotations

import re

from supportflow.understanding.contract import Entities

# Requests about an order; account, subscription and policy requests never take an order id.
ORDER_INTENTS = frozenset(
    [
        "cancel_order",
        "return_items",
        "exchange_items",
        "modify_order_items",
        "modify_order_payment",
        "change_shipping_address",
        "change_order",
        "track_order",
        "delivery_period",
        "track_refund",
        "get_refund",
        "get_invoice",
        "check_invoice",
        "payment_issue",
        "complaint",
        "product_question",
    ]
)
# Pointing at an order other than the one just named ("my other order", "the last one").
OTHER_ORDER = re.compile(
    r"\b(?:(?:my|the|an?)\s+)?(?:other|another|last|previous|older|earlier|first|second|third"
    r"|different|separate|new|newer|recent|most recent)\s+(?:one|order|purchase|package)\b"
    r"|\bfrom last time\b|\bthe other\b|\blast (?:week|month|year)'?s?\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(
    r"\b(?:it|its|it's|that order|this order|the same (?:one|order)|same order|that one"
    r"|this one|them|that)\b",
    re.IGNORECASE,
)


def inherit_order_ids(parts: list[tuple[str, str, Entities]]) -> None:
    """Fill in, in place, the order ids of (intent, text, entities) parts that name none."""
    message_ids = list(dict.fromkeys(i for _, _, e in parts for i in e.order_ids))
    previous: list[str] = []
    for intent, text, ents in parts:
        if ents.order_ids or intent not in ORDER_INTENTS:
            previous = ents.order_ids or previous
            continue
        if previous and _REFERS_BACK.search(text) and not OTHER_ORDER.search(text):
            ents.order_ids = list(previous)
        elif len(message_ids) == 1 and not OTHER_ORDER.search(text):
            ents.order_ids = list(message_ids)
        previous = ents.order_ids or previous
