"""Auditing changes made through the API: one call per handler, after the change is made.

``await audit_change(state, who, "policy.update", target=who.tenant_id)`` appends an entry
with the caller as actor and the request id: an operator by id, the merchant API key by its
key id (``merchant`` when the key predates key ids). ``who`` is the handler's ``Principal``,
or the tenant id a ``MerchantTenant`` handler has. The append runs on the thread pool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from supportflow.api.request_context import RequestContext, current_request
from supportflow.api.state import ApiState
from supportflow.audit.entry import ActorKind, AuditEntry, NewEntry
from supportflow.audit.log import append
from supportflow.db.models import TenantApiKey
from supportflow.operators.changes import Change
from supportflow.operators.principal import Principal
from supportflow.tenants.keys import hash_key

# When the key's row cannot be found (a key from before key ids): the tenant's key.
MERCHANT = "merchant"


def _key_id(sessions: sessionmaker[Session], tenant_id: str, api_key: str | None) -> str:
    if not api_key:
        return MERCHANT
    with sessions() as s:
        key_id = s.scalar(
            select(TenantApiKey.id).where(
                TenantApiKey.key_hash == hash_key(api_key), TenantApiKey.tenant_id == tenant_id
            )
        )
    return key_id or MERCHANT


def _append(
    sessions: sessionmaker[Session],
    who: Principal | str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    request: RequestContext | None,
    workflow_id: str | None = None,
    idempotency_key: str | None = None,
) -> AuditEntry:
    if isinstance(who, Principal) and who.operator_id is not None:
        tenant_id, kind, actor_id = who.tenant_id, ActorKind.OPERATOR, who.operator_id
    else:
        tenant_id = who.tenant_id if isinstance(who, Principal) else who
        kind = ActorKind.API_KEY
        actor_id = _key_id(sessions, tenant_id, request.api_key if request else None)
    return _append_as(
        sessions,
        tenant_id,
        kind,
        actor_id,
        action,
        target,
        details,
        request,
        workflow_id=workflow_id,
        idempotency_key=idempotency_key,
    )


async def audit_change(
    state: ApiState,
    who: Principal | str,
    action: str,
    *,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    workflow_id: str | None = None,
    idempotency_key: str | None = None,
) -> AuditEntry:
    """Record that the caller made a change in its tenant (once the change is made);
    ``workflow_id`` names the conversation it was made in, if any; a change sent again with
    the same ``idempotency_key`` is recorded once."""
    return await run_in_threadpool(
        _append,
        state.sessions,
        who,
        action,
        target,
        details or {},
        current_request(),
        workflow_id,
        idempotency_key,
    )


async def audit_operator_change(
    state: ApiState, who: Principal, change: Change | None
) -> AuditEntry | None:
    """Record a change an operator service reported (operators, tokens, sessions); None:
    the call changed nothing (disabling a disabled operator), so nothing is recorded."""
    if change is None:
        return None
    # The trail holds ids, never contact details: an operator's email stays in its account.
    details = {k: v for k, v in change.details.items() if k != "email"}
    return await audit_change(state, who, change.action, target=change.target, details=details)


def _append_as(
    sessions: sessionmaker[Session],
    tenant_id: str,
    kind: ActorKind,
    actor_id: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    request: RequestContext | None,
    *,
    workflow_id: str | None = None,
    idempotency_key: str | None = None,
) -> AuditEntry:
    return append(
        sessions,
        NewEntry(
            tenant_id=tenant_id,
            actor_kind=kind,
            actor_id=actor_id,
            action=action,
            target=target,
            details=details,
            request_id=request.request_id if request else None,
            workflow_id=workflow_id,
            idempotency_key=idempotency_key,
        ),
    )


async def audit_sign_in(
    state: ApiState, tenant_id: str, operator_id: str, failed: str | None = None
) -> AuditEntry:
    """An operator signed in to the console, or a sign-in with their email failed (``failed``
    says why: wrong password, account disabled). Attempts on no account are not recorded:
    they would let anyone write into a tenant's trail (the rate limit counts them)."""
    action = "operator.login_failed" if failed else "operator.login"
    details = {"reason": failed} if failed else {}
    return await run_in_threadpool(
        _append_as,
        state.sessions,
        tenant_id,
        ActorKind.OPERATOR,
        operator_id,
        action,
        operator_id,
        details,
        current_request(),
    )
