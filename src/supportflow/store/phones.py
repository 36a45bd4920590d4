"""Phone numbers as the store port takes them: E.164, checked before any backend is asked.

``StoreOperations.find_user_by_phone`` identifies a customer by the number on their store
account (an SMS sender is verified that way), so every adapter applies the same two rules
here: the number must be a valid E.164 number, and it must name exactly one account.
"""

from __future__ import annotations

import logging
from typing import Any

import phonenumbers

from supportflow.store.errors import StoreRejected

log = logging.getLogger(__name__)


def e164_or_reject(phone: str) -> str:
    """``phone`` in E.164 form (``+12015550123``; spaces, dots, dashes and brackets are
    ignored). Anything else (no ``+`` country code, not a valid number, an extension) is a
    permanent ``StoreRejected`` (422): the caller normalises what customers typed first."""
    try:
        number = phonenumbers.parse(phone, None)  # no default region: the "+" is required
    except phonenumbers.NumberParseException:
        number = None
    if number is None or number.extension or not phonenumbers.is_valid_number(number):
        # The number itself stays out of the message: errors are logged.
        raise StoreRejected(
            "phone: not a valid E.164 phone number (e.g. +12015550123)", status_code=422
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def only_account(users: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one account a phone lookup found; none for none, and none for several: a number
    on two accounts proves neither."""
    if len(users) > 1:
        log.warning("a phone number is on %d store accounts; it identifies none", len(users))
    return users[0] if len(users) == 1 else None
