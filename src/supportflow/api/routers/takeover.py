"""An operator's side of one conversation: read it whole, see the customer in the store,
claim it, reply on the customer's channel, and hand it back to the agent."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError, RPCStatusCode

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanReadInbox, CanReply, CanTakeOver, StateDep
from supportflow.api.people import (
    CUSTOMER_ID,
    conversation,
    is_supervisor,
    operator_name,
    run_update,
    temporal_url,
)
from supportflow.api.schemas import Problem
from supportflow.audit.query import AuditFilter
from supportflow.audit.query import page as audit_page
from supportflow.operators.principal import Principal
from supportflow.procedures.case import ApprovalRequest
from supportflow.store.errors import StoreError
from supportflow.workflows.contract import (
    Case,
    Claim,
    Handover,
    HoldView,
    OperatorMessage,
    Release,
    TranscriptEntry,
    TranscriptView,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow

log = logging.getLogger(__name__)
router = APIRouter(tags=["conversations"])

CustomerId = Annotated[str, Path(pattern=CUSTOMER_ID)]
# The orders shown with a customer's profile (the newest, as the store lists them).
PROFILE_ORDERS = 20


class ActionOut(BaseModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    action: str
    target: str | None
    details: dict[str, Any]


class OpenCase(BaseModel):
    case_id: str
    procedure: str
    step: str
    awaiting: str | None
    order_id: str | None
    waiting_since: datetime | None


class ConversationOut(BaseModel):
    customer_id: str
    workflow_id: str
    temporal_url: str
    held_by: str | None
    handover: Handover | None
    store_user_id: str | None
    entries: list[TranscriptEntry]
    cases: list[Case]
    # The request being worked on now, with its step ("collecting", "confirming",
    # "approval", "executing") and what it waits for; None when none is open.
    open_case: OpenCase | None
    approvals: list[ApprovalOut]
    # Every action taken in this conversation, newest first (its audit entries: store
    # writes, approvals, claims, replies, releases), with who took it.
    actions: list[ActionOut]


class ApprovalOut(BaseModel):
    approval_id: str
    case_id: str
    action: str
    order_id: str | None
    amount: float | None
    status: str
    requested_at: datetime
    decided_by: str | None
    note: str | None

    @classmethod
    def of(cls, a: ApprovalRequest) -> ApprovalOut:
        return cls.model_validate(a, from_attributes=True)


ConversationOut.model_rebuild()
# The newest actions shown with a conversation.
CONVERSATION_ACTIONS = 200


class ProfileOut(BaseModel):
    user: dict[str, Any] | None
    orders: list[dict[str, Any]]


class ClaimIn(BaseModel):
    # Take the conversation from the operator who holds it (supervisors and admins).
    take_over: bool = False


class ReleaseIn(BaseModel):
    # Release a conversation another operator holds (supervisors and admins).
    force: bool = False


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=8000)
    # The caller's id for this reply: sending the same one again sends nothing twice.
    reply_id: str | None = Field(default=None, min_length=1, max_length=100)


async def _view(state: StateDep, tenant_id: str, customer_id: str) -> TranscriptView:
    try:
        return await conversation(state, tenant_id, customer_id).query(CustomerWorkflow.transcript)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no conversation") from err
        raise


@router.get(
    "/v1/conversations/{customer_id}",
    response_model=ConversationOut,
    responses={404: {"model": Problem}},
)
async def read(customer_id: CustomerId, who: CanReadInbox, state: StateDep) -> ConversationOut:
    """The whole conversation as the operator sees it: every message on every channel, the
    cases and approvals, and who holds it."""
    view = await _view(state, who.tenant_id, customer_id)
    wf_id = customer_workflow_id(who.tenant_id, customer_id)
    taken = await run_in_threadpool(
        audit_page,
        state.sessions,
        who.tenant_id,
        AuditFilter(workflow_id=wf_id),
        limit=CONVERSATION_ACTIONS,
    )
    return ConversationOut(
        customer_id=customer_id,
        workflow_id=wf_id,
        temporal_url=temporal_url(state.settings, wf_id),
        held_by=view.held_by,
        handover=view.handover,
        store_user_id=view.store_user_id,
        entries=view.entries,
        cases=view.cases,
        open_case=(
            OpenCase(
                case_id=view.case.case_id,
                procedure=view.case.procedure,
                step=view.case.step,
                awaiting=view.case.awaiting,
                order_id=view.case.order_id,
                waiting_since=view.case.waiting_since,
            )
            if view.case is not None and view.case.is_open
            else None
        ),
        approvals=[ApprovalOut.of(a) for a in view.approvals],
        actions=[ActionOut.model_validate(e.as_json()) for e in taken.entries],
    )


@router.get(
    "/v1/conversations/{customer_id}/profile",
    response_model=ProfileOut,
    responses={404: {"model": Problem}, 503: {"model": Problem}},
)
async def profile(customer_id: CustomerId, who: CanReadInbox, state: StateDep) -> ProfileOut:
    """The customer's account and orders, read from the tenant's store now (only once the
    customer proved who they are in the conversation)."""
    view = await _view(state, who.tenant_id, customer_id)
    if view.store_user_id is None or view.verification is None or state.stores is None:
        return ProfileOut(user=None, orders=[])
    try:
        port = await state.stores.port_for(who.tenant_id)
        user = await port.get_user(view.store_user_id)
        ids = [str(o) for o in (user or {}).get("orders", [])][-PROFILE_ORDERS:]
        orders = await asyncio.gather(*(port.get_order(i) for i in reversed(ids)))
    except StoreError as err:
        log.warning("profile read failed: %s", type(err).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the store is not answering; try again"
        ) from err
    return ProfileOut(user=user, orders=[o for o in orders if o is not None])


@router.post(
    "/v1/conversations/{customer_id}/claim",
    response_model=HoldView,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
async def claim(
    customer_id: CustomerId, body: ClaimIn, who: CanTakeOver, state: StateDep
) -> HoldView:
    """Take the conversation: the agent stops answering on its own until it is released."""
    if body.take_over and not is_supervisor(who):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only supervisors take a conversation from a colleague"
        )
    hold = Claim(operator_id=operator_name(who), take_over=body.take_over)
    return await _change_hold(state, who, customer_id, hold)


@router.post(
    "/v1/conversations/{customer_id}/release",
    response_model=HoldView,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
async def release(
    customer_id: CustomerId, body: ReleaseIn, who: CanTakeOver, state: StateDep
) -> HoldView:
    """Hand the conversation back to the agent."""
    if body.force and not is_supervisor(who):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only supervisors release a colleague's conversation"
        )
    hold = Release(operator_id=operator_name(who), force=body.force)
    return await _change_hold(state, who, customer_id, hold)


async def _change_hold(
    state: StateDep, who: Principal, customer_id: str, hold: Claim | Release
) -> HoldView:
    """Claim or release through the conversation's update, then audit it."""
    handle = conversation(state, who.tenant_id, customer_id)
    if isinstance(hold, Claim):
        held = await run_update(handle.execute_update(CustomerWorkflow.claim, hold))
    else:
        held = await run_update(handle.execute_update(CustomerWorkflow.release, hold))
    action = "conversation.claim" if isinstance(hold, Claim) else "conversation.release"
    await audit_change(state, who, action, target=customer_id, workflow_id=handle.id)
    return held


@router.post(
    "/v1/conversations/{customer_id}/replies",
    response_model=TranscriptEntry,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
async def reply(
    customer_id: CustomerId, body: ReplyIn, who: CanReply, state: StateDep
) -> TranscriptEntry:
    """Say something to the customer, on the channel they last used. Only the operator who
    holds the conversation may (claim it first)."""
    if not body.text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "reply text is empty")
    handle = conversation(state, who.tenant_id, customer_id)
    reply_id = body.reply_id or uuid.uuid4().hex
    entry = await run_update(
        handle.execute_update(
            CustomerWorkflow.operator_reply,
            OperatorMessage(operator_id=operator_name(who), reply_id=reply_id, text=body.text),
        )
    )
    state.nudges.nudge(who.tenant_id, customer_id)
    # The entry's number, never its text: the audit trail holds no message content.
    await audit_change(
        state,
        who,
        "conversation.reply",
        target=customer_id,
        details={"seq": entry.seq},
        workflow_id=handle.id,
        idempotency_key=f"reply:{customer_id}:{reply_id}",
    )
    return entry
