"""Deliver an inbound message to the customer's workflow and wait (a while) for the reply.

Normal path: update-with-start, one round trip, reply returned to the caller. If workers do
not accept the update within the wait (all down, say), the message is signalled-with-start
instead, which Temporal persists at once: the customer's message is never lost, the caller
gets "pending", and the workflow's de-duplication by message id makes sure that an update
accepted later and the signal together still produce exactly one turn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy

from supportflow.settings import Settings
from supportflow.workflows.contract import (
    ENQUEUE_MESSAGE_SIGNAL,
    CustomerWorkflowInput,
    InboundMessage,
    Reply,
    ReplyLookup,
    ReplyStatus,
    TaskQueues,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow

# The SDK turns the cancellation that wait_for uses into its own error type.
_WAIT_EXPIRED = (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError)


@dataclass(frozen=True)
class Delivery:
    status: Literal["answered", "pending"]
    workflow_id: str
    reply: Reply | None = None


def _workflow_input(settings: Settings, tenant_id: str, customer_id: str) -> CustomerWorkflowInput:
    return CustomerWorkflowInput(
        tenant_id=tenant_id,
        customer_id=customer_id,
        task_queues=TaskQueues(
            ai=settings.task_queue_ai, integrations=settings.task_queue_integrations
        ),
        continue_as_new_events=settings.continue_as_new_events,
        unverified_idle=timedelta(seconds=settings.unverified_idle_seconds),
    )


async def deliver(
    client: Client,
    settings: Settings,
    tenant_id: str,
    customer_id: str,
    msg: InboundMessage,
    *,
    wait_seconds: float,
) -> Delivery:
    wf_id = customer_workflow_id(tenant_id, customer_id)
    wf_input = _workflow_input(settings, tenant_id, customer_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    start_op = WithStartWorkflowOperation(
        CustomerWorkflow.run,
        wf_input,
        id=wf_id,
        task_queue=settings.task_queue_agents,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        handle = await asyncio.wait_for(
            client.start_update_with_start_workflow(
                CustomerWorkflow.receive_message,
                msg,
                start_workflow_operation=start_op,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                # No update id from the message id: the workflow de-duplicates by message id
                # itself (across continue-as-new too) and tells the caller it was a duplicate.
            ),
            timeout=wait_seconds,
        )
    except _WAIT_EXPIRED:
        await _enqueue(client, settings, wf_id, wf_input, msg)
        return Delivery(status="pending", workflow_id=wf_id)
    try:
        reply = await asyncio.wait_for(handle.result(), timeout=max(0.0, deadline - loop.time()))
    except _WAIT_EXPIRED:
        # An update the server reported accepted can still be lost when the workflow task
        # that accepted it fails (a bad deploy fails every task): queue the message as a
        # signal too. The workflow answers a message id once, so the two make one turn.
        await _enqueue(client, settings, wf_id, wf_input, msg)
        return Delivery(status="pending", workflow_id=wf_id)
    return Delivery(status="answered", workflow_id=wf_id, reply=reply)


async def enqueue(
    client: Client, settings: Settings, tenant_id: str, customer_id: str, msg: InboundMessage
) -> str:
    """Hand a message to the customer's workflow without waiting for the answer (email and
    SMS: the workflow sends it). Durable once this returns; returns the workflow id."""
    wf_id = customer_workflow_id(tenant_id, customer_id)
    await _enqueue(client, settings, wf_id, _workflow_input(settings, tenant_id, customer_id), msg)
    return wf_id


async def _enqueue(
    client: Client,
    settings: Settings,
    wf_id: str,
    wf_input: CustomerWorkflowInput,
    msg: InboundMessage,
) -> None:
    """Signal-with-start: persisted by the server at once, whatever state the workers are in."""
    await client.start_workflow(
        CustomerWorkflow.run,
        wf_input,
        id=wf_id,
        task_queue=settings.task_queue_agents,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=ENQUEUE_MESSAGE_SIGNAL,
        start_signal_args=[msg],
    )


# How long a customer's poll waits for the conversation to answer a query. A query with no
# workflow task pending goes straight to a worker; one that waits for a worker that is
# restarting can be answered before the history it arrives behind, which breaks replay
# (docs/upstream/update-accepted-replay.md, an SDK bug). A poll that gives up after this gets
# "pending" and asks again, so a short wait narrows that window at no cost to the customer.
POLL_QUERY_TIMEOUT = timedelta(seconds=3)


async def reply_status(
    client: Client, tenant_id: str, customer_id: str, message_id: str, sender: str | None = None
) -> ReplyStatus:
    """The reply to one message; with ``sender`` (ChannelIdentity.key), only if that sender
    wrote it. An RPCError (deadline exceeded) when the conversation cannot answer within
    ``POLL_QUERY_TIMEOUT``."""
    handle = client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(tenant_id, customer_id)
    )
    return await handle.query(
        CustomerWorkflow.reply_for,
        ReplyLookup(message_id=message_id, sender=sender),
        rpc_timeout=POLL_QUERY_TIMEOUT,
    )
