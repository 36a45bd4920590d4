"""The codec server's bearer token: who may see decrypted payloads.

Not a tenant's API key: the Temporal UI and its histories span every tenant, and a tenant's
key must never read another tenant's data. The token belongs to the people who run the stack
(the engineer on call, support leads with host access). From ``SUPPORTFLOW_CODEC_TOKEN``, else
``<data_dir>/codec-token`` (``supportflow up`` creates it, 0600). Without either, the codec
server refuses every request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from supportflow.settings import Settings

TOKEN_FILE_NAME = "codec-token"
SESSION_SECONDS = 8 * 3600
_SESSION_LABEL = b"supportflow/codec-session/v1"


def token_file(settings: Settings) -> Path:
    return settings.data_dir / TOKEN_FILE_NAME


def load_codec_token(settings: Settings) -> str | None:
    if settings.codec_token is not None:
        value = settings.codec_token.get_secret_value().strip()
        return value or None
    try:
        value = token_file(settings).read_text().strip()
    except FileNotFoundError:
        return None
    return value or None


def ensure_codec_token(settings: Settings, *, rotate: bool = False) -> str:
    """The token, creating (or with ``rotate``, replacing) the data-dir file when the token is
    not configured in settings."""
    if settings.codec_token is not None:
        if rotate:
            raise ValueError("the codec token comes from SUPPORTFLOW_CODEC_TOKEN; change it there")
        return settings.codec_token.get_secret_value()
    path = token_file(settings)
    current = load_codec_token(settings)
    if current is not None and not rotate:
        return current
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def token_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


# A browser session for the Temporal UI, whose codec requests can carry cookies ("Include
# cross-origin credentials") but never an operator token: "<expiry>.<HMAC(token, expiry)>".
# Stateless, so any API process checks it, and changing the token ends every session.


def _session_mac(token: str, expires: int) -> str:
    key = hashlib.sha256(_SESSION_LABEL + token.encode()).digest()
    return hmac.new(key, str(expires).encode(), hashlib.sha256).hexdigest()


def new_session(token: str, *, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return f"{expires}.{_session_mac(token, expires)}"


def session_valid(token: str, session: str, *, now: float | None = None) -> bool:
    expires_s, _, mac = session.partition(".")
    if not expires_s.isdigit() or not mac:
        return False
    expires = int(expires_s)
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(_session_mac(token, expires), mac)
