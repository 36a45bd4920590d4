"""Lookup keys for identifying customers: folded names/emails and deterministic phone numbers."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable

# Real US area codes with the exchange 555 and lines 0100-0199: the range NANPA reserves for
# fiction, so a demo SMS can never reach a real person, yet `phonenumbers` accepts the numbers
# as valid (a 555 area code would not be).
_AREA_CODES_TEXT = (
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 "
    "229 231 234 239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 "
    "303 304 305 307 308 309 310 312 313 314 315 316 317 318 319 320 321 323 325 330"
)
_AREA_CODES = tuple(_AREA_CODES_TEXT.split())
_NON_DIGITS = re.compile(r"\D")


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


def assign_phone(user_id: str, taken: Callable[[str], bool]) -> str:
    """First candidate not yet taken; deterministic because seeding walks users in id order."""
    attempt = 0
    while taken(candidate := phone_candidate(user_id, attempt)):
        attempt += 1
    return candidate


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a US number written any common way, or None if it cannot be one."""
    digits = _NON_DIGITS.sub("", raw)
    if len(digits) == 10:
        digits = "1" + digits
    if len(digits) != 11 or not digits.startswith("1"):
        return None
    return "+" + digits
