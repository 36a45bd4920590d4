"""What both understanding engines do around their reading of a message, written once so the
local model and an LLM cannot drift apart: bound the text, answer an empty message, and the
rules that overrule any reading (instructions in customer text are never followed; asking for
a person is never out of scope)."""

from __future__ import annotations

from supportflow.limits import MAX_MESSAGE_CHARS
from supportflow.understanding.contract import Understanding
from supportflow.understanding.corpus import OUT_OF_SCOPE

# Confidence reported for rule-level overrides, where the model's probability no longer applies.
RULE_CONFIDENCE = 0.5


def bounded(text: str, flags: list[str]) -> str:
    """``text`` with NULs as spaces and cut at MAX_MESSAGE_CHARS (noted in ``flags``)."""
    text = text.replace("\x00", " ")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS]
        flags.append("truncated")
    return text


def nothing_said(engine: str, flags: list[str]) -> Understanding:
    """The reading of a message with no text: nothing to act on, so ask."""
    return Understanding(
        intent=OUT_OF_SCOPE,
        confidence=0.0,
        engine=engine,
        needs_clarification=True,
        flags=[*flags, "empty"],
    )


def overrule(
    intent: str, confidence: float, *, injection: bool, wants_human: bool, flags: list[str]
) -> tuple[str, float]:
    """The intent and confidence after the rules that no reading may override."""
    if injection:
        # Instructions inside customer text are never followed; the model's reading of the
        # rest of the text (often "refund"/"cancel") is not trusted either.
        flags.append("prompt_injection")
        intent, confidence = OUT_OF_SCOPE, RULE_CONFIDENCE
    if wants_human and intent == OUT_OF_SCOPE:
        # Asking for a person is never out of scope, whatever else the message rambles about.
        intent, confidence = "contact_human_agent", RULE_CONFIDENCE
    return intent, confidence
