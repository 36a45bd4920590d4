"""An article answered by a custom action (issue 16): its body is the reply, with ``{field}``
for each value of the action's result the merchant wants said ("You have {points} points").

Pure, so the workflow fills it. Only plain placeholders are read (no attribute access, no
format specs), and only scalar values are put in: the merchant's result can never make the
reply say more than the article lets it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,62})\}")
# An action article is one short reply, quoted whole (never a passage of it).
MAX_ACTION_BODY_CHARS = 2000
MAX_VALUE_CHARS = 200


class MissingField(KeyError):
    """The action's result lacks a value the article's text says."""


def fields(body: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(body)))


def fill(body: str, data: Mapping[str, Any] | None) -> str:
    """``body`` with each ``{field}`` replaced by the result's value; MissingField when one is
    absent or not a short string, number or true/false."""
    values = data or {}

    def value(m: re.Match[str]) -> str:
        v = values.get(m.group(1))
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int | float) or (isinstance(v, str) and 0 < len(v) <= MAX_VALUE_CHARS):
            # As the merchant gave it: a year or an id must not become "2,027"; a merchant who
            # wants "4,210 points" returns the string.
            return str(v)
        raise MissingField(m.group(1))

    return PLACEHOLDER.sub(value, body)
