"""Identity tokens: HS256 JWTs the merchant's own login signs for its logged-in shoppers.

As with Intercom's identity verification or Zendesk's messaging JWT, the merchant's server
signs ``{"email": ..., "sub": <store customer id>, "exp": ...}`` with the tenant's
``identity_secret``; the chat widget passes it along, and only then does the agent treat the
visitor as that customer. PyJWT does the cryptography and the time checks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

# A token is a session credential, not an account key: a long-lived one would outlive a
# logout by days. Tokens whose lifetime exceeds this are refused.
MAX_LIFETIME_SECONDS = 24 * 3600
# Clock skew tolerated between the merchant's server and ours.
LEEWAY_SECONDS = 60
_MAX_TOKEN_CHARS = 4096


class InvalidIdentityToken(ValueError):
    """The token is malformed, forged, expired or too long-lived; the message says which."""


@dataclass(frozen=True)
class IdentityClaims:
    email: str | None
    sub: str | None
    expires_at: int


def sign_identity_token(
    secret: str, *, email: str | None = None, sub: str | None = None, ttl_seconds: int = 3600
) -> str:
    """What a merchant's server does (and the demo, simulator and tests)."""
    if not (email or sub):
        raise ValueError("an identity token needs an email or a sub")
    now = int(time.time())
    claims: dict[str, object] = {"iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if sub:
        claims["sub"] = sub
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_identity_token(token: str, secrets: Sequence[str]) -> IdentityClaims:
    """Check the token against each of the tenant's valid secrets (the current one, and the
    previous one during a rotation's grace period)."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        raise InvalidIdentityToken("identity token is empty or too long")
    if not secrets:
        raise InvalidIdentityToken("this store has no identity secret configured")
    claims: dict[str, object] | None = None
    for secret in secrets:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                options={"require": ["exp"]},
                leeway=LEEWAY_SECONDS,
            )
            break
        except jwt.ExpiredSignatureError as err:
            raise InvalidIdentityToken("identity token has expired") from err
        except jwt.InvalidSignatureError:
            continue
        except jwt.MissingRequiredClaimError as err:
            raise InvalidIdentityToken("identity token has no exp claim") from err
        except jwt.InvalidTokenError as err:
            raise InvalidIdentityToken(f"identity token is invalid: {err}") from err
    if claims is None:
        raise InvalidIdentityToken("identity token signature does not match")
    exp = claims["exp"]
    assert isinstance(exp, int)  # PyJWT validated it as a number
    issued = claims.get("iat")
    start = issued if isinstance(issued, int) else int(time.time())
    if exp - start > MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise InvalidIdentityToken("identity token lives longer than 24 hours")
    email, sub = claims.get("email"), claims.get("sub")
    email = email.strip().lower() if isinstance(email, str) and "@" in email else None
    sub = str(sub).strip() if isinstance(sub, str | int) and str(sub).strip() else None
    if email is None and sub is None:
        raise InvalidIdentityToken("identity token names no email and no sub")
    if (email and len(email) > 320) or (sub and len(sub) > 200):
        raise InvalidIdentityToken("identity token claims are too long")
    return IdentityClaims(email=email, sub=sub, expires_at=exp)
