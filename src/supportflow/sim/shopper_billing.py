"""The sales agent's workflows of a shopper run: waited for, then their billable actions.

Each checkout the run created is one SalesAgentWorkflow (``sales_workflow_id``), one sales
touch. A run ends only when every one of them has closed, so the conversions the experiment
counts are final; then each one's history (one run: the workflow never continues as new) is
counted by ``temporal.billable.count_actions``, Temporal Cloud's published rules.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from supportflow.temporal.billable import count_actions

POLL_S = 2.0


async def _running(client: Client, workflow_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False  # never started (sales off, a guest): nothing to wait for
        raise
    return desc.status == WorkflowExecutionStatus.RUNNING


async def wait_closed(
    client: Client, workflow_ids: Sequence[str], timeout_s: float, parallel: int = 16
) -> list[str]:
    """Wait until none of ``workflow_ids`` is running; the ones still running at the
    timeout."""
    gate = asyncio.Semaphore(parallel)
    deadline = time.monotonic() + timeout_s
    left = list(workflow_ids)

    async def check(wf_id: str) -> bool:
        async with gate:
            return await _running(client, wf_id)

    while left:
        running = await asyncio.gather(*(check(w) for w in left))
        left = [w for w, r in zip(left, running, strict=True) if r]
        if not left or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    return left


async def actions_of(
    client: Client, workflow_ids: Sequence[str], parallel: int = 8
) -> dict[str, Counter[str]]:
    """Billable actions of each workflow that exists, by kind."""
    gate = asyncio.Semaphore(parallel)
    out: dict[str, Counter[str]] = {}

    async def one(wf_id: str) -> None:
        async with gate:
            try:
                history = await client.get_workflow_handle(wf_id).fetch_history()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return
                raise
            out[wf_id] = count_actions(history.to_json_dict())

    await asyncio.gather(*(one(w) for w in workflow_ids))
    return out
