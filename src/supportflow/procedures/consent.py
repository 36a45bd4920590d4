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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

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

# -- what a message is not ------------------------------------------------------------------

_ROLES = (
    r"system|sys|assistant|agent|operator|admin|administrator|moderator|merchant|seller|"
    r"vendor|owner|store\s*owner|shop\s*owner|staff|support|bot|ai|developer|dev|root|"
    r"supervisor|manager|model|tool|function|human|customer|user|client|note|instructions?|"
    r"inst|sys_?msg|internal|security|compliance|fraud\s*team"
)
_IMPERSONATION = re.compile(
    # a line that opens like a transcript or a log: "SYSTEM:", "[agent]", "### admin >"
    rf"(?m)^[\s\[\(<{{#*>|_\-]*(?:{_ROLES})\s*[\]\)>}}]*\s*[:=>|\]\)}}]"
    # a role tag anywhere: "[SYSTEM]", "<admin>", "(operator)", "{{agent}}", "</system>"
    rf"|[\[<{{(]\s*/?\s*(?:{_ROLES})\b[^\]>}})]{{0,40}}[\]>}})]"
    # chat-format control tokens
    r"|<\|[^|]{0,40}\|>|<<\s*/?sys\s*>>|\[/?inst\]"
    # the customer's consent claimed in the third person
    r"|\b(?:the\s+)?(?:customer|user|client|buyer|shopper|cardholder|account\s*holder|"
    r"requester)\s*(?:'s\s+|has\s+|have\s+|had\s+|is\s+|was\s+|already\s+|just\s+){0,3}"
    r"(?:confirm|approv|agree|consent|accept|authori[sz]|verif|okay|ok'?d|said\s+yes|"
    r"says\s+yes|want)"
    r"|\b(?:he|she|they)\s+(?:has\s+|have\s+)?(?:confirmed|approved|agreed|consented|"
    r"said\s+yes)"
    r"|\b(?:confirmation|consent|approval|authori[sz]ation|permission)\s+(?:is\s+|was\s+|"
    r"has\s+been\s+|have\s+been\s+)?(?:received|granted|given|obtained|confirmed|verified)"
    r"|\b(?:approved|authori[sz]ed|confirmed|verified|signed\s+off)\s+by\b"
    r"|\b(?:agent|operator|admin|merchant|manager|staff)\s+(?:has\s+)?(?:approved|confirmed|"
    r"authori[sz]ed|verified|says|said)"
    r"|\b(?:system|assistant|administrator|moderator|store\s+owner|shop\s+owner|supervisor|"
    r"developer)\b"
    r"|\b(?:as|i\s+am|i'm|im|this\s+is)\s+(?:the|an?|your|their)?\s*(?:store|shop)?\s*"
    r"(?:owner|merchant|admin|administrator|operator|agent|manager|staff|supervisor|"
    r"developer|employee|system|support)\b"
    r"|\bon\s+behalf\s+of\b"
    # prompt injection
    r"|\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|of|your|the|my|these|"
    r"those|previous|prior|above|earlier|system|safety)\s+){0,4}(?:instructions?|rules|"
    r"prompts?|guidelines|guardrails|programming|directives|polic(?:y|ies)|checks?|messages?)"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bact\s+as\b|\bpretend\b|\bjailbreak\b"
    r"|\bdeveloper\s+mode\b|\bnew\s+instructions?\b|\b(?:tool|function)[\s_]call\b"
    r"|\bexecute\b|```",
    re.IGNORECASE,
)
# ASCII, full-width, Spanish, Arabic and emoji question marks.
_QUESTION_MARKS = frozenset("?\uff1f¿؟⁇❓❔⸮")
# Interrogatives anywhere; verbs only where they open a question ("is that safe", "do you",
# "will it") because "do it", "will do" and "that is right" are how people say yes.
_QUESTION_WORDS = frozenset(
    [
        "what",
        "whats",
        "why",
        "how",
        "when",
        "where",
        "who",
        "which",
        "whose",
        "whom",
        "really",
        "isnt",
        "arent",
        "cant",
        "couldnt",
        "wouldnt",
        "shouldnt",
        "doesnt",
        "didnt",
    ]
)
_QUESTION_OPENERS = re.compile(
    r"^(?:is|are|am|was|were|could|would|should|shall|may|does|did)\b"
    r"|\b(?:is|are|am|was|were|can|could|would|should|shall|may|does|did|will|r|u|you)\s+"
    r"(?:you|u|i|we|they|it|this|that|there|my|the|sure|everything|anything)\b"
    r"|\bdo\s+(?:you|u|i|we|they|my|the|everything|anything)\b"
)
_SARCASM_WORDS = frozenset(
    [
        "whatever",
        "lol",
        "lmao",
        "lmfao",
        "rofl",
        "haha",
        "hahaha",
        "hehe",
        "jk",
        "kidding",
        "sarcasm",
        "obviously",
        "duh",
    ]
)
_SARCASM_PHRASES = re.compile(
    r"\b(?:yeah|yea|ya|yah)\s+right\b(?!\s+(?:away|now))|\boh\s+(?:sure|yeah|great)\b"
    r"|\bsure\s+sure\b|\bsure\s+jan\b|\bas\s+if\b|\bhow\s+convenient\b"
)
_SARCASM_SIGNS = re.compile("[🙄😒😏🤔😂🤣🙃😅😬🤨😑😤🤡💀]|;-?\\)|/s\\b|\\(sic\\)")
_HEDGES = frozenset(
    [
        "think",
        "thought",
        "maybe",
        "mayb",
        "perhaps",
        "possibly",
        "probably",
        "prob",
        "probs",
        "prolly",
        "likely",
        "guess",
        "suppose",
        "assume",
        "hope",
        "hopefully",
        "unsure",
        "wait",
        "hold",
        "hang",
        "sec",
        "second",
        "moment",
        "minute",
        "later",
        "tomorrow",
        "tonight",
        "soon",
        "first",
        "before",
        "after",
        "if",
        "unless",
        "provided",
        "depends",
        "kinda",
        "sorta",
        "hmm",
        "hm",
        "um",
        "umm",
        "uh",
        "er",
        "erm",
        "eh",
        "idk",
        "dunno",
        "might",
        "actually",
        "although",
        "though",
        "however",
        "rather",
        "only",
        "until",
        "once",
        "except",
        "instead",
    ]
)
_HEDGE_PHRASES = re.compile(
    r"\bnot\s+(?:sure|certain|yet|now|really)\b|\bkind\s+of\b|\bsort\s+of\b|\bas\s+long\s+as\b"
    r"|\blet\s+me\b|\bone\s+sec|\bi\s+(?:mean|guess|think|suppose)\b|\bin\s+a\s+(?:bit|while)\b"
)
_NEGATIONS = frozenset(
    [
        "no",
        "nope",
        "nah",
        "never",
        "not",
        "dont",
        "doesnt",
        "didnt",
        "wont",
        "cant",
        "shouldnt",
        "wouldnt",
        "isnt",
        "stop",
        "nothing",
        "none",
        "neither",
        "nor",
        "without",
        "refuse",
        "decline",
        "against",
        "nevermind",
        "n",
    ]
)
_MIXED = frozenset(
    ["but", "also", "plus", "too", "or", "and", "then", "aswell", "except", "instead", "change"]
)

