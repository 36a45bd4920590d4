"""The merchant's operators: list, create and disable them, and their personal tokens
(issue 12 item 1). Needs the manage_operators permission (admins, the API key). An operator
or token of another tenant is simply not found (404)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_operator_change
from supportflow.api.deps import CanManageOperators, StateDep
from supportflow.operators import accounts
from supportflow.operators.accounts import OperatorView, TokenView
from supportflow.operators.permissions import MAX_APPROVAL_LIMIT, Role

router = APIRouter(tags=["operators"])

OperatorId = Annotated[str, Path(pattern=r"^op_[0-9a-f]{16}$")]
TokenId = Annotated[str, Path(pattern=r"^ot_[0-9a-f]{16}$")]


class OperatorIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    role: Role
    # Agents approve up to it; supervisors too, or any amount without one; admins any.
    approval_limit: Decimal | None = Field(default=None, ge=0, le=MAX_APPROVAL_LIMIT)


class OperatorOut(BaseModel):
    operator_id: str
    email: str
    role: Role
    approval_limit: Decimal | None
    created_at: datetime
    disabled_at: datetime | None
    status: str  # "active" | "disabled"


class TokenOut(BaseModel):
    token_id: str
    operator_id: str
    last4: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str  # "active" | "revoked"


class CreatedOut(BaseModel):
    operator: OperatorOut
    # Shown once: only their hashes are stored.
    password: str
    token_id: str
    api_token: str


class IssuedOut(BaseModel):
    token: TokenOut
    api_token: str  # shown once


def _out(v: OperatorView) -> OperatorOut:
    return OperatorOut(
        operator_id=v.operator_id,
        email=v.email,
        role=v.role,
        approval_limit=v.approval_limit,
        created_at=v.created_at,
        disabled_at=v.disabled_at,
        status="disabled" if v.disabled_at else "active",
    )


def _token_out(v: TokenView) -> TokenOut:
    return TokenOut(
        token_id=v.token_id,
        operator_id=v.operator_id,
        last4=v.last4,
        created_at=v.created_at,
        last_used_at=v.last_used_at,
        revoked_at=v.revoked_at,
        status="revoked" if v.revoked_at else "active",
    )


def _no_operator(operator_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no operator {operator_id!r}")


_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/v1/operators", response_model=list[OperatorOut])
async def list_operators(who: CanManageOperators, state: StateDep) -> list[OperatorOut]:
    views = await run_in_threadpool(accounts.list_operators, state.sessions, who.tenant_id)
    return [_out(v) for v in views]


@router.post("/v1/operators", response_model=CreatedOut, status_code=status.HTTP_201_CREATED)
async def create_operator(
    body: OperatorIn, who: CanManageOperators, state: StateDep, response: Response
) -> CreatedOut:
    """A new operator; its first password and personal token are in this answer only."""
    try:
        made = await run_in_threadpool(
            lambda: accounts.create_operator(
                state.sessions,
                who.tenant_id,
                body.email,
                body.role,
                body.approval_limit,
                actor=who.actor,
            )
        )
    except accounts.InvalidOperator as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except accounts.OperatorExists as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    await audit_operator_change(state, who, made.change)
    response.headers["Location"] = f"/v1/operators/{made.operator.operator_id}"
    response.headers.update(_NO_STORE)
    return CreatedOut(
        operator=_out(made.operator),
        password=made.password,
        token_id=made.token_id,
        api_token=made.api_token,
    )


@router.get("/v1/operators/{operator_id}", response_model=OperatorOut)
async def get_operator(
    operator_id: OperatorId, who: CanManageOperators, state: StateDep
) -> OperatorOut:
    try:
        view = await run_in_threadpool(
            accounts.get_operator, state.sessions, who.tenant_id, operator_id
        )
    except accounts.UnknownOperator as err:
        raise _no_operator(operator_id) from err
    return _out(view)


@router.post("/v1/operators/{operator_id}/disable", response_model=OperatorOut)
async def disable_operator(
    operator_id: OperatorId, who: CanManageOperators, state: StateDep
) -> OperatorOut:
    """Disable an operator: its sessions and tokens stop working at once. Idempotent."""
    if operator_id == who.operator_id:
        # An admin locking themselves out by a slip; another admin or the API key can.
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot disable your own account")
    try:
        view, change = await run_in_threadpool(
            lambda: accounts.disable_operator(
                state.sessions, who.tenant_id, operator_id, actor=who.actor
            )
        )
    except accounts.UnknownOperator as err:
        raise _no_operator(operator_id) from err
    await audit_operator_change(state, who, change)
    return _out(view)


@router.get("/v1/operators/{operator_id}/tokens", response_model=list[TokenOut])
async def list_tokens(
    operator_id: OperatorId, who: CanManageOperators, state: StateDep
) -> list[TokenOut]:
    try:
        views = await run_in_threadpool(
            accounts.list_tokens, state.sessions, who.tenant_id, operator_id
        )
    except accounts.UnknownOperator as err:
        raise _no_operator(operator_id) from err
    return [_token_out(v) for v in views]


@router.post(
    "/v1/operators/{operator_id}/tokens",
    response_model=IssuedOut,
    status_code=status.HTTP_201_CREATED,
)
async def issue_token(
    operator_id: OperatorId, who: CanManageOperators, state: StateDep, response: Response
) -> IssuedOut:
    """A new personal token (in this answer only); the operator's others keep working."""
    try:
        issued = await run_in_threadpool(
            lambda: accounts.issue_token(
                state.sessions, who.tenant_id, operator_id, actor=who.actor
            )
        )
    except accounts.UnknownOperator as err:
        raise _no_operator(operator_id) from err
    except accounts.OperatorDisabled as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    await audit_operator_change(state, who, issued.change)
    response.headers.update(_NO_STORE)
    return IssuedOut(token=_token_out(issued.token), api_token=issued.api_token)


@router.post("/v1/operators/{operator_id}/tokens/{token_id}/revoke", response_model=TokenOut)
async def revoke_token(
    operator_id: OperatorId, token_id: TokenId, who: CanManageOperators, state: StateDep
) -> TokenOut:
    """End one token at once. Idempotent."""
    try:
        view, change = await run_in_threadpool(
            lambda: accounts.revoke_token(
                state.sessions, who.tenant_id, token_id, operator_id=operator_id, actor=who.actor
            )
        )
    except accounts.UnknownToken as err:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"operator {operator_id!r} has no token {token_id!r}"
        ) from err
    await audit_operator_change(state, who, change)
    return _token_out(view)
