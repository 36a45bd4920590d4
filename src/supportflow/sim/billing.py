"""Temporal Cloud billable actions of each conversation, counted from its histories.

Every run of the customer's workflow is fetched (continue-as-new runs included) and only the
events inside the conversation's time window are counted: a customer's workflow outlives one
conversation (earlier runs of the simulator, the silent customer's timer firing later), and
the window keeps each conversation's count its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

from temporalio.client import Client

from supportflow.sim.model import ConversationResult
from supportflow.temporal.billable import count_actions

# The workflow's start and a late timer may land just outside the client's clock readings.
WINDOW_SLACK_S = 2.0


def _event_time(event: dict[str, Any]) -> float | None:
    raw = event.get("eventTime")
    if not isinstance(raw, str):
        return None
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


def in_window(history: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    events = history.get("events", [])
    kept = []
    for e in events:
        at = _event_time(e)
        if at is None or start - WINDOW_SLACK_S <= at <= end + WINDOW_SLACK_S:
            kept.append(e)
    return {"events": kept}


async def conversation_actions(
    client: Client, conv: ConversationResult, end: float
) -> Counter[str]:
    assert conv.workflow_id is not None
    total: Counter[str] = Counter()
    query = f"WorkflowId = '{conv.workflow_id}'"
    async for wf in client.list_workflows(query):
        history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
        total += count_actions(in_window(history.to_json_dict(), conv.started_at, end))
    return total


async def count_all(
    client: Client, conversations: list[ConversationResult], parallel: int = 8
) -> None:
    """Fill in ``billable_actions`` of every conversation whose workflow is known."""
    gate = asyncio.Semaphore(parallel)

    async def one(conv: ConversationResult) -> None:
        async with gate:
            actions = await conversation_actions(client, conv, conv.ended_at)
            conv.billable_actions = dict(sorted(actions.items()))

    await asyncio.gather(*(one(c) for c in conversations if c.workflow_id is not None))
