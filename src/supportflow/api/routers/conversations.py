"""The merchant's read access to a customer's conversation (API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from temporalio.service import RPCError, RPCStatusCode

from supportflow.api.deps import MerchantTenant, StateDep
from supportflow.workflows.contract import TranscriptView, customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow

router = APIRouter(tags=["conversations"])


@router.get("/v1/customers/{customer_id}/transcript", response_model=TranscriptView)
async def transcript(
    customer_id: Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")],
    tenant_id: MerchantTenant,
    state: StateDep,
) -> TranscriptView:
    # The workflow id embeds the tenant, so one tenant's key can never reach another's data.
    handle = state.temporal.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(tenant_id, customer_id)
    )
    try:
        return await handle.query(CustomerWorkflow.transcript)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no conversation") from err
        raise
