"""Operator accounts and their personal API tokens: create, list, disable, issue, revoke.

Secrets (the first password, each token) are returned once and stored only as hashes. Every
function that changes something returns a ``Change`` for the audit trail. ``tenant_id``
scopes every lookup: an operator or token of another tenant is simply not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import Operator, OperatorSession, OperatorToken, Tenant
from supportflow.operators.changes import Change, aware, now, rowcount
from supportflow.operators.credentials import (
    digest,
    hash_password,
    new_password,
    new_token,
)
from supportflow.operators.permissions import Role, check_approval_limit
from supportflow.operators.principal import Principal

# A token's last use is written at most this often: not a database write per request.
_LAST_USED_EVERY = timedelta(minutes=1)


class UnknownTenant(LookupError):
    pass


class UnknownOperator(LookupError):
    pass


class UnknownToken(LookupError):
    pass


class OperatorExists(ValueError):
    pass


class OperatorDisabled(ValueError):
    pass


class InvalidOperator(ValueError):
    """Bad input for an operator (email, role, limit); the message says what."""


@dataclass(frozen=True)
class OperatorView:
    """What may be shown about an operator: never the password hash."""

    operator_id: str
    tenant_id: str
    email: str
    role: Role
    approval_limit: Decimal | None
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class TokenView:
    token_id: str
    operator_id: str
    last4: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedOperator:
    operator: OperatorView
    password: str  # shown once
    token_id: str
    api_token: str  # shown once
    change: Change


@dataclass(frozen=True)
class IssuedToken:
    token: TokenView
    api_token: str  # shown once
    change: Change


def normalise_email(email: str) -> str:
    try:
        found = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as err:
        raise InvalidOperator(f"not a valid email address: {err}") from None
    return found.normalized.lower()


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidOperator(
            "the role must be one of " + ", ".join(r.value for r in Role)
        ) from None


def _view(row: Operator) -> OperatorView:
    return OperatorView(
        operator_id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        role=Role(row.role),
        approval_limit=row.approval_limit,
        created_at=aware(row.created_at) or now(),
        disabled_at=aware(row.disabled_at),
    )


def _token_view(row: OperatorToken) -> TokenView:
    return TokenView(
        token_id=row.id,
        operator_id=row.operator_id,
        last4=row.last4,
        created_at=aware(row.created_at) or now(),
        last_used_at=aware(row.last_used_at),
        revoked_at=aware(row.revoked_at),
    )


def _add_token(s: Session, row: Operator, at: datetime) -> tuple[OperatorToken, str]:
    token = new_token()
    made = OperatorToken(
        id="ot_" + uuid.uuid4().hex[:16],
        operator_id=row.id,
        tenant_id=row.tenant_id,
        token_hash=digest(token),
        last4=token[-4:],
        created_at=at,
    )
    s.add(made)
    return made, token


def create_operator(
    sessions: sessionmaker[Session],
    tenant_id: str,
    email: str,
    role: str,
    approval_limit: Decimal | None = None,
    *,
    actor: str,
) -> CreatedOperator:
    """A new operator with a generated password and a first personal token."""
    chosen = parse_role(role)
    address = normalise_email(email)
    try:
        limit = check_approval_limit(chosen, approval_limit)
    except ValueError as err:
        raise InvalidOperator(str(err)) from None
    password = new_password()
    password_hash = hash_password(password)  # slow: before the transaction opens
    at = now()
    try:
        with sessions.begin() as s:
            if s.get(Tenant, tenant_id) is None:
                raise UnknownTenant(f"no tenant {tenant_id}")
            row = Operator(
                id="op_" + uuid.uuid4().hex[:16],
                tenant_id=tenant_id,
                email=address,
                role=chosen.value,
                approval_limit=limit,
                password_hash=password_hash,
                created_at=at,
            )
            s.add(row)
            s.flush()  # the unique email, and the token's reference
            token_row, token = _add_token(s, row, at)
            view, token_id = _view(row), token_row.id
    except IntegrityError:
        raise OperatorExists(f"this tenant already has an operator {address}") from None
    change = Change(
        tenant_id,
        actor,
        "operator.created",
        view.operator_id,
        {
            "email": address,
            "role": chosen.value,
            "approval_limit": None if limit is None else str(limit),
            "token_id": token_id,
        },
    )
    return CreatedOperator(view, password, token_id, token, change)


def list_operators(sessions: sessionmaker[Session], tenant_id: str) -> list[OperatorView]:
    with sessions() as s:
        if s.get(Tenant, tenant_id) is None:
            raise UnknownTenant(f"no tenant {tenant_id}")
        rows = s.scalars(
            select(Operator)
            .where(Operator.tenant_id == tenant_id)
            .order_by(Operator.created_at, Operator.id)
        )
        return [_view(row) for row in rows]


def _operator(s: Session, tenant_id: str | None, operator_id: str) -> Operator:
    """The operator, when it belongs to ``tenant_id`` (None: any tenant, the CLI only)."""
    row = s.get(Operator, operator_id)
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        raise UnknownOperator(f"no operator {operator_id}")
    return row


def get_operator(
    sessions: sessionmaker[Session], tenant_id: str | None, operator_id: str
) -> OperatorView:
    with sessions() as s:
        return _view(_operator(s, tenant_id, operator_id))


def disable_operator(
    sessions: sessionmaker[Session], tenant_id: str | None, operator_id: str, *, actor: str
) -> tuple[OperatorView, Change | None]:
    """Disable an operator: its sessions and tokens end at once. Idempotent (no Change when
    it was already disabled)."""
    at = now()
    with sessions.begin() as s:
        row = _operator(s, tenant_id, operator_id)
        if row.disabled_at is not None:
            return _view(row), None
        row.disabled_at = at
        ended_sessions = rowcount(
            s.execute(
                update(OperatorSession)
                .where(OperatorSession.operator_id == row.id, OperatorSession.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        )
        ended_tokens = rowcount(
            s.execute(
                update(OperatorToken)
                .where(OperatorToken.operator_id == row.id, OperatorToken.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        )
        view = _view(row)
    change = Change(
        view.tenant_id,
        actor,
        "operator.disabled",
        view.operator_id,
        {"sessions_ended": ended_sessions, "tokens_revoked": ended_tokens},
    )
    return view, change


def issue_token(
    sessions: sessionmaker[Session], tenant_id: str | None, operator_id: str, *, actor: str
) -> IssuedToken:
    """A new personal token for an enabled operator (its others keep working)."""
    with sessions.begin() as s:
        row = _operator(s, tenant_id, operator_id)
        if row.disabled_at is not None:
            raise OperatorDisabled(f"operator {operator_id} is disabled")
        made, token = _add_token(s, row, now())
        s.flush()
        view = _token_view(made)
        owner_tenant = row.tenant_id
    change = Change(
        owner_tenant, actor, "operator.token_issued", view.token_id, {"operator_id": operator_id}
    )
    return IssuedToken(view, token, change)


def revoke_token(
    sessions: sessionmaker[Session],
    tenant_id: str | None,
    token_id: str,
    *,
    operator_id: str | None = None,
    actor: str,
) -> tuple[TokenView, Change | None]:
    """End one token now. Idempotent (no Change when it was already revoked). With
    ``operator_id``, the token must be that operator's."""
    with sessions.begin() as s:
        row = s.get(OperatorToken, token_id)
        if (
            row is None
            or (tenant_id is not None and row.tenant_id != tenant_id)
            or (operator_id is not None and row.operator_id != operator_id)
        ):
            raise UnknownToken(f"no operator token {token_id}")
        already = row.revoked_at is not None
        if not already:
            row.revoked_at = now()
        view, owner_tenant = _token_view(row), row.tenant_id
    if already:
        return view, None
    change = Change(
        owner_tenant,
        actor,
        "operator.token_revoked",
        token_id,
        {"operator_id": view.operator_id},
    )
    return view, change


