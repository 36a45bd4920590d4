"""One-time sign-in codes by email, as Shopify's passwordless sign-in does it.

A six-digit code, valid ten minutes, five tries; at most a few codes per email and per
conversation in a window, so neither a mailbox nor the store can be flooded. The reply is the
same whether or not the email has an account ("if that email has an account, a code is on its
way"): only the mailbox's owner learns which. Codes are stored as salted SHA-256; the email
itself is sealed, since the conversation learns it only once the right code comes back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import VerificationCode

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Resend limits: codes per email, and per conversation, within the window.
SEND_WINDOW = timedelta(minutes=30)
MAX_SENDS_PER_EMAIL = 3
MAX_SENDS_PER_CUSTOMER = 5


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_hash(tenant_id: str, email: str) -> str:
    return hashlib.sha256(f"{tenant_id}:{normalise_email(email)}".encode()).hexdigest()


def _new_code() -> tuple[str, str]:
    """A six-digit code and the salt its hash is stored with."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}", secrets.token_hex(8)


def _code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite drops the zone


@dataclass(frozen=True)
class IssuedCode:
    status: Literal["issued", "rate_limited"]
    # Only for "issued" with an account: the code to send. Never logged, never returned
    # to the workflow.
    code: str | None = None
    already_sent: bool = False
    retry_after_seconds: int = 0


def issue_code(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    *,
    tenant_id: str,
    customer_id: str,
    email: str,
    request_key: str,
    has_account: bool,
    now: datetime | None = None,
) -> IssuedCode:
    """Record a new code for this request (idempotent by ``request_key``)."""
    now = now or datetime.now(UTC)
    ehash = email_hash(tenant_id, email)
    with sessions.begin() as s:
        existing = s.scalar(
            select(VerificationCode).where(VerificationCode.request_key == request_key)
        )
        if existing is not None:
            # A retried activity. Sent already: nothing more. Not sent (the relay failed the
            # first time): only the code's hash is kept, so make a fresh code for this row.
            if existing.sent or not has_account:
                return IssuedCode(status="issued", already_sent=existing.sent)
            code, salt = _new_code()
            existing.code_hash, existing.salt = _code_hash(salt, code), salt
            existing.attempts, existing.expires_at = 0, now + CODE_TTL
            return IssuedCode(status="issued", code=code)
        since = now - SEND_WINDOW
        per_email = s.scalar(
            select(func.count()).where(
                VerificationCode.tenant_id == tenant_id,
                VerificationCode.email_hash == ehash,
                VerificationCode.created_at >= since,
            )
        )
        per_customer = s.scalar(
            select(func.count()).where(
                VerificationCode.tenant_id == tenant_id,
                VerificationCode.customer_id == customer_id,
                VerificationCode.created_at >= since,
            )
        )
        if (per_email or 0) >= MAX_SENDS_PER_EMAIL or (per_customer or 0) >= MAX_SENDS_PER_CUSTOMER:
            return IssuedCode(
                status="rate_limited", retry_after_seconds=int(SEND_WINDOW.total_seconds())
            )
        code, salt = _new_code()
        s.add(
            VerificationCode(
                tenant_id=tenant_id,
                customer_id=customer_id,
                request_key=request_key,
                email_hash=ehash,
                email_sealed=keyring.seal(normalise_email(email)),
                code_hash=_code_hash(salt, code),
                salt=salt,
                attempts=0,
                sent=False,
                expires_at=now + CODE_TTL,
                created_at=now,
            )
        )
    return IssuedCode(status="issued", code=code if has_account else None)


def mark_sent(sessions: sessionmaker[Session], request_key: str) -> None:
    with sessions.begin() as s:
        row = s.scalar(select(VerificationCode).where(VerificationCode.request_key == request_key))
        if row is not None:
            row.sent = True


CheckStatus = Literal["verified", "wrong", "expired", "locked", "none"]


@dataclass(frozen=True)
class CodeCheck:
    status: CheckStatus
    email: str | None = None
    tries_left: int = 0


def check_code(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    *,
    tenant_id: str,
    customer_id: str,
    code: str,
    now: datetime | None = None,
) -> CodeCheck:
    """Check a code against this conversation's newest code. Every wrong try counts, across
    resends, so guessing is bounded by tries, not by codes."""
    now = now or datetime.now(UTC)
    return _check_once(sessions, keyring, tenant_id, customer_id, code.strip(), now)


def _check_once(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    tenant_id: str,
    customer_id: str,
    code: str,
    now: datetime,
) -> CodeCheck:
    with sessions.begin() as s:
        row = s.scalar(
            select(VerificationCode)
            .where(
                VerificationCode.tenant_id == tenant_id,
                VerificationCode.customer_id == customer_id,
            )
            .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None or row.consumed_at is not None:
            return CodeCheck(status="none")
        if row.attempts >= MAX_ATTEMPTS:
            return CodeCheck(status="locked")
        if _aware(row.expires_at) <= now:
            return CodeCheck(status="expired")
        row.attempts += 1
        # A code for an email without an account can never match: nothing was sent.
        matches = row.sent and hmac.compare_digest(row.code_hash, _code_hash(row.salt, code))
        if not matches:
            left = MAX_ATTEMPTS - row.attempts
            return CodeCheck(status="wrong" if left > 0 else "locked", tries_left=left)
        row.consumed_at = now
        return CodeCheck(status="verified", email=keyring.open_sealed(row.email_sealed))
