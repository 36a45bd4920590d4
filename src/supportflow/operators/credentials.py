"""Operators' secrets: passwords (argon2id), personal API tokens and session ids.

Passwords are chosen by people, so they are stored with a slow, salted hash (argon2id,
argon2-cffi's RFC 9106 defaults). Tokens and session ids are random 256-bit values: a plain
SHA-256 is a safe one-way store for them (nothing to guess), and lets a request find its row
by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "sf_op_"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256  # argon2 takes any length; this bounds the work one request asks

_HASHER = PasswordHasher()


def new_password() -> str:
    """A generated first password (shown once): 24 URL-safe characters, 144 bits."""
    return secrets.token_urlsafe(18)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(session_id: str) -> str:
    """The session's CSRF token, derived from its id so the console can be given it again
    (GET /v1/auth/me) although only hashes are stored; it reveals nothing about the id."""
    mac = hmac.new(session_id.encode("utf-8"), b"supportflow csrf v1", hashlib.sha256)
    return mac.hexdigest()


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_digest(value: str, stored: str) -> bool:
    return hmac.compare_digest(digest(value), stored)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


@cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(18))


def burn_verify(password: str) -> None:
    """Spend what a real check costs, for a login with no account behind it, so the answer's
    timing does not tell a wrong password from an unknown email."""
    verify_password(_dummy_hash(), password)


def check_new_password(password: str) -> None:
    """ValueError when a chosen password is too short or too long."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"the new password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"the new password must have at most {MAX_PASSWORD_CHARS} characters")
