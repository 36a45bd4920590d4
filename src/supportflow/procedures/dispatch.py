"""The dispatcher: what a turn does, decided once, from the understanding and the conversation.

Pure (no I/O, no clock), so CustomerWorkflow calls it inside a turn and replays it
deterministically. It returns one handler of the closed set in ``procedures/intents.py``; the
workflow carries it out with activities and matches on it exhaustively:

- ``RunProcedure``: a case runs (opens, or the open case continues: the procedure engine
  then decides whether the customer switched to another request);
- ``AskKnowledge``: the tenant's knowledge base answers, ``fallback`` when no article does;
- ``AnswerProduct``: the store's catalogue answers a product question;
- ``Say``: a reply with nothing to look up;
- ``NoteForLater``: in scope but nobody automated it: noted for a person.

Order status, refund status and hand-overs are procedures like every other request, so each
request has one path. Conversations recorded before this dispatcher keep the router
(``procedures/router.py``) when they replay.
"""

from __future__ import annotations

from supportflow.procedures.case import CaseState
from supportflow.procedures.intents import (
    AnswerProduct,
    AskKnowledge,
    Handler,
    NoteForLater,
    RunProcedure,
    Say,
    handler_for,
    procedure_for,
)
from supportflow.understanding.contract import Understanding

# After this many clarifying questions in a row, a person takes over: guessing again would
# only frustrate the customer.
MAX_CLARIFICATIONS = 2


def plan_turn(
    case: CaseState | None, u: Understanding, *, text: str, clarifications: int
) -> Handler:
    """The handler of this turn. ``u`` carries the turn's effective intent (a bare order
    number answering a question continues the request that asked); ``clarifications`` counts
    the clarifying questions asked in a row before this turn."""
    if case is not None and case.is_open:
        return RunProcedure(case.procedure)
    wanted = procedure_for(u, text)
    if wanted is not None:
        return RunProcedure(wanted)
    handler = handler_for(u.intent)
    if isinstance(handler, AskKnowledge | AnswerProduct):
        return handler
    if isinstance(handler, Say) and handler.template != "clarify":
        return handler  # small talk is answered even when the engine was unsure
    if isinstance(handler, Say) or (u.needs_clarification and not u.entities.order_ids):
        if clarifications >= MAX_CLARIFICATIONS:
            return RunProcedure("handoff")
        return Say("clarify")
    if isinstance(handler, RunProcedure):
        # Unsure of the request but sure of the order: the procedure asks what it needs, and
        # nothing is written without the customer's explicit yes to a summary.
        return handler
    return NoteForLater()


__all__ = [
    "MAX_CLARIFICATIONS",
    "AnswerProduct",
    "AskKnowledge",
    "Handler",
    "NoteForLater",
    "RunProcedure",
    "Say",
    "plan_turn",
]
