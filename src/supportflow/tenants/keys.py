"""Key generation and hashing. API keys are random 256-bit tokens, so a plain SHA-256 is a
safe one-way store (no dictionary to attack); comparison happens on the hash via the index."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "sf_live_"
CHAT_KEY_PREFIX = "sf_chat_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_chat_key() -> str:
    return CHAT_KEY_PREFIX + secrets.token_urlsafe(18)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
