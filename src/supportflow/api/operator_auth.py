"""Who is asking, for the merchant-side API: the merchant's API key, an operator's personal
token, or an operator's console session (issue 12 item 1). Aliases are in api/deps.py.

The first credential present counts, in this order: ``X-Api-Key`` (automation, admin
rights, unchanged from before operators existed), ``Authorization: Bearer <token>``, the
``sf_session`` cookie. A cookie is sent by the browser on its own, so every unsafe request
it authenticates must also carry the session's ``X-CSRF-Token`` (a page on another site
cannot read it); tokens and keys are never sent on their own, so they need none.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException, status
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from supportflow.api.state import ApiState
from supportflow.inbox.routing_store import mark_seen
from supportflow.operators.accounts import principal_for_token
from supportflow.operators.principal import Principal
from supportflow.operators.sessions import session_for
from supportflow.tenants.service import tenant_for_api_key

SESSION_COOKIE = "sf_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorized(detail: str, scheme: str | None = None) -> HTTPException:
    headers = {"WWW-Authenticate": scheme} if scheme else None
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers=headers)


async def resolve_principal(
    conn: HTTPConnection,
    state: ApiState,
    api_key: str | None,
    authorization: str | None,
    session_cookie: str | None,
    csrf_token: str | None,
) -> Principal:
    if api_key:
        tenant_id = await run_in_threadpool(tenant_for_api_key, state.sessions, api_key)
        if tenant_id is None:
            raise _unauthorized("unknown tenant or wrong key")
        return Principal.api_key(tenant_id)
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 200:
            raise _unauthorized("use Authorization: Bearer <operator token>", "Bearer")
        principal = await run_in_threadpool(principal_for_token, state.sessions, token)
        if principal is None:
            raise _unauthorized("unknown or revoked token", "Bearer")
        return principal
    if session_cookie:
        match = (
            await run_in_threadpool(session_for, state.sessions, session_cookie)
            if len(session_cookie) <= 200
            else None
        )
        if match is None:
            raise _unauthorized("your session has ended; sign in again")
        method = conn.scope.get("method")
        if method is not None and method not in _SAFE_METHODS and not match.csrf_ok(csrf_token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER} header")
        who = match.principal
        if who.operator_id is not None:
            # Routing's presence (issue 14): any console request says the operator is here,
            # on the inbox or on a conversation's page (written at most once a minute).
            await run_in_threadpool(
                mark_seen, state.sessions, who.tenant_id, who.operator_id, datetime.now(UTC)
            )
        return who
    raise _unauthorized("sign in, or send an X-Api-Key or an operator token")
