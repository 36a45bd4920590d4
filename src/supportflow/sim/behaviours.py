"""Scripted customers: what each behaviour says, turn by turn, and the store outcome it must
leave behind (checked against the store's final state by ``outcomes``).

Scripts follow the agent a little, as people do: a cancel request that already gave a reason
goes straight to the yes. A held-out first message the agent reads otherwise than intended is
followed by the scripted phrasing, and counted (``first_message_understood``). A customer
never says yes to a question they did not want asked: a reply off the script ends the
conversation there (``OffScript``), and the outcome check tells whether that cost the outcome.
Every customer is a logged-in shopper, verified by the identity token on each of their
messages (``client``), so no script says who it is.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from supportflow.sim.population import Doc

ASKS_WHY = "may i ask why"
YES_OR_NO = "yes or no"
HANDOFF = "passing you to a member of our support team"
NEW_ADDRESS = "new address"

_STREETS = ("Oak Street", "Lake Shore Drive", "Harbor Way", "Elm Street", "Market Street")
_CITIES = (
    ("Austin", "TX", "78701"),
    ("Chicago", "IL", "60601"),
    ("Portland", "OR", "97201"),
    ("Madison", "WI", "53703"),
    ("Boulder", "CO", "80301"),
)
KNOWLEDGE_INTENTS = (
    "check_refund_policy",
    "check_cancellation_fee",
    "check_payment_methods",
    "delivery_options",
)
KNOWLEDGE_SCRIPTED = "What is your refund policy?"


class OffScript(Exception):
    """The agent's reply was not what the script waits for: the customer stops there."""


class Talk(Protocol):
    """One conversation as a behaviour sees it (implemented by the runner)."""

    rng: random.Random

    def expect(self, outcome: dict[str, Any]) -> None:
        """The store outcome this conversation must leave (see ``outcomes``)."""
        ...

    async def first(
        self, intent: str, scripted: str, accept: Callable[[str], bool], order_id: str | None
    ) -> str:
        """A held-out message of ``intent``; if the reply fails ``accept``, ``scripted``
        (and ``OffScript`` if that fails too)."""
        ...

    async def say(self, text: str, expect: str | None = None) -> str:
        """Send; the reply (lower-cased). ``OffScript`` if it does not contain ``expect``."""
        ...

    async def wait_for_timeout(self) -> bool:
        """Stay silent until the agent closes the open case; False if it never does."""
        ...


@dataclass(frozen=True)
class Behaviour:
    name: str
    order_need: str | None  # "pending", "delivered", "any" or None
    run: Callable[[Talk, Doc | None], Awaitable[None]]


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda reply: any(n in reply for n in needles)


def address_for(rng: random.Random) -> dict[str, str]:
    city, state, zip_code = rng.choice(_CITIES)
    return {
        "address1": f"{rng.randint(2, 998)} {rng.choice(_STREETS)}",
        "address2": "",
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": "USA",
    }


def address_text(a: dict[str, str]) -> str:
    return f"{a['address1']}, {a['city']}, {a['state']} {a['zip']}"


def _oid(order: Doc | None) -> str:
    assert order is not None
    return str(order["order_id"])


async def _open_cancel(talk: Talk, oid: str) -> None:
    """Ask to cancel, giving the reason when asked: ends at the confirmation question."""
    reply = await talk.first(
        "cancel_order", f"I want to cancel order {oid}", _has(ASKS_WHY, YES_OR_NO), oid
    )
    if YES_OR_NO not in reply:
        await talk.say("I no longer need it", expect=YES_OR_NO)


async def cancel_confirm(talk: Talk, order: Doc | None) -> None:
    talk.expect({"status": "cancelled", "refunded_once": True})
    await _open_cancel(talk, _oid(order))
    await talk.say("yes, please cancel it", expect="is cancelled")


async def cancel_decline(talk: Talk, order: Doc | None) -> None:
    talk.expect({"unchanged": True})
    await _open_cancel(talk, _oid(order))
    await talk.say("no, keep it", expect="nothing was changed")


