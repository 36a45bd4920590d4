"""Annotated dependency aliases shared by the routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Cookie, Depends, Header, HTTPException, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from supportflow.api.operator_auth import resolve_principal
from supportflow.api.state import ApiState
from supportflow.operators.permissions import Permission
from supportflow.operators.principal import Principal
from supportflow.tenants.service import tenant_for_api_key, tenant_for_chat_key


def get_state(conn: HTTPConnection) -> ApiState:
    # HTTPConnection, not Request, so WebSocket routes can depend on it too.
    state: ApiState = conn.app.state.supportflow
    return state


StateDep = Annotated[ApiState, Depends(get_state)]

_UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED, detail="unknown tenant or wrong key"
)


async def _tenant(
    lookup: Callable[[sessionmaker[Session], str], str | None], state: ApiState, key: str | None
) -> str:
    """The tenant ``lookup`` finds for ``key``; a missing key and a wrong one get one answer."""
    if not key:
        raise _UNAUTHORIZED
    tenant_id = await run_in_threadpool(lookup, state.sessions, key)
    if tenant_id is None:
        raise _UNAUTHORIZED
    return tenant_id


async def chat_tenant(state: StateDep, x_chat_key: Annotated[str | None, Header()] = None) -> str:
    return await _tenant(tenant_for_chat_key, state, x_chat_key)


async def merchant_tenant(
    state: StateDep, x_api_key: Annotated[str | None, Header()] = None
) -> str:
    return await _tenant(tenant_for_api_key, state, x_api_key)


ChatTenant = Annotated[str, Depends(chat_tenant)]
MerchantTenant = Annotated[str, Depends(merchant_tenant)]


# --- Operators and roles (issue 12 item 1; api/operator_auth.py, operators/permissions.py) ----
# Every merchant-side action names the permission it needs; the API key acts as an admin.
async def principal(
    conn: HTTPConnection,
    state: StateDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
    sf_session: Annotated[str | None, Cookie()] = None,
) -> Principal:
    return await resolve_principal(conn, state, x_api_key, authorization, sf_session, x_csrf_token)


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the principal, when its role has ``permission`` (403 otherwise)."""

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"your role ({who.role}) does not have the {permission} permission",
            )
        return who

    return check


# Any operator of the tenant (or its API key): reading the merchant's settings.
TenantReader = Annotated[Principal, Depends(principal)]
CanEditPolicy = Annotated[Principal, Depends(require(Permission.EDIT_POLICY))]
CanEditTemplates = Annotated[Principal, Depends(require(Permission.EDIT_TEMPLATES))]
CanEditKnowledge = Annotated[Principal, Depends(require(Permission.EDIT_KNOWLEDGE))]
CanManageOperators = Annotated[Principal, Depends(require(Permission.MANAGE_OPERATORS))]
# People behind the agents (issue 12 items 2-3): the inbox, takeover, replies, approvals.
CanReadInbox = Annotated[Principal, Depends(require(Permission.READ_INBOX))]
CanTakeOver = Annotated[Principal, Depends(require(Permission.TAKE_OVER))]
CanReply = Annotated[Principal, Depends(require(Permission.REPLY))]
CanApprove = Annotated[Principal, Depends(require(Permission.APPROVE))]
CanReadAudit = Annotated[Principal, Depends(require(Permission.READ_AUDIT))]
# The store connection holds the tenant's store credentials: a key's business.
CanManageKeys = Annotated[Principal, Depends(require(Permission.MANAGE_KEYS))]
# --- end operators and roles ---------------------------------------------------------------------
