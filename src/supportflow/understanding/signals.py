"""Sentiment, anger, urgency, human hand-off and prompt-injection signals of a message."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's cost grows with length; the tone of a message shows in its first lines.
MAX_CHARS = 1000
# Share of ordinary support messages we accept escalating to a human for tone alone.
ANGER_FALSE_ESCALATION = 0.01
DEFAULT_ANGER_BELOW = -0.7

# VADER's lexicon misses common swearing and insults aimed at the agent ("fucking", "idiots").
_HOSTILE = re.compile(
    r"\b(?:fuck\w*|shit\w*|damn\w*|goddamn\w*|crap\w*|bloody|idiots?|morons?|stupid|useless|"
    r"incompetent|pathetic|ridiculous|scam\w*|fraud|thie(?:f|ves)|disgust\w*|furious|outrage\w*)\b",
    re.IGNORECASE,
)
_URGENT = re.compile(
    r"\b(?:urgent\w*|asap|immediately|right now|right away|emergency|as soon as possible|"
    r"today|tonight|time[- ]sensitive|hurry|quickly|critical)\b|!!",
    re.IGNORECASE,
)
_HUMAN = re.compile(
    r"\b(?:talk|speak|chat|connect|transfer|put|get|escalate)\w*\s+(?:me\s+)?"
    r"(?:to|with|through to)?\s*"
    r"(?:a|an|the|some|your|real|actual|live)?\s*(?:real\s+|actual\s+|live\s+)?"
    r"(?:human|person|people|agent|representative|rep|manager|supervisor|somebody|someone|operator|"
    r"staff)\b"
    r"|\b(?:human|real person|live agent|representative|supervisor|manager)\s*"
    r"(?:please|now|pls)?\s*[.!?]*$"
    r"|\bnot\s+(?:a\s+)?(?:bot|robot|machine)\b",
    re.IGNORECASE,
)
# Customer text is data, never instructions: these phrasings only ever mean an attempt to steer us.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|of|your|the|my|these|those|"
    r"previous|prior|above|earlier|system)\s+){0,4}(?:instructions?|rules|prompts?|guidelines|"
    r"guardrails|programming|directives|polic(?:y|ies))\b"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bact\s+as\s+(?:an?\s+)?(?:admin|administrator|"
    r"developer|system|root|unrestricted)\b|\bpretend\s+(?:to\s+be|you\s+are)\b|\bjailbreak\b"
    r"|\bdeveloper\s+mode\b|\bnew\s+instructions?\s*:"
    # A role tag written into the message ("[agent] approved", "<system>"): nobody but the
    # customer writes here, so it can only be an attempt to pass as someone else.
    r"|[\[<]\s*(?:agent|system|assistant|admin|administrator|operator|support|staff)\s*[\]>]",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER compound score in [-1, 1]."""
    score = float(_vader().polarity_scores(text[:MAX_CHARS])["compound"])
    return max(-1.0, min(1.0, score))


def anger(text: str, compound: float) -> float:
    """Compound score pushed down by hostile words VADER does not know."""
    hits = len(_HOSTILE.findall(text[:MAX_CHARS]))
    return max(-1.0, compound - 0.3 * hits)


def choose_anger_below(ordinary_messages: Iterable[str]) -> float:
    """Anger threshold from measured data: flag at most ANGER_FALSE_ESCALATION of ordinary
    support messages, and never a merely mildly negative one (cap at -0.5)."""
    scores = [anger(t, sentiment(t)) for t in ordinary_messages]
    if not scores:
        return DEFAULT_ANGER_BELOW
    q = float(np.quantile(np.array(scores), ANGER_FALSE_ESCALATION))
    return min(q, -0.5)


@dataclass(frozen=True)
class Signals:
    sentiment: float
    anger: float
    urgent: bool
    wants_human: bool
    injection: bool


def read_signals(text: str, anger_below: float) -> Signals:
    compound = sentiment(text)
    angry = anger(text, compound)
    head = text[:MAX_CHARS]
    return Signals(
        sentiment=compound,
        anger=angry,
        urgent=bool(_URGENT.search(head)) or angry <= anger_below,
        wants_human=bool(_HUMAN.search(head)),
        injection=bool(_INJECTION.search(head)),
    )
