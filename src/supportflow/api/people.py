"""What the people routers share: the conversation's workflow handle, the Temporal UI link,
and the errors a conversation's updates turn into."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import quote

from fastapi import HTTPException, status
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from supportflow.api.state import ApiState
from supportflow.inbox.model import InboxItem
from supportflow.operators.permissions import Role
from supportflow.operators.principal import Principal
from supportflow.settings import Settings
from supportflow.workflows.contract import customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow

log = logging.getLogger(__name__)
T = TypeVar("T")

# Customer ids as the API makes them (tenants/service.py).
CUSTOMER_ID = r"^c_[0-9a-f]{16}$"
# Handler refusals that mean "the conversation is not in that state" (another operator won,
# the approval was decided meanwhile): 409. The store not answering: 503, try again.
_CONFLICTS = frozenset({"AlreadyClaimed", "NotHolder", "NotPending"})


def conversation(state: ApiState, tenant_id: str, customer_id: str) -> WorkflowHandle:  # type: ignore[type-arg]
    """The customer's conversation; the workflow id embeds the tenant, so one tenant's
    caller can never reach another's."""
    return state.temporal.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(tenant_id, customer_id)
    )


def operator_name(who: Principal) -> str:
    """Who holds or decides, as the conversation records it."""
    return who.operator_id or "api_key"


def is_supervisor(who: Principal) -> bool:
    return who.role in (Role.SUPERVISOR, Role.ADMIN)


def temporal_url(settings: Settings, workflow_id: str) -> str:
    base = settings.temporal_ui_url or f"http://127.0.0.1:{settings.temporal_ui_port}"
    ns = quote(settings.temporal_namespace, safe="")
    return f"{base.rstrip('/')}/namespaces/{ns}/workflows/{quote(workflow_id, safe='')}"


def waiting_seconds(item: InboxItem) -> int | None:
    if item.since is None:
        return None
    return max(0, int((datetime.now(UTC) - item.since).total_seconds()))


async def run_update(call: Awaitable[T]) -> T:
    """An operator's update to a conversation, its refusals as HTTP errors: nothing changed
    in the conversation when one is raised."""
    try:
        return await call
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        message = cause.message if isinstance(cause, ApplicationError) else str(err)
        if kind == "StoreUnavailable":
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, message) from err
        if kind in _CONFLICTS or kind == "ValueError":
            # The validator's or the handler's refusal: the conversation's state says no.
            raise HTTPException(status.HTTP_409_CONFLICT, message) from err
        # Anything else is our failure: its message is for the logs, not the operator.
        log.warning("operator update failed: %s", kind)
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "the conversation could not take that action; nothing was changed",
        ) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no conversation") from err
        raise
