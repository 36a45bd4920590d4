"""Erase one customer of one tenant: app rows and every Temporal run of its conversation.

For erasure requests (GDPR art. 17 and the like). The order matters: the app rows go first,
so no new message can be routed to the customer while its workflow runs are deleted; then
every run of the conversation's workflow (a continue-as-new chain has several) is
terminated if running and deleted with DeleteWorkflowExecution, which removes its history
and visibility records.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from supportflow.db.models import Customer, Identity, Tenant, VerificationCode
from supportflow.workflows.contract import customer_workflow_id

ERASE_REASON = "customer data erased on request"
_GONE_WITHIN_S = 30.0


class UnknownCustomer(LookupError):
    pass


@dataclass
class Erasure:
    tenant_id: str
    customer_id: str
    workflow_id: str
    app_rows: dict[str, int] = field(default_factory=dict)
    runs_terminated: int = 0
    runs_deleted: int = 0

    def as_dict(self) -> dict[str, object]:
        # Counts only: the report itself must not repeat the personal data it erased.
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "workflow_id": self.workflow_id,
            "app_rows_deleted": self.app_rows,
            "workflow_runs_terminated": self.runs_terminated,
            "workflow_runs_deleted": self.runs_deleted,
        }


def tenant_exists(sessions: sessionmaker[Session], tenant_id: str) -> bool:
    with sessions() as s:
        return s.get(Tenant, tenant_id) is not None


def erase_app_rows(
    sessions: sessionmaker[Session], tenant_id: str, customer_id: str
) -> dict[str, int] | None:
    """Delete the customer's rows in one transaction; None when there is no such customer."""
    with sessions.begin() as s:
        found = s.scalar(
            select(Customer.id).where(Customer.id == customer_id, Customer.tenant_id == tenant_id)
        )
        if found is None:
            return None
        counts: dict[str, int] = {}
        for name, model in (("identities", Identity), ("verification_codes", VerificationCode)):
            result = s.execute(
                delete(model).where(model.tenant_id == tenant_id, model.customer_id == customer_id)
            )
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        result = s.execute(
            delete(Customer).where(Customer.id == customer_id, Customer.tenant_id == tenant_id)
        )
        counts["customers"] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        return counts


async def _runs(client: Client, workflow_id: str) -> dict[str, bool]:
    """run id -> running, for every run: visibility lists closed runs of the chain; describe
    (strongly consistent) adds the latest run, which visibility may not show yet."""
    runs: dict[str, bool] = {}
    async for wf in client.list_workflows(f"WorkflowId = '{_quote(workflow_id)}'"):
        runs[wf.run_id] = wf.status == WorkflowExecutionStatus.RUNNING
    try:
        latest = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    else:
        runs[latest.run_id] = latest.status == WorkflowExecutionStatus.RUNNING
    return runs


async def erase_runs(client: Client, workflow_id: str) -> tuple[int, int]:
    """Terminate (if running) and delete every run of ``workflow_id``; (terminated, deleted)."""
    terminated: set[str] = set()
    deleted: set[str] = set()
    # A run can start while we delete (a message already in flight): look again until none.
    for _ in range(5):
        runs = await _runs(client, workflow_id)
        if not runs:
            break
        for run_id, running in runs.items():
            if running:
                with contextlib.suppress(_NotFound):
                    await _not_found_ok(
                        client.get_workflow_handle(workflow_id, run_id=run_id).terminate(
                            reason=ERASE_REASON
                        )
                    )
                    terminated.add(run_id)
            with contextlib.suppress(_NotFound):
                await _not_found_ok(
                    client.workflow_service.delete_workflow_execution(
                        DeleteWorkflowExecutionRequest(
                            namespace=client.namespace,
                            workflow_execution=WorkflowExecution(
                                workflow_id=workflow_id, run_id=run_id
                            ),
                        )
                    )
                )
                deleted.add(run_id)
        # Deletion is asynchronous on the server: wait until no run is left to see.
        deadline = time.monotonic() + _GONE_WITHIN_S
        for _ in range(int(_GONE_WITHIN_S / 0.2)):
            if not await _runs(client, workflow_id) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    return len(terminated), len(deleted)


class _NotFound(Exception):
    pass


async def _not_found_ok(call: Awaitable[object]) -> None:
    # Already gone (terminated or deleted meanwhile) is what we want; anything else is not.
    try:
        await call
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _NotFound from err
        raise


def _quote(value: str) -> str:
    # Visibility query strings use single quotes; ids here are ours, but never trust them.
    return value.replace("\\", "\\\\").replace("'", "\\'")


async def erase_customer(
    sessions: sessionmaker[Session], client: Client, tenant_id: str, customer_id: str
) -> Erasure:
    """Erase app rows and Temporal runs. Raises UnknownCustomer when neither exists."""
    workflow_id = customer_workflow_id(tenant_id, customer_id)
    erasure = Erasure(tenant_id, customer_id, workflow_id)
    rows = await asyncio.to_thread(erase_app_rows, sessions, tenant_id, customer_id)
    if rows is None and not await _runs(client, workflow_id):
        raise UnknownCustomer(f"tenant {tenant_id!r} has no customer {customer_id!r}")
    erasure.app_rows = rows or {"customers": 0, "identities": 0, "verification_codes": 0}
    erasure.runs_terminated, erasure.runs_deleted = await erase_runs(client, workflow_id)
    return erasure
