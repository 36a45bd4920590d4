"""Customer satisfaction inside CustomerWorkflow (sales-v1 runs; procedures/csat.py is the
rule).

A turn that closed a case resolved, handed nothing over and leaves nothing waiting ends its
reply with one short question ("How did we do? ... 1 (poor) to 5 (great)"), at most once per
``procedures.csat.QUIET`` in a conversation. The conversation's next message, from the one
asked, is the rating when it is nothing but one: it is answered "Thanks for your rating!"
without being read as a request (no understanding call) and recorded with the turn's
outcomes (outcomes.py). Any other next message is a normal turn, and the question is not
asked again for that case.

This is a mixin: CustomerWorkflow supplies the turn (customer.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.outcomes import Rating
    from supportflow.procedures.csat import may_ask, rating_of
    from supportflow.workflows.contract import CsatQuestion, InboundMessage
    from supportflow.workflows.conversation import ConversationBase
    from supportflow.workflows.people import HANDING_OVER
    from supportflow.workflows.plan import Plan

# Replies after which the customer is not asked to rate: a person will answer, or the agent
# could not tell what was asked.
_NOT_AFTER = frozenset({*HANDING_OVER, "technical_handoff", "clarify", "approval_requested"})


class Csat(ConversationBase):
    def _take_rating(self, msg: InboundMessage) -> Plan | None:
        """The reply to a message that rates the case just asked about; None when the message
        is not a rating (it is then a normal turn). Either way the question is answered."""
        s = self._s
        question = s.csat
        if question is None or not question.open:
            return None
        s.csat = question.model_copy(update={"open": False})
        rating = rating_of(msg.text)
        if rating is None or question.to not in (None, msg.sender.key):
            return None
        self._rating = Rating(case_id=question.case_id, rating=rating, channel=msg.channel.value)
        return Plan("csat_thanks", "csat")

    def _csat_question(
        self, plan: Plan, before: Mapping[str, str], msg: InboundMessage
    ) -> CsatQuestion | None:
        """The question to end this turn's reply with, or None."""
        s = self._s
        if plan.template in _NOT_AFTER or plan.records_case or plan.waits_for is not None:
            return None
        if s.case is not None and s.case.is_open:
            return None
        if s.queued or s.handover is not None or s.held_by is not None:
            return None
        changed = [
            c for c in s.cases if c.status != "open" and before.get(c.case_id, "open") == "open"
        ]
        resolved = [c for c in changed if c.status == "resolved"]
        if not resolved or any(c.status == "escalated" for c in changed):
            return None
        now = workflow.now()
        if not may_ask(s.csat.asked_at if s.csat is not None else None, now):
            return None
        return CsatQuestion(case_id=resolved[-1].case_id, asked_at=now, to=msg.sender.key)


def with_csat_question(plan: Plan) -> Plan:
    """``plan`` with the rating question said last."""
    return replace(plan, then=(*plan.then, ("csat_ask", {})))
