"""Lookup keys for identifying customers: folded names/emails and deterministic phone numbers."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable

import phonenumbers

# Real US area codes with the exchange 555 and lines 0100-0199: the range NANPA reserves for
# fiction, so a demo SMS can never reach a real person, yet `phonenumbers` accepts the numbers
# as valid (a 555 area code would not be).
_AREA_CODES_TEXT = (
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 "
    "229 231 234 239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 "
    "303 304 305 307 308 309 310 312 313 314 315 316 317 318 319 320 321 323 325 330"
)
_AREA_CODES = tuple(_AREA_CODES_TEXT.split())
# Numbers written without a country code are read as US numbers, as the demo customers' are.
_DEFAULT_REGION = "US"


def fold(text: str) -> str:
    """Case- and accent-insensitive form: a name said aloud or typed carries no diacritics."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def phone_candidate(user_id: str, attempt: int = 0) -> str:
    """The ``attempt``-th candidate E.164 number for a user, derived from a hash of the id."""
    digest = hashlib.sha256(f"{user_id}:{attempt}".encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    area = _AREA_CODES[value % len(_AREA_CODES)]
    line = (value // len(_AREA_CODES)) % 100
    return f"+1{area}555{100 + line:04d}"


def assign_phones(user_ids: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """A phone for each user: its first candidate not in ``taken`` nor already handed out,
    walking the ids in sorted order, so the same ids (and ``taken``) give the same numbers on
    every machine. Seeding a fresh database and upgrading an old one both go through here;
    60 area codes x 100 lines leave ~6,000 numbers for the seed's 500 users."""
    used = set(taken)
    phones: dict[str, str] = {}
    for user_id in sorted(user_ids):
        attempt = 0
        while (candidate := phone_candidate(user_id, attempt)) in used:
            attempt += 1
        phones[user_id] = candidate
        used.add(candidate)
    return phones


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a phone number written any common way (``+1 (201) 555-0150``,
    ``201.555.0150``; without a country code it is read as a US number), or None when it is
    not a valid number or carries an extension: no account has such a number."""
    try:
        number = phonenumbers.parse(raw, _DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
