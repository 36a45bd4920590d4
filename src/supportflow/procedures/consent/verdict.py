"""Strict consent: whether a customer's answer to "Shall I go ahead?" is an unambiguous yes.

Pure and deterministic (no I/O, no clock): it runs inside workflows, and a replayed turn must
reach the same verdict.

A store write happens only after a yes, so the rule is an allow-list, not a deny-list: a
message is a yes only if *every* word of it belongs to a short affirmative vocabulary
("yes", "yes please", "sure, go ahead", "ok do it", "yes cancel it", "👍"), with at least
one word that says yes. Anything else - a question, a hedge, a mixed message ("yes but change
the address"), a condition, sarcasm, another request, another language, text dressed up as
the system, an agent, an operator or the merchant - is ``unclear``, and the agent asks the
same question again in plain words. Asking again costs the customer one more "yes"; a wrong
yes costs them an order. The checks before the allow-list only name *why* a message is
unclear, for the audit trail; they never make a message a yes.

Decisions (documented here because they are judgement calls):
- Typos: a fixed list of common slips of "yes"/"ok"/"sure" ("yse", "ys", "ues", "okey"),
  repeated letters collapse ("yesss", "pleasee"), and words of six letters or more match
  with one slip ("confrim", "pleas", "procede"). Short words never match fuzzily: "yet" is
  one letter from "yes", "might" one from "right".
- Emoji: 👍, ✅ and ✔ (any skin tone) are a yes, as chat users mean them. 👌 and the rest are
  not; 🙄 😏 🤔 😂 and the like mark sarcasm or doubt.
- English only: the agent asks in English; "oui", "ja", "sí" are unclear and get the
  question again in plain words rather than a guess.
- Echoing the action ("yes, cancel it") is a yes only with the verb of the action asked
  about: with ``action="modify_address"``, "yes cancel it" is unclear. Without ``action``
  every procedure's verbs are accepted.
- Length: over 80 characters or 12 words is never a bare yes, whatever it says.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from supportflow.procedures.consent.grammar import (
    collapse,
    no_core,
    no_grammar,
    parses,
    says_yes,
    split_words,
    yes_grammar,
)
from supportflow.procedures.consent.signs import (
    HEDGE_PHRASES,
    HEDGES,
    IMPERSONATION,
    MIXED,
    NEGATIONS,
    QUESTION_MARKS,
    QUESTION_OPENERS,
    QUESTION_WORDS,
    SARCASM_PHRASES,
    SARCASM_SIGNS,
    SARCASM_WORDS,
)

__all__ = ["Consent", "ConsentKind", "ConsentReason", "consent"]

ConsentKind = Literal["yes", "no", "unclear"]
ConsentReason = Literal[
    "plain_yes",
    "plain_no",
    "empty",
    "too_long",
    "impersonation",
    "question",
    "sarcasm",
    "hedge",
    "negation",
    "mixed",
    "not_plain_yes",
]


@dataclass(frozen=True, slots=True)
class Consent:
    kind: ConsentKind
    # Why, for the audit trail: a label, never the customer's words.
    reason: ConsentReason


MAX_CHARS = 80
MAX_WORDS = 12
# Longer text is not looked at any further (bounded work on hostile input).
_SCAN_CHARS = 500
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\ufe0e]")
_APOSTROPHES = re.compile("['`\u2019\u2018\u00b4]")


def consent(text: str, *, action: str | None = None) -> Consent:
    """Whether ``text`` plainly says yes to the confirmation just asked.

    ``action`` is the procedure asked about (``CaseState.procedure``): only its verb may be
    echoed in the yes.
    """
    if len(text) > _SCAN_CHARS:
        return Consent("unclear", "too_long")
    raw = _SKIN_TONES.sub("", unicodedata.normalize("NFKC", text))
    raw = "".join(c for c in raw if unicodedata.category(c) != "Cf")  # zero-width tricks
    if not raw.strip():
        return Consent("unclear", "empty")
    if IMPERSONATION.search(raw):
        return Consent("unclear", "impersonation")
    if any(c in QUESTION_MARKS for c in raw):
        return Consent("unclear", "question")
    lowered = _APOSTROPHES.sub("", raw.lower())
    if SARCASM_SIGNS.search(lowered):
        return Consent("unclear", "sarcasm")
    spelled = split_words(lowered)
    if not spelled:
        return Consent("unclear", "empty")
    # The warning signs are looked for as typed and with repeats collapsed ("hmmm", "nooo");
    # the vocabulary is matched collapsed only ("yesss", "pleasee").
    words = [collapse(w) for w in spelled]
    seen = {*spelled, *words}
    joined = " ".join(spelled)
    if SARCASM_PHRASES.search(joined) or SARCASM_WORDS & seen:
        return Consent("unclear", "sarcasm")
    if QUESTION_WORDS & seen or QUESTION_OPENERS.search(joined):
        return Consent("unclear", "question")
    if len(words) <= MAX_WORDS and parses(words, no_grammar(), core=no_core()):
        return Consent("no", "plain_no")
    if HEDGE_PHRASES.search(joined) or HEDGES & seen:
        return Consent("unclear", "hedge")
    affirmative = says_yes(words)
    if NEGATIONS & seen:
        return Consent("unclear", "mixed" if affirmative else "negation")
    if len(raw.strip()) > MAX_CHARS or len(words) > MAX_WORDS:
        return Consent("unclear", "too_long")
    grammar, core = yes_grammar(action)
    if parses(words, grammar, core=core):
        return Consent("yes", "plain_yes")
    if affirmative or MIXED & seen:
        return Consent("unclear", "mixed")
    return Consent("unclear", "not_plain_yes")
