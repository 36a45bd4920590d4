"""Retention on cancel (sales-v1 runs): the one offer a cancel case may make before its
confirmation, and how the customer's answer is read. Pure and deterministic: it runs inside
the procedure engine (base.py), in workflows.

The tenant's ``sales.retention`` policy chooses the reasons it applies to and the offer
(a discount or free shipping on the next order, as a one-use code; or an exchange for another
size or colour). The rules that keep it from being a trap:

- one offer per case, asked at most twice (the second time plainly, after an unclear answer);
  a second unclear answer is taken as no;
- "no", or insisting on the cancel ("just cancel it", "yes cancel it"), goes straight on to
  the usual cancel confirmation, with no second offer;
- a customer who turns offers down before one is made ("cancel it, I don't want any offer",
  "just cancel it") gets none;
- only an offer the store can honour is made (it can create discount codes, or change items).

A yes is read more loosely than the cancel's consent (procedures/consent/): taking the offer
keeps the order as it is, and nothing is lost by it; a no still has to pass the cancel's own
strict confirmation before anything is cancelled.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from supportflow.policy.model import TenantPolicy
from supportflow.procedures.case import CaseState, RetentionOffer
from supportflow.procedures.consent import consent
from supportflow.procedures.facts import CaseFacts
from supportflow.store.actions import StoreAction
from supportflow.understanding.contract import Understanding

# How long a retention code stays valid.
CODE_VALID = timedelta(days=30)
# The store capability a discount or free-shipping code needs (store/port.py Capability).
_CODE_CAPABILITY = "create_discount_code"
# The question is put at most this many times; an unclear answer after that is a no.
MAX_ASKS = 2

# Turning offers down, in the cancel request itself or as the answer to one.
_REFUSES = re.compile(
    r"\bno\s+(?:offers?|discounts?|deals?|codes?|coupons?|vouchers?)\b"
    r"|\b(?:don'?t|do\s+not|dont)\s+(?:want|need)\s+(?:any|an|a|the|your|other)?\s*"
    r"(?:offers?|discounts?|deals?|codes?|coupons?|vouchers?|exchanges?)\b"
    r"|\bnot\s+interested\b|\bwithout\s+(?:any\s+|an\s+)?(?:offers?|discounts?)\b"
    r"|\bjust\s+cancel\b|\bcancel\s+it\s+anyway\b|\bstill\s+(?:want\s+to\s+)?cancel\b",
    re.IGNORECASE,
)
# Insisting on the cancel in answer to the offer.
_INSISTS = re.compile(r"\bcancel|\brefund", re.IGNORECASE)
# Taking the offer in so many words: "I'll keep it", "keep the order", "I'll take the code".
_KEEPS = re.compile(
    r"\bkeep\b"
    r"|\b(?:take|want|like|accept|have|love)\b.{0,24}\b(?:offer|discount|code|deal|"
    r"free\s+shipping|exchange|swap|another\s+size|another\s+colou?r)\b"
    r"|\b(?:exchange|swap)\s+(?:it|them|please)\b",
    re.IGNORECASE,
)
# A negation up to two words before a phrase turns it around ("don't keep it", "I do not
# want to cancel"); a comma in between does not ("no, keep it").
_NEGATION = re.compile(
    r"\b(?:no|not|never|don'?t|dont|do\s+not|won'?t|wont|rather\s+not)\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)
# A message that opens with a no ("no, keep it" is not a plain yes).
_OPENS_WITH_NO = re.compile(r"^\W*(?:no|nope|nah|not)\b", re.IGNORECASE)

Answer = Literal["yes", "no", "unclear"]
# What a retention experiment's arm offers ("none": no offer, straight to the confirmation).
ArmOffer = Literal["none", "discount", "free_shipping", "exchange"]


def offer_for(state: CaseState, facts: CaseFacts, policy: TenantPolicy) -> RetentionOffer | None:
    """The offer this cancel case makes before its confirmation, or None: the tenant's
    policy is off, the reason is not one it applies to, an offer was already made (or
    refused), or the store could not honour it."""
    sales = policy.sales
    rules = sales.retention
    if state.procedure != "cancel" or state.offer is not None or state.reason is None:
        return None
    if not (sales.enabled and rules.enabled) or state.reason not in rules.reasons:
        return None
    if rules.offer == "exchange":
        if not facts.supports(StoreAction.MODIFY_ORDER_ITEMS):
            return None
        return RetentionOffer(kind="exchange")
    if facts.capabilities is not None and _CODE_CAPABILITY not in facts.capabilities:
        return None
    percent = rules.discount_percent if rules.offer == "discount" else None
    return RetentionOffer(kind=rules.offer, percent=percent)


def refuses_offers(text: str) -> bool:
    """Whether the customer turns offers down ("cancel it, I don't want any offer")."""
    return bool(_REFUSES.search(text))


def answer(text: str, u: Understanding) -> Answer:
    """The customer's answer to the offer: "yes" keeps the order (takes the offer), "no"
    goes on to the cancel's confirmation, anything else is asked again plainly."""
    plain = consent(text, action="retention")
    keeps, keep_negated = _said(_KEEPS, text)
    cancels, _ = _said(_INSISTS, text)
    yes = plain.kind == "yes" or keeps
    no = (
        cancels
        or keep_negated
        # "keep it" is a plain no to "shall I cancel?", and a yes to this question.
        or (plain.kind == "no" and not keeps)
        or bool(_REFUSES.search(text))
        or u.intent == "cancel_order"
        or (u.intent == "decline" and not keeps)
    )
    if yes and not no and not _OPENS_WITH_NO.search(text):
        return "yes"
    if no and not yes:
        return "no"
    return "unclear"


