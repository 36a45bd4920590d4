"""Console sign-in: password login to a session, the session behind a cookie, logout and a
password change.

A login that fails says the same thing, in about the same time, whatever went wrong (no
such tenant or email, wrong password, disabled operator): the password is always checked
against a hash, a dummy one when there is no account. Only hashes of the session id and its
CSRF token are stored; a session ends at its expiry, on logout, or when its operator is
disabled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import Operator, OperatorSession
from supportflow.operators.accounts import InvalidOperator, normalise_email, principal_of
from supportflow.operators.changes import Change, aware, now, rowcount
from supportflow.operators.credentials import (
    MAX_PASSWORD_CHARS,
    burn_verify,
    check_new_password,
    csrf_token_for,
    digest,
    hash_password,
    needs_rehash,
    new_session_id,
    same_digest,
    verify_password,
)
from supportflow.operators.principal import Principal


class LoginFailed(Exception):
    """One answer for every failed login. ``reason`` is for the audit trail, never the
    client: "unknown_account", "wrong_password" or "disabled"."""

    def __init__(self, tenant_id: str, reason: str, operator_id: str | None = None) -> None:
        super().__init__("wrong email or password")
        self.tenant_id = tenant_id
        self.reason = reason
        self.operator_id = operator_id


class WrongPassword(Exception):
    pass


@dataclass(frozen=True)
class LoggedIn:
    principal: Principal
    session_id: str  # the cookie's value, never stored
    csrf_token: str
    expires_at: datetime
    change: Change


@dataclass(frozen=True)
class SessionMatch:
    principal: Principal
    csrf_hash: str

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and same_digest(token or "", self.csrf_hash)


def login(
    sessions: sessionmaker[Session],
    tenant_id: str,
    email: str,
    password: str,
    lifetime: timedelta,
) -> LoggedIn:
    try:
        address = normalise_email(email)
    except InvalidOperator:
        address = None
    with sessions() as s:
        operator = (
            s.scalar(
                select(Operator).where(Operator.tenant_id == tenant_id, Operator.email == address)
            )
            if address is not None and len(password) <= MAX_PASSWORD_CHARS
            else None
        )
    if operator is None:
        burn_verify(password[:MAX_PASSWORD_CHARS])
        raise LoginFailed(tenant_id, "unknown_account")
    if not verify_password(operator.password_hash, password):
        raise LoginFailed(tenant_id, "wrong_password", operator.id)
    if operator.disabled_at is not None:
        raise LoginFailed(tenant_id, "disabled", operator.id)
    rehash = hash_password(password) if needs_rehash(operator.password_hash) else None
    session_id = new_session_id()
    csrf_token = csrf_token_for(session_id)
    at = now()
    expires_at = at + lifetime
    ref = "os_" + uuid.uuid4().hex[:16]
    with sessions.begin() as s:
        row = s.get(Operator, operator.id)
        if row is None or row.disabled_at is not None:  # disabled meanwhile
            raise LoginFailed(tenant_id, "disabled", operator.id)
        if rehash is not None:
            row.password_hash = rehash
        s.add(
            OperatorSession(
                id=ref,
                operator_id=row.id,
                tenant_id=row.tenant_id,
                session_hash=digest(session_id),
                csrf_hash=digest(csrf_token),
                created_at=at,
                expires_at=expires_at,
            )
        )
        principal = principal_of(row, ref)
    change = Change(
        tenant_id, principal.actor, "operator.login", ref, {"expires_at": str(expires_at)}
    )
    return LoggedIn(principal, session_id, csrf_token, expires_at, change)


def session_for(sessions: sessionmaker[Session], session_id: str) -> SessionMatch | None:
    """The live session behind a cookie value: None when unknown, expired, ended, or its
    operator is disabled."""
    at = now()
    with sessions() as s:
        found = s.execute(
            select(OperatorSession, Operator)
            .join(Operator, Operator.id == OperatorSession.operator_id)
            .where(OperatorSession.session_hash == digest(session_id))
        ).one_or_none()
        if found is None:
            return None
        row, operator = found
        expires = aware(row.expires_at)
        if (
            row.revoked_at is not None
            or operator.disabled_at is not None
            or expires is None
            or expires <= at
        ):
            return None
        return SessionMatch(principal_of(operator, row.id), row.csrf_hash)


def logout(sessions: sessionmaker[Session], principal: Principal) -> Change | None:
    """End the session this principal came with (None when it had none or it had ended)."""
    if principal.session_ref is None:
        return None
    with sessions.begin() as s:
        ended = rowcount(
            s.execute(
                update(OperatorSession)
                .where(
                    OperatorSession.id == principal.session_ref,
                    OperatorSession.revoked_at.is_(None),
                )
                .values(revoked_at=now())
            )
        )
    if not ended:
        return None
    return Change(principal.tenant_id, principal.actor, "operator.logout", principal.session_ref)


def change_password(
    sessions: sessionmaker[Session], principal: Principal, current: str, new: str
) -> Change:
    """An operator's own password, given the current one. Ends the operator's other
    sessions (someone else may have been signed in with the old password); keeps this one
    and the personal tokens. ValueError: the new password is unacceptable."""
    if principal.operator_id is None:
        raise InvalidOperator("only an operator has a password; an API key has none")
    check_new_password(new)
    with sessions() as s:
        row = s.get(Operator, principal.operator_id)
        stored = row.password_hash if row is not None else None
    if stored is None or not verify_password(stored, current[:MAX_PASSWORD_CHARS]):
        raise WrongPassword("the current password is wrong")
    if new == current:
        raise ValueError("the new password must differ from the current one")
    new_hash = hash_password(new)
    at = now()
    with sessions.begin() as s:
        row = s.get(Operator, principal.operator_id)
        if row is None or row.password_hash != stored:  # changed meanwhile: check again
            raise WrongPassword("the current password is wrong")
        row.password_hash = new_hash
        others = update(OperatorSession).where(
            OperatorSession.operator_id == row.id, OperatorSession.revoked_at.is_(None)
        )
        if principal.session_ref is not None:
            others = others.where(OperatorSession.id != principal.session_ref)
        ended = rowcount(s.execute(others.values(revoked_at=at)))
    return Change(
        principal.tenant_id,
        principal.actor,
        "operator.password_changed",
        principal.operator_id,
        {"other_sessions_ended": ended},
    )