# -- what a yes (and a plain no) is made of -------------------------------------------------

# Words that say yes, each enough on its own.
_YES: tuple[str, ...] = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "yea",
    "ya",
    "yah",
    "yeh",
    "yas",
    "yesh",
    "yez",
    "yeas",
    "yeap",
    "yip",
    "y",
    # slips of "yes" on a phone keyboard
    "yse",
    "ys",
    "ues",
    "tes",
    "yws",
    "sure",
    "shure",
    "sur",
    "suer",
    "srue",
    "sure thing",
    "ok",
    "okay",
    "okey",
    "oky",
    "okie",
    "okai",
    "okk",
    "o k",
    "k",
    "kk",
    "kay",
    "ok dokey",
    "okey dokey",
    "alright",
    "allright",
    "aight",
    "all right",
    "correct",
    "thats correct",
    "thats right",
    "thats it",
    "thats fine",
    "thats the one",
    "thats what i want",
    "that is correct",
    "that is right",
    "that is fine",
    "that is it",
    "yes indeed",
    "absolutely",
    "definitely",
    "certainly",
    "of course",
    "ofc",
    "affirmative",
    "exactly",
    "indeed",
    "agreed",
    "i agree",
    "confirm",
    "confirmed",
    "i confirm",
    "proceed",
    "go ahead",
    "go on",
    "carry on",
    "continue",
    "go for it",
    "do it",
    "do that",
    "do so",
    "please do",
    "will do",
    "can do",
    "lets do it",
    "lets do that",
    "lets go",
    "make it so",
    "sounds good",
    "sounds great",
    "sounds right",
    "that works",
    "works for me",
    "👍",
    "✅",
    "✔",
    "☑",
)
# Words that may stand around a yes but say nothing on their own.
_FILLERS: tuple[str, ...] = (
    "please",
    "pls",
    "plz",
    "plse",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "cheers",
    "great",
    "cool",
    "awesome",
    "perfect",
    "nice",
    "lovely",
    "good",
    "fine",
    "right",
    "and",
    "then",
    "now",
    "just",
    "oh",
    "well",
    "hi",
    "hey",
    "sir",
    "maam",
    "mate",
    "the one",
    "right away",
    "asap",
)
# The action's own verbs and nouns, to echo the question: "yes, cancel it", "go ahead with
# the return".
_ACTION_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cancel": (("cancel", "refund"), ("cancellation", "refund", "order")),
    "modify_address": (("change", "update", "ship", "switch"), ("change", "update", "address")),
    "modify_payment": (("change", "switch", "charge", "update", "use"), ("change", "payment")),
    "modify_items": (("change", "swap", "switch", "update"), ("change", "changes", "swap")),
    "return": (("return", "start", "process", "refund"), ("return", "refund")),
    "exchange": (("exchange", "swap", "start", "process"), ("exchange", "swap")),
    "user_address": (("change", "update", "save", "set"), ("change", "update", "address")),
}
_OBJECTS: tuple[str, ...] = ("it", "that", "this", "them", "it for me", "that for me")
_GO = ("go ahead", "proceed", "continue", "carry on")
_NO: tuple[str, ...] = (
    "no",
    "nope",
    "nah",
    "n",
    "negative",
    "no way",
    "absolutely not",
    "definitely not",
    "no thanks",
    "no thank you",
    "not now",
    "not yet",
    "never mind",
    "nevermind",
    "dont",
    "dont do it",
    "do not",
    "please dont",
    "stop",
    "leave it",
    "forget it",
    "keep it",
    "keep it as is",
    "i changed my mind",
    "changed my mind",
    "👎",
)
_NO_FILLERS: tuple[str, ...] = (
    "please",
    "thanks",
    "thank you",
    "actually",
    "sorry",
    "then",
    "oh",
    "ah",
)

