"""Console sign-in for operators: login (a session cookie), logout, who am I, and changing
one's own password (issue 12 item 1).

The cookie is HttpOnly and SameSite=Strict, Secure unless the API serves plain loopback
(settings.session_cookie_is_secure). Login answers one 401 for every failure and is rate
limited per client address and per tenant+email.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change, audit_sign_in
from supportflow.api.deps import StateDep, TenantReader
from supportflow.api.operator_auth import SESSION_COOKIE
from supportflow.api.ratelimit import rate_limits
from supportflow.api.schemas import Problem
from supportflow.operators import sessions as operator_sessions
from supportflow.operators.accounts import get_operator
from supportflow.operators.credentials import MAX_PASSWORD_CHARS, csrf_token_for
from supportflow.operators.permissions import Permission
from supportflow.operators.principal import Principal

router = APIRouter(tags=["auth"])

_NO_STORE = {"Cache-Control": "no-store"}


class LoginIn(BaseModel):
    tenant_id: str = Field(min_length=1, max_length=40)
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class LoginOut(BaseModel):
    operator_id: str
    role: str
    # Send it back as X-CSRF-Token on every POST/PUT/PATCH/DELETE made with the cookie.
    csrf_token: str
    expires_at: datetime


class MeOut(BaseModel):
    kind: Literal["operator", "api_key"]
    tenant_id: str
    operator_id: str | None
    email: str | None
    role: str
    approval_limit: Decimal | None
    permissions: list[str]
    # Only for a console session: its CSRF token again (after a page reload).
    csrf_token: str | None = None


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


def _too_many(retry_after: int, detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, detail, headers={"Retry-After": str(retry_after)}
    )


@router.post(
    "/v1/auth/login",
    response_model=LoginOut,
    responses={401: {"model": Problem, "description": "wrong email or password"}},
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    state: StateDep,
    after: BackgroundTasks,
) -> LoginOut | JSONResponse:
    limits = rate_limits(request)
    refusal = await limits.login_attempt(body.tenant_id, body.email, limits.client_address(request))
    if refusal is not None:
        raise _too_many(refusal.retry_after, refusal.detail)
    settings = state.settings
    try:
        done = await run_in_threadpool(
            operator_sessions.login,
            state.sessions,
            body.tenant_id,
            body.email,
            body.password,
            timedelta(hours=settings.operator_session_hours),
        )
    except operator_sessions.LoginFailed as err:
        refused = JSONResponse(
            {"detail": "wrong email or password"}, status_code=status.HTTP_401_UNAUTHORIZED
        )
        if err.operator_id is not None:
            # After the answer is sent: a failure on a real account must take no longer to
            # answer than one on no account, or the timing would tell which emails exist.
            refused.background = BackgroundTask(
                audit_sign_in, state, err.tenant_id, err.operator_id, err.reason
            )
        return refused
    if done.principal.operator_id is not None:
        after.add_task(audit_sign_in, state, done.principal.tenant_id, done.principal.operator_id)
    response.set_cookie(
        SESSION_COOKIE,
        done.session_id,
        max_age=int(settings.operator_session_hours * 3600),
        path="/",
        secure=settings.session_cookie_is_secure,
        httponly=True,
        samesite="strict",
    )
    response.headers.update(_NO_STORE)
    return LoginOut(
        operator_id=done.principal.operator_id or "",
        role=done.principal.role.value,
        csrf_token=done.csrf_token,
        expires_at=done.expires_at,
    )


@router.post("/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(who: TenantReader, state: StateDep) -> Response:
    """End this console session (a token or key has none to end: nothing changes)."""
    await run_in_threadpool(operator_sessions.logout, state.sessions, who)
    if who.operator_id is not None:
        await audit_change(state, who, "operator.logout", target=who.operator_id)
    done = Response(status_code=status.HTTP_204_NO_CONTENT)
    done.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=state.settings.session_cookie_is_secure,
        httponly=True,
        samesite="strict",
    )
    return done


@router.get("/v1/auth/me", response_model=MeOut)
async def me(who: TenantReader, request: Request, state: StateDep, response: Response) -> MeOut:
    email = None
    if who.operator_id is not None:
        view = await run_in_threadpool(get_operator, state.sessions, who.tenant_id, who.operator_id)
        email = view.email
    cookie = request.cookies.get(SESSION_COOKIE)
    response.headers.update(_NO_STORE)
    return MeOut(
        kind=who.kind,
        tenant_id=who.tenant_id,
        operator_id=who.operator_id,
        email=email,
        role=who.role.value,
        approval_limit=who.approval_limit,
        permissions=sorted(p.value for p in Permission if who.can(p)),
        csrf_token=csrf_token_for(cookie) if who.session_ref and cookie else None,
    )


@router.post("/v1/auth/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordIn, who: TenantReader, request: Request, state: StateDep
) -> Response:
    """Change one's own password; the operator's other console sessions end."""
    _operator_only(who)
    limits = rate_limits(request)
    # The current password can be guessed here too: the same budget as a login.
    refusal = await limits.login_attempt(
        who.tenant_id, f"operator:{who.operator_id}", limits.client_address(request)
    )
    if refusal is not None:
        raise _too_many(refusal.retry_after, refusal.detail)
    try:
        await run_in_threadpool(
            operator_sessions.change_password,
            state.sessions,
            who,
            body.current_password,
            body.new_password,
        )
    except operator_sessions.WrongPassword as err:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong") from err
    except ValueError as err:  # too short, too long, unchanged
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    await audit_change(state, who, "operator.password_changed", target=who.operator_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _operator_only(who: Principal) -> None:
    if who.operator_id is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "only an operator has a password; an API key has none"
        )
