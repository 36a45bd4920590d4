"""The agent's answer itself, out of what an email or SMS customer receives.

Outcome checks and the scripts' expectations read the answer as chat shows it; email and SMS
wrap it (the tenant's ``email_frame`` and ``sms_frame`` templates, replies/templates.py):

- email: "Hi <name>,\\n\\n<answer>\\n\\nIf there's anything else, just reply to this
  email.\\n\\nBest regards,\\n<Store> support": greeting line and closing are cut;
- SMS: "<Store>: <answer>", shaped for SMS and, when long, split into several messages
  marked " (1/2)", " (2/2)" (channels/sms/segments.py), which may arrive in any order: the
  parts are put in order, their markers and the store's prefix cut, and joined.

A tenant's own frames may differ; these are the shipped ones, which the simulated stacks use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# The greeting line the email frame opens with ("Hi Mia," / "Hi,"), then a blank line.
_EMAIL_GREETING = re.compile(r"\A\s*(?:Hi|Hello|Dear)\b[^\n]{0,80},[ \t]*\n[ \t]*\n")
# Where the email frame's closing starts (straight or typographic apostrophe).
_EMAIL_CLOSING = re.compile(r"\n[ \t]*\n[ \t]*If there[\u2019']s anything else\b")
_EMAIL_SIGN_OFF = re.compile(r"\n[ \t]*\n[ \t]*Best regards,")
# " (2/3)" at the end of one SMS of a split answer.
_SMS_PART = re.compile(r" \((\d{1,3})/(\d{1,3})\)\s*\Z")
# The store's name the SMS frame puts first ("Demo Store: ...").
_SMS_PREFIX_MAX = 100


def strip_email_frame(text: str) -> str:
    """The answer inside an email the agent sent (the text/plain part)."""
    body = text.replace("\r\n", "\n")
    body = _EMAIL_GREETING.sub("", body, count=1)
    closing = _EMAIL_CLOSING.search(body) or _EMAIL_SIGN_OFF.search(body)
    if closing is not None:
        body = body[: closing.start()]
    return body.strip()


def sms_part(body: str) -> tuple[int, int] | None:
    """(index, total) of one part of a split answer; None for an answer sent whole."""
    m = _SMS_PART.search(body)
    if m is None:
        return None
    index, total = int(m.group(1)), int(m.group(2))
    return (index, total) if 1 <= index <= total else None


def sms_complete(bodies: Sequence[str]) -> bool:
    """Whether these messages hold a whole answer: one sent whole, or every part of one."""
    if not bodies:
        return False
    parts = [sms_part(b) for b in bodies]
    if any(p is None for p in parts):
        return True
    totals = {p[1] for p in parts if p is not None}
    indexes = {p[0] for p in parts if p is not None}
    return any(indexes >= set(range(1, total + 1)) for total in totals)


def strip_sms_frame(bodies: Sequence[str]) -> str:
    """The answer inside the SMS the agent sent for one message (in arrival order)."""
    ordered = sorted(bodies, key=lambda b: (sms_part(b) or (0, 0))[0])
    texts = [_SMS_PART.sub("", b).strip() for b in ordered]
    joined = " ".join(t for t in texts if t)
    store, sep, rest = joined.partition(": ")
    if sep and 0 < len(store) <= _SMS_PREFIX_MAX and "\n" not in store:
        return rest.strip()
    return joined.strip()
