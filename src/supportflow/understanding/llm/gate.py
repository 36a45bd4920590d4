"""Which reading a turn acts on when the LLM and the local engine have both read a message.

A model's self-reported confidence is not a probability: a small model measured on a real
server (issue 11) said 1.0 or 0.9 for everything, so it never asked a clarifying question, and
it answered a label outside the list 12 times in 100. So the LLM's reading is gated by the
local engine's calibrated one for the same text:

- a label outside the list never passes: the local reading is used;
- both agree: acted on, even where the local engine alone would have asked (two independent
  readers agreeing is the evidence its doubt lacked);
- they disagree and the local engine was sure (it would have acted on its own): neither is
  acted on, the customer is asked (a wrong action costs more than a question);
- they disagree and the local engine was unsure or said out_of_scope (where it is weakest on
  natural text: 53% of real in-scope messages went there): the LLM's label is used.

The model's confidence only ever lowers: below ``CLARIFY_BELOW`` the turn asks first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from supportflow.understanding.contract import Understanding
from supportflow.understanding.corpus import OUT_OF_SCOPE

Outcome = Literal["agreed", "llm_only", "disputed", "invented"]
# The flag each outcome leaves on the Understanding.
FLAGS: dict[Outcome, str] = {
    "agreed": "llm_agreed",
    "llm_only": "llm_only",
    "disputed": "llm_disputed",
    "invented": "llm_invented",
}

# Below this self-reported confidence the turn asks first (the model may doubt, never vouch).
CLARIFY_BELOW = 0.5
# Reported for a label only the model gave: there is no measured probability for it (the field
# is informational; what acts is ``needs_clarification``).
UNCALIBRATED = 0.5


@dataclass(frozen=True)
class Verdict:
    intent: str
    confidence: float
    needs_clarification: bool
    outcome: Outcome


def local_is_sure(local: Understanding) -> bool:
    """The local engine would act on its reading by itself."""
    return (
        local.intent != OUT_OF_SCOPE
        and not local.needs_clarification
        and "engine_error" not in local.flags
    )


def judge(
    local: Understanding, llm_intent: str, llm_confidence: float, labels: frozenset[str]
) -> Verdict:
    """The intent to act on, given the local reading and the LLM's label and self-report."""
    if llm_intent not in labels:
        return Verdict(local.intent, local.confidence, local.needs_clarification, "invented")
    doubts = llm_intent != OUT_OF_SCOPE and llm_confidence < CLARIFY_BELOW
    if llm_intent == local.intent:
        return Verdict(llm_intent, local.confidence, doubts, "agreed")
    if local_is_sure(local):
        return Verdict(local.intent, local.confidence, True, "disputed")
    return Verdict(llm_intent, UNCALIBRATED, doubts, "llm_only")