def _said(pattern: re.Pattern[str], text: str) -> tuple[bool, bool]:
    """Whether ``pattern`` is said plainly somewhere in ``text``, and whether it is said
    negated somewhere ("don't keep it")."""
    plainly = negated = False
    for m in pattern.finditer(text):
        if _NEGATION.search(text[: m.start()]):
            negated = True
        else:
            plainly = True
    return plainly, negated


def asked(offer: RetentionOffer, now: datetime) -> RetentionOffer:
    """The offer as put to the customer (again)."""
    return offer.model_copy(
        update={"status": "asked", "asks": offer.asks + 1, "asked_at": offer.asked_at or now}
    )


def offer_facts(state: CaseState, *, unclear: bool = False) -> dict[str, object]:
    """What the offer's reply says: the order, the offer, and whether it is asked again."""
    offer = state.offer
    assert offer is not None
    return {
        "order_id": state.order_id,
        "offer": offer.kind,
        "percent": offer.percent,
        "unclear": unclear,
    }


def newly_offered(before: CaseState | None, after: CaseState | None) -> bool:
    """Whether this turn made a case's first retention offer (the moment a retention
    experiment counts the customer: sales-agent-v1 runs)."""
    if after is None or after.offer is None or after.offer.kind is None:
        return False
    if after.offer.status != "asked" or after.offer.asks != 1:
        return False
    return before is None or before.case_id != after.case_id or before.offer is None


def policy_for_arm(
    policy: TenantPolicy, offer: ArmOffer, percent: int | None
) -> TenantPolicy | None:
    """The policy a retention experiment's arm offers under: its offer (and percent) in
    place of the tenant's own; None for an arm that makes no offer."""
    if offer == "none":
        return None
    own = policy.sales.retention
    rules = own.model_copy(
        update={"offer": offer, "discount_percent": percent or own.discount_percent}
    )
    sales = policy.sales.model_copy(update={"retention": rules})
    return policy.model_copy(update={"sales": sales})


def kept(case: CaseState) -> Literal["saved", "cancelled", "escalated", "refused"]:
    """What became of a closed cancel case's order, for a retention experiment: kept (the
    offer taken, the cancel not confirmed, the case dropped or left unanswered), cancelled,
    or not the customer's decision (a person took it over; the store refused)."""
    if case.step == "done":
        accepted = case.offer is not None and case.offer.status == "accepted"
        return "saved" if accepted else "cancelled"
    if case.step in ("escalated", "refused"):
        return case.step
    return "saved"
