"""Annotated dependency aliases shared by the routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from supportflow.api.state import ApiState
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
