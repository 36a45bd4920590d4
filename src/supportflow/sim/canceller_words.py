"""What a simulated canceller says, and how it reads the agent's replies.

The wordings are written the way people write in a shop's chat (typos, no punctuation, the
order number with or without its "#"), not copied from the understanding model's training
data and never tuned to what the agent reads well: a wording the agent misreads is a finding
of the run (the report lists it with its text), not something to work around.

Replies are read by phrases of the default reply templates (replies/templates.py): a tenant
that rewrote its templates would need these phrases changed too. A reply matching none of
them is "unexpected", and the canceller stops there (recorded with the reply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from supportflow.sim.canceller_model import CancellerPlan, Reason, RetentionOffer

# --- what a canceller says (each list is indexed by one of the plan's wording draws) -----------
OPENING: dict[Reason, tuple[str, ...]] = {
    "no longer needed": (
        "hi pls cancel order {oid}, I don't need it anymore",
        "Can you cancel {oid}? I no longer need it.",
        "I'd like to cancel my order {oid}, changed my mind and don't need it",
        "cancel {oid} please, not needed anymore",
        "Hello, I want to cancel order {oid} because I don't need it any more.",
        "hey can u cancel my order {bare}? dont need it anymore",
    ),
    "ordered by mistake": (
        "I ordered this by mistake, can you cancel {oid}?",
        "hey, I placed order {oid} by accident, please cancel it",
        "Please cancel {oid}, I ordered the wrong thing by mistake",
        "oops, order {oid} was a mistake. cancel it please",
        "I accidentally ordered {oid}, can it be cancelled?",
        "hi, order {bare} was placed by mistake, could you cancel it",
    ),
}
REASON_ANSWER: dict[Reason, tuple[str, ...]] = {
    "no longer needed": ("I don't need it anymore", "no longer needed", "dont need it"),
    "ordered by mistake": ("I ordered it by mistake", "it was a mistake", "by mistake"),
}
ACCEPT: dict[str, tuple[str, ...]] = {
    "any": ("yes I'll keep it", "ok sure, keep the order then", "yes please", "yeah ok deal"),
    "discount": ("oh nice, yes I'll take the discount and keep it",),
    "free_shipping": ("ok, free shipping works, I'll keep it",),
    "exchange": ("yes, an exchange would be great", "yes please, I'd like to swap it"),
}
DECLINE = (
    "no thanks, just cancel it",
    "no, I still want to cancel",
    "nah please cancel it",
    "not interested, cancel the order please",
    "no",
)
CONFIRM = ("yes", "yes please cancel it", "yep go ahead", "yes, cancel it")
NEVER_MIND = (
    "actually never mind, keep it",
    "hmm on second thought I'll keep it",
    "no, don't cancel it after all",
    "wait no, leave the order as it is",
)
# Said after taking an exchange, when the agent asks which items: the canceller keeps the
# order as it is (the model does not go on to choose another size).
KEEP_AS_IS = ("never mind, I'll keep it as it is", "actually I'll just keep it as it is")
PLAIN_YES = ("yes",)
PLAIN_NO = ("no",)

# The lists a plan's ``wordings`` index, in order (canceller_model.WORDING_LISTS of them).
_OPENING, _REASON, _ACCEPT, _DECLINE, _CONFIRM, _NEVER_MIND, _KEEP_AS_IS, _PLAIN = range(8)


def _pick(options: tuple[str, ...], draw: int) -> str:
    return options[draw % len(options)]


def opening(plan: CancellerPlan, order_id: str) -> str:
    bare = order_id.lstrip("#")
    return _pick(OPENING[plan.reason], plan.wordings[_OPENING]).format(oid=order_id, bare=bare)


def reason_answer(plan: CancellerPlan) -> str:
    return _pick(REASON_ANSWER[plan.reason], plan.wordings[_REASON])


def accept(plan: CancellerPlan, offer: RetentionOffer) -> str:
    return _pick(ACCEPT["any"] + ACCEPT.get(offer.kind, ()), plan.wordings[_ACCEPT])


def decline(plan: CancellerPlan) -> str:
    return _pick(DECLINE, plan.wordings[_DECLINE])


def confirm(plan: CancellerPlan) -> str:
    return _pick(CONFIRM, plan.wordings[_CONFIRM])


def never_mind(plan: CancellerPlan) -> str:
    return _pick(NEVER_MIND, plan.wordings[_NEVER_MIND])


def keep_as_is(plan: CancellerPlan) -> str:
    return _pick(KEEP_AS_IS, plan.wordings[_KEEP_AS_IS])


def plain(plan: CancellerPlan, yes: bool) -> str:
    return _pick(PLAIN_YES if yes else PLAIN_NO, plan.wordings[_PLAIN])


# --- how a canceller reads a reply -------------------------------------------------------------
ReplyKind = Literal[
    "offer",  # retention_offer (``unclear``: asked again after an answer it did not read)
    "confirm",  # confirm_cancel: "To confirm: I'll cancel order ... yes or no"
    "ask_reason",  # ask_cancel_reason
    "saved",  # retention_saved / retention_code_failed: the order stays
    "exchange_kept",  # an exchange taken: "Great, I won't cancel it. Which items ..."
    "exchange_choose",  # an exchange taken, one item: "Which X would you like instead of Y?"
    "cancelled",  # cancel_done
    "dropped",  # case_abandoned / case_timed_out: nothing was changed
    "not_pending",  # cancel_not_pending
    "approval",  # approval_requested / approval_pending
    "handoff",  # passed to a person
    "unexpected",
]

_PERCENT = re.compile(r"(\d{1,2})% off your next order")


@dataclass(frozen=True)
class Reading:
    kind: ReplyKind
    offer: RetentionOffer | None = None
    unclear: bool = False


def _offer(reply: str) -> RetentionOffer:
    m = _PERCENT.search(reply)
    if m:
        return RetentionOffer("discount", int(m.group(1)))
    if "free shipping on your next order" in reply:
        return RetentionOffer("free_shipping")
    if "exchange it for another size" in reply:
        return RetentionOffer("exchange")
    return RetentionOffer()


def read_reply(text: str) -> Reading:
    """What the agent's reply asks or says, by the default templates' phrases."""
    reply = " ".join(text.lower().split())
    if "need a plain yes or no on this one" in reply:
        return Reading("offer", _offer(reply), unclear=True)
    if "before i cancel order" in reply and "would you like to" in reply:
        return Reading("offer", _offer(reply))
    if "to confirm: i'll cancel order" in reply:
        return Reading("confirm")
    if "may i ask why" in reply:
        return Reading("ask_reason")
    if "stays as it is" in reply:
        return Reading("saved")
    if "great, i won't cancel it" in reply:
        return Reading("exchange_kept")
    if "would you like instead of" in reply:
        return Reading("exchange_choose")
    if re.search(r"order \S+ is cancelled", reply):
        return Reading("cancelled")
    if "can't be cancelled" in reply:
        return Reading("not_pending")
    if "as soon as it's approved" in reply or "waiting for approval" in reply:
        return Reading("approval")
    if "nothing was changed" in reply or "left everything as it was" in reply:
        return Reading("dropped")
    if "member of our" in reply and ("passing you" in reply or "passed" in reply):
        return Reading("handoff")
    return Reading("unexpected")
