"""A sender's phone number as the SMS doors take it: E.164, or nothing."""

from __future__ import annotations

import phonenumbers


def e164(number: str) -> str | None:
    """``number`` in E.164 form (``+12015550123``), or None when it is not a possible number
    with a country code (Twilio's ``From``, a merchant's ``from``)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
