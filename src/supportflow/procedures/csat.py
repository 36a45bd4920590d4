"""Customer satisfaction (CSAT, sales-v1 runs): when a reply asks for a rating, and whether
the customer's next message is one. Pure and deterministic: it runs inside workflows.

After a case ends resolved by the agent (not handed over, nothing left waiting), the reply
ends with one short question: a rating from 1 to 5. The conversation's next message is taken
as the rating only when it is nothing but one ("5", "5/5", "4 stars", "five", "⭐⭐⭐⭐");
anything else ("5 more shirts please") is a normal turn, and the question is not asked again
for that case. A conversation is asked at most once per ``QUIET``, so a customer who asks
three things in an afternoon is not asked three times.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

# The least time between two questions in one conversation.
QUIET = timedelta(hours=24)

_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER = r"(?P<n>[1-5]|one|two|three|four|five)"
# "5", "5/5", "5 / 5", "5 out of 5", "4 stars", "four stars", "5*", "a 4", "rating: 3",
# "i'd say 4", "5!", "5, thanks" (thanks alone may follow a rating).
_RATING = re.compile(
    r"^(?:(?:a|my\s+rating(?:\s+is)?|rating|i'?d\s+say|i\s+give\s+(?:it|you)|solid)\s*:?\s*)?"
    + _NUMBER
    + r"(?:\s*(?:/|out\s+of|of)\s*(?:5|five))?(?:\s*(?:stars?|\*+))?"
    r"(?:\s*[,.!]*\s*(?:thanks|thank\s+you|thx|ty|cheers)?)?\s*[.!]*$",
    re.IGNORECASE,
)
_STARS = re.compile(r"^(?:⭐|★|🌟){1,5}$")


def rating_of(text: str) -> int | None:
    """The rating ``text`` gives, when it is nothing but a rating from 1 to 5; else None."""
    cleaned = unicodedata.normalize("NFKC", text).strip().replace("\ufe0f", "")
    if len(cleaned) > 40:
        return None
    if _STARS.fullmatch(cleaned.replace(" ", "")):
        return sum(1 for c in cleaned if c in "⭐★🌟")
    m = _RATING.fullmatch(cleaned)
    if m is None:
        return None
    n = m.group("n").lower()
    return _WORDS.get(n) or int(n)


def may_ask(last_asked: datetime | None, now: datetime) -> bool:
    """Whether the question may be asked now (at most once per ``QUIET``)."""
    return last_asked is None or now - last_asked >= QUIET
