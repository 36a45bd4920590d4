"""The audit entry of a custom action call (issue 16), appended by the workflow once the call
ended, whichever way: done, refused by the merchant's system, not served, not allowed, timed
out. Keyed by the call's idempotency key, so a retried append adds none.

The merchant's own worker runs the action (the TypeScript SDK's ``createCustomActionWorker``);
this is supportflow's record that an agent called it, as a store write's entry is.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append

# done: the action answered and the agent said it; failed: it answered "no" (its error code is
# kept); unavailable: the call was not made, or its answer could not be used (``reason`` says
# why); timed_out: no worker answered within the policy's deadline (handed to a person).
CallOutcome = Literal["done", "failed", "unavailable", "timed_out"]


class CustomActionRecord(BaseModel):
    tenant_id: str
    action: str
    idempotency_key: str = Field(min_length=1, max_length=200)
    outcome: CallOutcome
    # A machine word: not_in_policy, agent_not_allowed, foreign_queue, not_served, contract,
    # tenant_refused, missing_field, worker_failed.
    reason: str | None = None
    task_queue: str | None = None
    # The merchant's own error code, for ``failed``.
    error_code: str | None = None
    # The store's customer id the call was made for (verified customers only).
    customer_id: str | None = None


class CustomActionActivities:
    def __init__(self, sessions: sessionmaker[Session] | None) -> None:
        self._sessions = sessions

    @activity.defn(name="record_custom_action")
    async def record_custom_action(self, inp: CustomActionRecord) -> None:
        if self._sessions is None:  # tools and tests without an app database
            return
        info = activity.info()
        details: dict[str, str | None] = {
            "outcome": inp.outcome,
            "reason": inp.reason,
            "task_queue": inp.task_queue,
            "error_code": inp.error_code,
        }
        entry = NewEntry(
            tenant_id=inp.tenant_id,
            actor_kind=ActorKind.AGENT,
            actor_id=info.workflow_id or "unknown",
            action=f"custom_action.{inp.action}",
            target=inp.customer_id,
            details={k: v for k, v in details.items() if v is not None},
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            idempotency_key=inp.idempotency_key,
        )
        # Off the event loop: the database calls block.
        await asyncio.to_thread(append, self._sessions, entry)
