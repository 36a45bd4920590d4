"""What a consent answer is *not*: the warning signs that name why a message is unclear.

For the audit trail only (see verdict.py): a sign never makes a message a yes. Mostly word
lists and patterns; kept apart from the vocabulary of a yes (vocabulary.py) because one lists
what disqualifies, the other what qualifies.
"""

from __future__ import annotations

import re

_ROLES = (
    r"system|sys|assistant|agent|operator|admin|administrator|moderator|merchant|seller|"
    r"vendor|owner|store\s*owner|shop\s*owner|staff|support|bot|ai|developer|dev|root|"
    r"supervisor|manager|model|tool|function|human|customer|user|client|note|instructions?|"
    r"inst|sys_?msg|internal|security|compliance|fraud\s*team"
)
IMPERSONATION = re.compile(
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
QUESTION_MARKS = frozenset("?\uff1f¿؟⁇❓❔⸮")
# Interrogatives anywhere; verbs only where they open a question ("is that safe", "do you",
# "will it") because "do it", "will do" and "that is right" are how people say yes.
QUESTION_WORDS = frozenset(
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
QUESTION_OPENERS = re.compile(
    r"^(?:is|are|am|was|were|could|would|should|shall|may|does|did)\b"
    r"|\b(?:is|are|am|was|were|can|could|would|should|shall|may|does|did|will|r|u|you)\s+"
    r"(?:you|u|i|we|they|it|this|that|there|my|the|sure|everything|anything)\b"
    r"|\bdo\s+(?:you|u|i|we|they|my|the|everything|anything)\b"
)
SARCASM_WORDS = frozenset(
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
SARCASM_PHRASES = re.compile(
    r"\b(?:yeah|yea|ya|yah)\s+right\b(?!\s+(?:away|now))|\boh\s+(?:sure|yeah|great)\b"
    r"|\bsure\s+sure\b|\bsure\s+jan\b|\bas\s+if\b|\bhow\s+convenient\b"
)
SARCASM_SIGNS = re.compile("[🙄😒😏🤔😂🤣🙃😅😬🤨😑😤🤡💀]|;-?\\)|/s\\b|\\(sic\\)")
HEDGES = frozenset(
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
HEDGE_PHRASES = re.compile(
    r"\bnot\s+(?:sure|certain|yet|now|really)\b|\bkind\s+of\b|\bsort\s+of\b|\bas\s+long\s+as\b"
    r"|\blet\s+me\b|\bone\s+sec|\bi\s+(?:mean|guess|think|suppose)\b|\bin\s+a\s+(?:bit|while)\b"
)
NEGATIONS = frozenset(
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
MIXED = frozenset(
    ["but", "also", "plus", "too", "or", "and", "then", "aswell", "except", "instead", "change"]
)
