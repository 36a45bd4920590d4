"""A customer's poll for a reply gives up quickly when no worker can answer (issue 15, item 4
workaround): the query would otherwise wait for a restarting worker, and a query answered
before the history it arrived behind breaks replay (docs/upstream/update-accepted-replay.md).
Real dev server; the conversation is started with no worker polling its queue."""

from __future__ import annotations

import time
import uuid

from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import POLL_QUERY_TIMEOUT, reply_status
from supportflow.workflows.contract import CustomerWorkflowInput, customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow


async def test_a_poll_with_no_worker_up_fails_fast_instead_of_waiting(
    dev_env: WorkflowEnvironment,
) -> None:
    tenant, customer = "t_poll", "c_" + uuid.uuid4().hex[:16]
    # A queue nobody polls: the query can only wait for a worker.
    queue = "nobody-" + uuid.uuid4().hex[:8]
    handle = await dev_env.client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(tenant_id=tenant, customer_id=customer),
        id=customer_workflow_id(tenant, customer),
        task_queue=queue,
    )
    try:
        started = time.monotonic()
        try:
            await reply_status(dev_env.client, tenant, customer, "m-1")
        except RPCError:
            pass
        else:
            raise AssertionError("a query with no worker up was answered")
        waited = time.monotonic() - started
        assert waited < POLL_QUERY_TIMEOUT.total_seconds() + 2, waited
    finally:
        await handle.terminate()
