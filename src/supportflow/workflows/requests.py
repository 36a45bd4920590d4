"""Several requests in one message, taken one after another (runs from PATCH_PEOPLE on).

"Cancel #1201 and change the address on #1202 to ..." is two requests. The understanding splits
the message into parts (``Understanding.parts``); the first is served now and the others wait
in the conversation's queue (``ConversationState.queued``, carried through continue-as-new).
The next queued request starts, in the same turn, as soon as nothing waits for the customer:
the one before was answered, done, declined or dropped. The customer is told the order when
the message is first read, and each later request is introduced as it starts. A hand-over
takes the whole conversation to a person, queue included; a case the customer stopped
answering empties it (waiting.py).

This is a mixin: CustomerWorkflow supplies ``_one_request`` (one request through the
dispatcher).
"""

from __future__ import annotations

from dataclasses import replace

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.procedures.router import intent_phrase
    from supportflow.understanding.contract import Understanding
    from supportflow.workflows.contract import PendingRequest
    from supportflow.workflows.conversation import ConversationBase
    from supportflow.workflows.plan import Plan

# Later requests kept at most (the engine gives a message at most four parts).
MAX_QUEUED = 3
# Parts of a message that answer the agent rather than ask for something.
_NOT_REQUESTS = frozenset({"confirm", "decline"})
# After these a person has the conversation, with every request in it.
_HANDED_OVER = frozenset({"handoff", "technical_handoff"})
# Parts that together answer a retention offer ("no, just cancel it"): one answer, not two
# requests (sales-v1).
_OFFER_ANSWER = frozenset({"confirm", "decline", "cancel_order"})


class RequestQueue(ConversationBase):
    async def _requests_in_turn(
        self, u: Understanding, intent: str, first_name: str | None
    ) -> Plan:
        """This message's request, then the requests queued behind it while nothing waits for
        the customer: "cancel #1201 and change the address on #1202" is two requests, taken
        one after another, and the customer is told the order (one reply per message)."""
        s = self._s
        said: list[tuple[str, dict[str, object]]] = []
        if len(u.parts) >= 2 and not self._answers_offer(u):
            later = [PendingRequest(text=p.text, understanding=p.understanding) for p in u.parts]
            del later[0]
            s.queued = (later + s.queued)[:MAX_QUEUED]
            asked = [p.understanding.intent for p in u.parts]
            requests = [intent_phrase(i) for i in asked if i not in _NOT_REQUESTS]
            if len(requests) >= 2:
                said.append(("several_requests", {"requests": requests}))
            self._text = u.parts[0].text
            u = u.parts[0].understanding
        plan = await self._one_request(u, intent, first_name)
        while s.queued and self._free_for_next(plan):
            said.append((plan.template, plan.facts))
            self._note_case(plan)
            nxt = s.queued.pop(0)
            self._text = nxt.text
            said.append(("next_request", {"request": intent_phrase(nxt.understanding.intent)}))
            plan = await self._one_request(nxt.understanding, nxt.understanding.intent, first_name)
        if plan.template in _HANDED_OVER:
            s.queued = []  # a person has the conversation now, with every request in it
        if not said:
            return plan
        return replace(plan, before=tuple(said))

    def _answers_offer(self, u: Understanding) -> bool:
        """Whether a message of several parts is all one answer to the open case's retention
        offer ("no, just cancel it"): the whole message answers it."""
        case = self._s.case
        if not self._version.sales or case is None or not case.is_open:
            return False
        return case.awaiting == "offer" and all(
            p.understanding.intent in _OFFER_ANSWER for p in u.parts
        )

    def _free_for_next(self, plan: Plan) -> bool:
        """Whether the next queued request may start in this turn: the last one asks the
        customer nothing, no case waits for them, and no person has taken over."""
        case = self._s.case
        if case is not None and case.is_open:
            return False
        if plan.template in _HANDED_OVER or plan.template == "clarify":
            return False
        return plan.waits_for is None
