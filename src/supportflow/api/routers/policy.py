"""The merchant's policy: what agents may do, money limits, approvals. The API key or any
operator of the tenant reads it; changing it needs the edit_policy permission."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanEditPolicy, StateDep, TenantReader
from supportflow.policy.load import PolicyError
from supportflow.policy.store import PolicyStore

router = APIRouter(tags=["policy"])


@router.get("/v1/policy")
async def get_policy(who: TenantReader, state: StateDep) -> dict[str, Any]:
    # The policy as the merchant wrote it: a management guard in force (GET /v1/guards) is
    # not written back into it by an editor that loads, edits and saves.
    policy = await run_in_threadpool(
        lambda: PolicyStore(state.sessions).get(who.tenant_id, guards=False)
    )
    return policy.model_dump(mode="json")


@router.put("/v1/policy")
async def put_policy(
    who: CanEditPolicy, state: StateDep, doc: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Replace the policy. Applies to cases opened from now on; open cases keep theirs."""
    try:
        policy = await run_in_threadpool(PolicyStore(state.sessions).put, who.tenant_id, doc)
    except PolicyError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    await audit_change(state, who, "policy.update", target=who.tenant_id)
    return policy.model_dump(mode="json")