async def change_of_mind(talk: Talk, order: Doc | None) -> None:
    address = address_for(talk.rng)
    talk.expect({"status": "pending", "address": address, "payments_unchanged": True})
    await _open_cancel(talk, _oid(order))
    await talk.say("Actually, change the address instead", expect=NEW_ADDRESS)
    await talk.say(address_text(address), expect=YES_OR_NO)
    await talk.say("yes", expect="will ship to")


async def wrong_order_id(talk: Talk, order: Doc | None) -> None:
    talk.expect({"status": "cancelled", "refunded_once": True})
    oid = _oid(order)
    wrong = f"#W0{talk.rng.randint(0, 999999):06d}"  # seed ids never start with W0
    await talk.first(
        "cancel_order", f"I want to cancel order {wrong}", _has("couldn't find"), wrong
    )
    reply = await talk.say(f"sorry, my mistake, it's {oid}", expect=oid.lower())
    if YES_OR_NO not in reply:
        await talk.say("I ordered it by mistake", expect=YES_OR_NO)
    await talk.say("yes", expect="is cancelled")


async def order_status(talk: Talk, order: Doc | None) -> None:
    talk.expect({"unchanged": True})
    oid = _oid(order)
    await talk.first("track_order", f"What is the status of order {oid}?", _has(oid.lower()), oid)


async def return_delivered(talk: Talk, order: Doc | None) -> None:
    assert order is not None
    item = order["items"][0]
    talk.expect({"status": "return requested", "return_item_ids": [item["item_id"]]})
    # Held-out return messages name products of other orders: this request is scripted.
    await talk.say(
        f"I want to return the {item['name']} from order {_oid(order)}", expect=YES_OR_NO
    )
    await talk.say("yes", expect="return")


async def address_change(talk: Talk, order: Doc | None) -> None:
    address = address_for(talk.rng)
    talk.expect({"status": "pending", "address": address, "payments_unchanged": True})
    oid = _oid(order)
    await talk.first(
        "change_shipping_address",
        f"I need to change the shipping address on order {oid}",
        _has(NEW_ADDRESS),
        oid,
    )
    await talk.say(address_text(address), expect=YES_OR_NO)
    await talk.say("yes", expect="will ship to")


async def knowledge_question(talk: Talk, order: Doc | None) -> None:
    talk.expect({"escalated": False})
    intent = talk.rng.choice(KNOWLEDGE_INTENTS)
    await talk.first(intent, KNOWLEDGE_SCRIPTED, lambda reply: HANDOFF not in reply, None)


async def ask_for_human(talk: Talk, order: Doc | None) -> None:
    talk.expect({"escalated": True})
    await talk.first(
        "contact_human_agent", "can I talk to a real person please?", _has(HANDOFF), None
    )


async def silent_then_back(talk: Talk, order: Doc | None) -> None:
    """Wait at the yes/no until the case times out and closes, then ask something else."""
    talk.expect({"unchanged": True, "timed_out": True})
    oid = _oid(order)
    await _open_cancel(talk, oid)
    await talk.wait_for_timeout()
    await talk.say(f"Hi again, what is the status of order {oid}?", expect=oid.lower())


BEHAVIOURS: dict[str, Behaviour] = {
    b.name: b
    for b in (
        Behaviour("cancel_confirm", "pending", cancel_confirm),
        Behaviour("cancel_decline", "pending", cancel_decline),
        Behaviour("change_of_mind", "pending", change_of_mind),
        Behaviour("wrong_order_id", "pending", wrong_order_id),
        Behaviour("order_status", "any", order_status),
        Behaviour("return_delivered", "delivered", return_delivered),
        Behaviour("address_change", "pending", address_change),
        Behaviour("knowledge_question", None, knowledge_question),
        Behaviour("ask_for_human", None, ask_for_human),
        Behaviour("silent_then_back", "pending", silent_then_back),
    )
}
# Behaviours whose outcome is a store action (what a chaos run wants to stress).
WITH_ACTIONS = (
    "cancel_confirm",
    "change_of_mind",
    "wrong_order_id",
    "return_delivered",
    "address_change",
)
