"""STOP / START / HELP: the keywords carriers require every SMS sender to honour.

Twilio's default handling (help.twilio.com, "Twilio support for opt-out keywords (SMS STOP
filtering)"; the Advanced Opt-Out guide):

- opt-out: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT
- opt-in:  START, YES, UNSTOP
- help:    HELP, INFO

Only a single-word message is a keyword ("STOP PLEASE" or "please cancel" is not), matched
case-insensitively. So is it here: the whole body, trimmed, is compared. "cancel" is an
opt-out; "cancel my order" is a customer asking for something and goes to the agent.

One deliberate widening: trailing "." and "!" are ignored ("Stop." typed on a phone that
adds a full stop after a double space). Honouring a stop Twilio did not register only
withholds our messages; the reverse would text someone who asked us not to.

Twilio keeps its own block list (sends to an opted-out number fail with 21610) and, unless
the account's default handling is switched off or customised with Advanced Opt-Out, sends
its own confirmations. The replies here are for the tenant's own record and confirmations
(`keyword_outcome`); they name the store so the customer knows who they stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from supportflow.channels.sms.plaintext import gsm_punctuation


class SmsKeyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    NONE = "none"


OPT_OUT_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
OPT_IN_KEYWORDS = frozenset({"start", "yes", "unstop"})
HELP_KEYWORDS = frozenset({"help", "info"})

# Invisible characters some keyboards add; str.strip() does not remove these.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_TRAILING_MARKS = re.compile(r"[.!]+$")
# A store name is one line in an SMS: no line breaks, no runs of spaces, not a paragraph.
_MAX_STORE_NAME = 40


def _normalised(body: str) -> str:
    return _TRAILING_MARKS.sub("", _INVISIBLE.sub("", body).strip()).strip().casefold()


def classify_keyword(body: str) -> SmsKeyword:
    """What an inbound SMS body means as a keyword (NONE: an ordinary message)."""
    word = _normalised(body)
    if word in OPT_OUT_KEYWORDS:
        return SmsKeyword.OPT_OUT
    if word in OPT_IN_KEYWORDS:
        return SmsKeyword.OPT_IN
    if word in HELP_KEYWORDS:
        return SmsKeyword.HELP
    return SmsKeyword.NONE


def _store(name: str) -> str:
    cleaned = " ".join(gsm_punctuation(name).split())
    if len(cleaned) > _MAX_STORE_NAME:
        cleaned = cleaned[: _MAX_STORE_NAME - 3].rstrip() + "..."
    return cleaned or "our store"


def stop_reply(store_name: str) -> str:
    return f"You're unsubscribed from {_store(store_name)} messages. Reply START to resubscribe."


def start_reply(store_name: str) -> str:
    return (
        f"You're subscribed to {_store(store_name)} messages again. "
        "Reply HELP for help, STOP to unsubscribe."
    )


def help_reply(store_name: str) -> str:
    return (
        f"{_store(store_name)} support: text us your question here and we'll reply. "
        "Reply STOP to unsubscribe. Msg&data rates may apply."
    )


@dataclass(frozen=True)
class KeywordOutcome:
    keyword: SmsKeyword
    # The number's opt-out state after this message (store it when it changed).
    opted_out: bool
    # Text to send back now, or None. Never set for an opted-out number except the one
    # STOP confirmation carriers allow.
    reply: str | None
    # Whether the body goes to the conversation as the customer's message. False for a
    # keyword that was acted on here (it is not a question for the agent).
    deliver: bool


def keyword_outcome(body: str, *, store_name: str, opted_out: bool) -> KeywordOutcome:
    """What to do with an inbound SMS given the number's current opt-out state.

    - STOP (or another opt-out word): opted out, one confirmation; a repeated STOP from a
      number already opted out gets no further text.
    - START / UNSTOP: opted back in, with a confirmation (also when already subscribed:
      the customer asked and expects an answer).
    - YES from a subscribed number is an answer ("Do you want a refund?" "Yes"), not an
      opt-in: it goes to the conversation. From an opted-out number it opts back in.
    - HELP / INFO: the help text, unless the number is opted out (Twilio does not answer
      HELP from an opted-out number either).
    - Anything else: delivered to the conversation. From an opted-out number it is still
      delivered (recorded, nothing lost), but replies to it must be withheld at send time:
      check the opt-out state when sending, not here, since it can change in between.
    """
    keyword = classify_keyword(body)
    if keyword is SmsKeyword.OPT_OUT:
        reply = None if opted_out else stop_reply(store_name)
        return KeywordOutcome(keyword, opted_out=True, reply=reply, deliver=False)
    if keyword is SmsKeyword.OPT_IN:
        is_yes = _normalised(body) == "yes"
        if is_yes and not opted_out:
            return KeywordOutcome(SmsKeyword.NONE, opted_out=False, reply=None, deliver=True)
        return KeywordOutcome(
            keyword, opted_out=False, reply=start_reply(store_name), deliver=False
        )
    if keyword is SmsKeyword.HELP:
        reply = None if opted_out else help_reply(store_name)
        return KeywordOutcome(keyword, opted_out=opted_out, reply=reply, deliver=False)
    return KeywordOutcome(keyword, opted_out=opted_out, reply=None, deliver=True)
