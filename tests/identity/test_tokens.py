"""Identity tokens: what verifies and what is refused, with its reason."""

from __future__ import annotations

import time

import jwt
import pytest

from supportflow.identity.tokens import (
    InvalidIdentityToken,
    sign_identity_token,
    verify_identity_token,
)

SECRET = "sf_idsec_" + "x" * 43
PREVIOUS = "sf_idsec_" + "y" * 43


def test_email_and_sub_come_back_normalised() -> None:
    token = sign_identity_token(SECRET, email="  James.Li@Example.com ", sub="u_1")
    claims = verify_identity_token(token, [SECRET])
    assert (claims.email, claims.sub) == ("james.li@example.com", "u_1")


def test_the_previous_secret_verifies_during_a_rotation() -> None:
    token = sign_identity_token(PREVIOUS, sub="u_1")
    assert verify_identity_token(token, [SECRET, PREVIOUS]).sub == "u_1"
    with pytest.raises(InvalidIdentityToken, match="signature"):
        verify_identity_token(token, [SECRET])


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "a@b.co", "iat": -7200, "exp": -3600}, "expired"),
        ({"email": "a@b.co", "iat": 0, "exp": 3 * 86400}, "longer than 24 hours"),
        ({"email": "a@b.co"}, "no exp"),
        ({"email": "not-an-email", "exp": 60}, "no email and no sub"),
        ({"exp": 60}, "no email and no sub"),
    ],
)
def test_refused_tokens_say_why(claims: dict[str, object], reason: str) -> None:
    now = int(time.time())
    shifted = {
        k: (v + now if k in ("iat", "exp") and isinstance(v, int) else v) for k, v in claims.items()
    }
    with pytest.raises(InvalidIdentityToken, match=reason):
        verify_identity_token(jwt.encode(shifted, SECRET), [SECRET])


def test_no_secret_configured_and_oversized_tokens_are_refused() -> None:
    token = sign_identity_token(SECRET, email="a@b.co")
    with pytest.raises(InvalidIdentityToken, match="no identity secret"):
        verify_identity_token(token, [])
    with pytest.raises(InvalidIdentityToken, match="too long"):
        verify_identity_token("a" * 5000, [SECRET])


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode({"email": "a@b.co", "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(InvalidIdentityToken):
        verify_identity_token(token, [SECRET])
