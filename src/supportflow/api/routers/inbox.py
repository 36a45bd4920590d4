"""The inbox (conversations that need a person) and the approvals waiting in it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanApprove, CanReadInbox, StateDep
from supportflow.api.people import (
    conversation,
    operator_name,
    run_update,
    temporal_url,
    waiting_seconds,
)
from supportflow.api.schemas import Problem
from supportflow.inbox.model import InboxApproval, InboxItem, InboxReason
from supportflow.inbox.store import InboxFilter, InboxStore
from supportflow.operators.accounts import UnknownTenant, list_operators
from supportflow.operators.principal import Principal
from supportflow.procedures.case import ApprovalRequest
from supportflow.workflows.contract import ApprovalDecision
from supportflow.workflows.customer import CustomerWorkflow

router = APIRouter(tags=["inbox"])


class InboxLine(BaseModel):
    customer_id: str
    workflow_id: str
    reason: InboxReason | None
    since: str | None
    waiting_seconds: int | None
    held_by: str | None
    channel: str | None
    detail: str | None
    approval: InboxApproval | None
    sla_breaches: list[str]
    temporal_url: str
    # Routing (issue 14): the operator the management agent gave the line to (an id, and
    # their email for people to read); anyone allowed may still claim it.
    assigned_to: str | None = None
    assigned_email: str | None = None
    assigned_at: str | None = None
    # The watchdog sent it to supervisors (it waited too long with nobody holding it).
    escalated_at: str | None = None


class InboxOut(BaseModel):
    items: list[InboxLine]


class DecisionIn(BaseModel):
    decision: Literal["approve", "deny"]
    note: str = Field(default="", max_length=2000)
    # Whether the customer hears the note (a denial's reason), or only colleagues.
    share_note: bool = False


def _line(state: StateDep, item: InboxItem, emails: dict[str, str] | None = None) -> InboxLine:
    # SLA first: a late answer is what a supervisor must see, whatever the original reason.
    reason: InboxReason | None = "sla" if item.sla_breaches else item.reason
    assigned = item.assigned_to
    return InboxLine(
        customer_id=item.customer_id,
        workflow_id=item.workflow_id,
        reason=reason,
        since=item.since.isoformat() if item.since else None,
        waiting_seconds=waiting_seconds(item),
        held_by=item.held_by,
        channel=item.channel,
        detail=item.detail,
        approval=item.approval,
        sla_breaches=item.sla_breaches,
        temporal_url=temporal_url(state.settings, item.workflow_id),
        assigned_to=assigned,
        assigned_email=(emails or {}).get(assigned) if assigned else None,
        assigned_at=item.assigned_at.isoformat() if item.assigned_at else None,
        escalated_at=item.escalated_at.isoformat() if item.escalated_at else None,
    )


def _routing_view(state: StateDep, who: Principal, items: list[InboxItem]) -> dict[str, str]:
    """Routing (issue 14): the emails of the operators the lines are assigned to (presence
    is marked for every console request: api/operator_auth.py)."""
    if not any(i.assigned_to for i in items):
        return {}
    try:
        return {o.operator_id: o.email for o in list_operators(state.sessions, who.tenant_id)}
    except UnknownTenant:
        return {}


@router.get("/v1/inbox", response_model=InboxOut)
async def inbox(
    who: CanReadInbox,
    state: StateDep,
    reason: InboxReason | None = None,
    unclaimed: bool = False,
    mine: bool = False,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    assigned_to_me: bool = False,
) -> InboxOut:
    """Conversations that need a person, longest waiting first. ``mine``: the ones you
    hold; ``assigned_to_me``: the ones the management agent gave you."""
    f = InboxFilter(
        reason=reason,
        held_by=operator_name(who) if mine else None,
        unclaimed=unclaimed,
        channel=channel,
        search=q,
        limit=limit,
        assigned_to=operator_name(who) if assigned_to_me else None,
    )
    items = await run_in_threadpool(InboxStore(state.sessions).list, who.tenant_id, f)
    emails = await run_in_threadpool(_routing_view, state, who, items)
    return InboxOut(items=[_line(state, i, emails) for i in items])


@router.get("/v1/approvals", response_model=InboxOut)
async def approvals(who: CanReadInbox, state: StateDep) -> InboxOut:
    """The approvals waiting for an operator's decision."""
    items = await run_in_threadpool(
        InboxStore(state.sessions).list, who.tenant_id, InboxFilter(limit=500)
    )
    return InboxOut(items=[_line(state, i) for i in items if i.approval is not None])


@router.post(
    "/v1/approvals/{approval_id}",
    response_model=ApprovalRequest,
    responses={
        403: {"model": Problem, "description": "no approve permission, or over your limit"},
        404: {"model": Problem},
        409: {"model": Problem, "description": "already decided or expired; nothing changed"},
    },
)
async def decide(
    approval_id: Annotated[str, Path(pattern=r"^ap_[0-9a-f]{24}$")],
    body: DecisionIn,
    who: CanApprove,
    state: StateDep,
) -> ApprovalRequest:
    """Approve (the action runs, and the customer is told) or deny (the customer is told,
    with the note when it is shared)."""
    item = await run_in_threadpool(
        InboxStore(state.sessions).by_approval, who.tenant_id, approval_id
    )
    if item is None or item.approval is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such approval")
    amount = item.approval.amount
    if body.decision == "approve" and not who.may_approve(
        Decimal(str(amount)) if amount is not None else None
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the amount is over your approval limit; ask a supervisor",
        )
    limit = float(who.approval_limit) if who.approval_limit is not None else None
    decided = await run_update(
        conversation(state, who.tenant_id, item.customer_id).execute_update(
            CustomerWorkflow.decide_approval,
            ApprovalDecision(
                approval_id=approval_id,
                operator_id=operator_name(who),
                decision=body.decision,
                note=body.note,
                share_note=body.share_note,
                approval_limit=limit,
            ),
        )
    )
    state.nudges.nudge(who.tenant_id, item.customer_id)
    await audit_change(
        state,
        who,
        f"approval.{body.decision}",
        target=approval_id,
        details={"amount": amount, "action": item.approval.action, "shared": body.share_note},
        workflow_id=item.workflow_id,
    )
    return decided