_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\ufe0e]")
_APOSTROPHES = re.compile("['`\u2019\u2018\u00b4]")
_REPEATS = re.compile(r"(.)\1+")
_FUZZY_MIN = 6


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
    if _IMPERSONATION.search(raw):
        return Consent("unclear", "impersonation")
    if any(c in _QUESTION_MARKS for c in raw):
        return Consent("unclear", "question")
    lowered = _APOSTROPHES.sub("", raw.lower())
    if _SARCASM_SIGNS.search(lowered):
        return Consent("unclear", "sarcasm")
    spelled = _words(lowered)
    if not spelled:
        return Consent("unclear", "empty")
    # The warning signs are looked for as typed and with repeats collapsed ("hmmm", "nooo");
    # the vocabulary is matched collapsed only ("yesss", "pleasee").
    words = [_collapse(w) for w in spelled]
    seen = {*spelled, *words}
    joined = " ".join(spelled)
    if _SARCASM_PHRASES.search(joined) or _SARCASM_WORDS & seen:
        return Consent("unclear", "sarcasm")
    if _QUESTION_WORDS & seen or _QUESTION_OPENERS.search(joined):
        return Consent("unclear", "question")
    if len(words) <= MAX_WORDS and _parses(words, _no_grammar(), core=_no_core()):
        return Consent("no", "plain_no")
    if _HEDGE_PHRASES.search(joined) or _HEDGES & seen:
        return Consent("unclear", "hedge")
    affirmative = _says_yes(words)
    if _NEGATIONS & seen:
        return Consent("unclear", "mixed" if affirmative else "negation")
    if len(raw.strip()) > MAX_CHARS or len(words) > MAX_WORDS:
        return Consent("unclear", "too_long")
    grammar, core = _yes_grammar(action)
    if _parses(words, grammar, core=core):
        return Consent("yes", "plain_yes")
    if affirmative or _MIXED & seen:
        return Consent("unclear", "mixed")
    return Consent("unclear", "not_plain_yes")