def list_tokens(
    sessions: sessionmaker[Session], tenant_id: str | None, operator_id: str
) -> list[TokenView]:
    with sessions() as s:
        _operator(s, tenant_id, operator_id)
        rows = s.scalars(
            select(OperatorToken)
            .where(OperatorToken.operator_id == operator_id)
            .order_by(OperatorToken.created_at, OperatorToken.id)
        )
        return [_token_view(row) for row in rows]


def principal_for_token(sessions: sessionmaker[Session], token: str) -> Principal | None:
    """Who a personal token speaks for: None when it is unknown, revoked, or its operator is
    disabled. Read on every request, so a revocation counts at once on every API process."""
    at = now()
    with sessions() as s:
        found = s.execute(
            select(OperatorToken, Operator)
            .join(Operator, Operator.id == OperatorToken.operator_id)
            .where(OperatorToken.token_hash == digest(token))
        ).one_or_none()
        if found is None:
            return None
        row, operator = found
        if row.revoked_at is not None or operator.disabled_at is not None:
            return None
        last = aware(row.last_used_at)
        if last is None or at - last >= _LAST_USED_EVERY:
            row.last_used_at = at
            s.commit()
        return principal_of(operator)


def principal_of(operator: Operator, session_ref: str | None = None) -> Principal:
    return Principal(
        tenant_id=operator.tenant_id,
        kind="operator",
        operator_id=operator.id,
        role=Role(operator.role),
        approval_limit=operator.approval_limit,
        session_ref=session_ref,
    )
