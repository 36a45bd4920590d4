"""Is a model-phrased reply still true to the facts? A pure check, so it is easy to test.

The template reply is correct by construction (it is filled from tool results only); a phrased
reply is accepted only if it says nothing the template text and the facts do not already say:
no action that did not happen, no order id, tracking number, amount, email or link that is not
in them, and none of the template's ids or amounts dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# Facts key listing actions the workflow has completed this turn, e.g. ["cancel"]; set by the
# procedures that perform actions. Without it, only what the template text itself says counts.
COMPLETED_ACTIONS_KEY = "completed_actions"

# Past-tense / completed forms only: "I can cancel it" offers, "I've cancelled it" claims.
_CLAIMS: dict[str, re.Pattern[str]] = {
    "cancel": re.compile(
        r"\bcancell?ed\b|\bcancellation (?:is|has been|was) "
        r"(?:complete|completed|confirmed|processed|done)\b",
        re.IGNORECASE,
    ),
    "refund": re.compile(
        r"\brefunded\b"
        r"|\brefunds? (?:has|have|was|were|is|are) (?:been )?(?:issued|processed|sent|"
        r"completed|approved|initiated|on (?:its|the) way)\b"
        r"|\b(?:issued|processed|sent|initiated|approved) (?:a|an|the|your) "
        r"(?:full |partial )?refund\b",
        re.IGNORECASE,
    ),
    "change": re.compile(
        r"\b(?:changed|updated|modified|amended|switched|swapped)\b", re.IGNORECASE
    ),
    "return": re.compile(
        r"\breturn (?:has been|is|was) (?:processed|accepted|approved|completed|received)\b"
        r"|\b(?:processed|accepted|approved|received) (?:a|the|your) return\b",
        re.IGNORECASE,
    ),
    "exchange": re.compile(
        r"\bexchanged\b|\bexchange (?:has been|is|was) "
        r"(?:processed|accepted|approved|completed|placed)\b",
        re.IGNORECASE,
    ),
    "pause": re.compile(r"\bpaused\b", re.IGNORECASE),
}
ACTION_KINDS: tuple[str, ...] = tuple(_CLAIMS)
# "has not been cancelled" is not a claim; a negation up to two words before the verb cancels it.
_NEGATED = re.compile(
    r"\b(?:not|never|no|cannot|n't)\W+(?:\w+\W+){0,2}$|n't\W+(?:\w+\W+){0,2}$", re.IGNORECASE
)
# Idioms that contain a claim verb but claim nothing.
_IDIOMS = re.compile(r"\bkeep(?:ing)? you (?:posted|updated)\b|\bstay updated\b", re.IGNORECASE)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_MONEY = re.compile(
    r"[$€£]\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:dollars?|usd|eur|euros?|gbp)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# Order ids (#W2611340), tracking numbers (357962501027), phone numbers: any token with this
# many digits is an identifier and must be backed by the facts.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*")
ID_MIN_DIGITS = 4
# Tokens the phrasing must keep: ids and tracking numbers (7 and 12 digits in the store), not
# item options like "1000ml" that a natural rephrasing may shorten.
KEEP_MIN_DIGITS = 6
# A phrasing far longer than the template is adding content, not rephrasing it.
MAX_LENGTH_RATIO = 3.0
MAX_LENGTH_SLACK = 200


def _leaves(value: Any) -> Iterator[Any]:
    """Every value inside ``value``, through mappings and collections, in order."""
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _strings(value: Any) -> Iterator[str]:
    return (str(v) for v in _leaves(value) if v is not None)


def _claims(text: str) -> dict[str, str]:
    """Action kind -> the first non-negated phrase that claims it was done."""
    text = _IDIOMS.sub(" ", text)
    out: dict[str, str] = {}
    for kind, rx in _CLAIMS.items():
        for m in rx.finditer(text):
            if not _NEGATED.search(text[max(0, m.start() - 40) : m.start()]):
                out.setdefault(kind, m.group(0))
                break
    return out


def _id_keys(text: str, min_digits: int = ID_MIN_DIGITS) -> dict[str, str]:
    """Digits of each identifier-like token -> the token as written."""
    out: dict[str, str] = {}
    for m in _TOKEN.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if len(digits) >= min_digits:
            out.setdefault(digits, m.group(0))
    return out


def _money(text: str) -> list[float]:
    return [float((m.group(1) or m.group(2)).replace(",", "")) for m in _MONEY.finditer(text)]


def _numbers(text: str) -> set[float]:
    return {float(m.group(0).replace(",", "")) for m in _NUMBER.finditer(text)}


def _completed(facts: Mapping[str, Any]) -> set[str]:
    raw = facts.get(COMPLETED_ACTIONS_KEY) or []
    return {raw} if isinstance(raw, str) else {str(a) for a in raw}


def check_grounded(reply: str, facts: Mapping[str, Any], template_text: str) -> list[str]:
    """Problems that make ``reply`` unsafe to send instead of ``template_text``; [] if none."""
    problems: list[str] = []
    if not reply.strip():
        return ["the phrased reply is empty"]
    if len(reply) > MAX_LENGTH_RATIO * len(template_text) + MAX_LENGTH_SLACK:
        problems.append("the phrased reply is much longer than the template reply")
    fact_text = " ".join(_strings(facts))
    allowed = f"{template_text} {fact_text}"

    supported = _completed(facts) | set(_claims(template_text)) | set(_claims(fact_text))
    for kind, phrase in _claims(reply).items():
        if kind not in supported:
            problems.append(f"claims a {kind} that did not happen: {phrase!r}")

    allowed_ids = _id_keys(allowed)
    for digits, token in _id_keys(reply).items():
        if digits not in allowed_ids:
            problems.append(f"mentions {token!r}, which is not in the facts")
    reply_ids = _id_keys(reply)
    for digits, token in _id_keys(template_text, KEEP_MIN_DIGITS).items():
        if digits not in reply_ids:
            problems.append(f"drops {token!r} from the template reply")

    allowed_numbers = _numbers(allowed) | {
        float(v) for v in _leaves(facts) if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    for amount in _money(reply):
        if not any(abs(amount - n) < 0.005 for n in allowed_numbers):
            problems.append(f"mentions the amount {amount:.2f}, which is not in the facts")
    reply_numbers = _numbers(reply)
    for amount in _money(template_text):
        if not any(abs(amount - n) < 0.005 for n in reply_numbers):
            problems.append(f"drops the amount {amount:.2f} from the template reply")

    allowed_emails = {e.lower() for e in _EMAIL.findall(allowed)}
    reply_emails = {e.lower() for e in _EMAIL.findall(reply)}
    problems += [
        f"mentions the email {e!r}, which is not in the facts"
        for e in sorted(reply_emails - allowed_emails)
    ]
    for url in _URL.findall(reply):
        if url.rstrip(".,;:!?)") not in allowed:
            problems.append(f"mentions the link {url!r}, which is not in the facts")
    return problems