# -- the parser -----------------------------------------------------------------------------

Phrase = tuple[str, ...]


def _collapse(word: str) -> str:
    return _REPEATS.sub(r"\1", word)


def _words(lowered: str) -> list[str]:
    """Words with punctuation gone, each symbol (emoji) a word of its own."""
    spaced = []
    for c in lowered:
        if c.isalnum():
            spaced.append(c)
        elif unicodedata.category(c) == "So":
            spaced.append(f" {c} ")
        else:
            spaced.append(" ")
    return "".join(spaced).split()


def _phrases(items: Iterable[str]) -> frozenset[Phrase]:
    return frozenset(tuple(_collapse(w) for w in item.split()) for item in items if item)


@lru_cache(maxsize=1)
def _no_grammar() -> frozenset[Phrase]:
    return _phrases((*_NO, *_NO_FILLERS))


@lru_cache(maxsize=1)
def _no_core() -> frozenset[Phrase]:
    return _phrases(_NO)


@lru_cache(maxsize=16)
def _yes_grammar(action: str | None) -> tuple[frozenset[Phrase], frozenset[Phrase]]:
    """(every phrase a yes may use, the phrases that say yes) for a question about ``action``."""
    chosen = _ACTION_WORDS.values() if action is None else [_ACTION_WORDS.get(action, ((), ()))]
    verbs = sorted({v for vs, _ in chosen for v in vs})
    nouns = sorted({n for _, ns in chosen for n in ns})
    things = [*_OBJECTS, *(f"{d} {n}" for d in ("the", "my") for n in nouns)]
    echoes = [f"{v} {t}".strip() for v in verbs for t in ("", *things)]
    go_with = [f"{g} with {t}" for g in _GO for t in things]
    core = _phrases((*_YES, *go_with))
    return core | _phrases((*_FILLERS, *echoes)), core


@lru_cache(maxsize=1)
def _fuzzy_words() -> tuple[str, ...]:
    singles = {p[0] for p in _phrases((*_YES, *_FILLERS)) if len(p) == 1}
    return tuple(sorted(w for w in singles if len(w) >= _FUZZY_MIN))


def _says_yes(words: list[str]) -> bool:
    """Whether a phrase that says yes appears anywhere in ``words`` (for the reason only)."""
    _, core = _yes_grammar(None)
    for phrase in core:
        n = len(phrase)
        if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
            return True
    return any(_near(w, core) is not None for w in words)


def _near(word: str, allowed: frozenset[Phrase]) -> str | None:
    """A vocabulary word one slip away from ``word`` (long words only)."""
    if len(word) < _FUZZY_MIN - 1:
        return None
    for known in _fuzzy_words():
        if (known,) in allowed and _one_slip(word, known):
            return known
    return None


def _one_slip(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of at most one."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(short == long_[:i] + long_[i + 1 :] for i in range(len(long_)))


def _parses(words: list[str], grammar: frozenset[Phrase], *, core: frozenset[Phrase]) -> bool:
    """Whether ``words`` split wholly into phrases of ``grammar``, one of them from ``core``.

    A small dynamic programme over positions: ``reach[i]`` holds whether words[:i] parse,
    and whether a core phrase was among them. "and" may not open or close the message.
    """
    if words[0] == "and" or words[-1] == "and":
        return False
    longest = max(len(p) for p in grammar)
    reach: list[set[bool]] = [set() for _ in range(len(words) + 1)]
    reach[0].add(False)
    for i in range(len(words)):
        if not reach[i]:
            continue
        for n in range(1, min(longest, len(words) - i) + 1):
            chunk = tuple(words[i : i + n])
            if chunk not in grammar:
                if n != 1:
                    continue
                known = _near(chunk[0], grammar)
                if known is None:
                    continue
                chunk = (known,)
            is_core = chunk in core
            for had in reach[i]:
                reach[i + n].add(had or is_core)
    return True in reach[len(words)]
