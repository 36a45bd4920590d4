"""A knowledge article answered by the merchant's own action (issue 16, custom-actions-v1).

The article names a custom action; its body is the reply, with ``{field}`` for each value of
the action's result. The turn reads the tenant's policy (is the action listed, for the support
agent, on the tenant's own queue?), calls activity ``custom_action.<name>`` on that queue with
the policy's timeouts (the merchant's worker serves it: the TypeScript SDK's
``createCustomActionWorker``), fills the body from the result, and appends the call's audit
entry, whatever its end:

- not in the policy, not for this agent, another tenant's queue, not served by the worker,
  an answer that breaks the contract, or lacks a value the article says: answered without
  it ("I can't look that up here"), the reason recorded;
- the action answers "no" (``ok: false``): said so, the merchant's error code recorded;
- no worker answered within the deadline, or it kept failing: the normal failure path (an
  apology and a person), the call recorded as timed out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.custom_actions import (
        CallOutcome,
        CustomActionActivities,
        CustomActionRecord,
    )
    from supportflow.activities.tenant import LoadPolicyInput, TenantActivities
    from supportflow.contract.custom_actions import (
        CustomActionInput,
        CustomActionResult,
        activity_name,
    )
    from supportflow.knowledge.action_text import MissingField, fill
    from supportflow.knowledge.contract import KnowledgeAnswer
    from supportflow.policy.custom_actions import CustomActionRoute, route
    from supportflow.procedures.case import idempotency_key
    from supportflow.workflows.calls import AI
    from supportflow.workflows.conversation import ConversationBase
    from supportflow.workflows.plan import Plan

# The merchant worker's refusals that no retry changes (the TypeScript SDK's FailureTypes),
# and the reason each is recorded under.
REFUSALS = {
    "CustomActionNotRegistered": "not_served",
    "CustomActionContractError": "contract",
    "CustomActionTenantRefused": "tenant_refused",
}


def _retry(deadline: timedelta) -> RetryPolicy:
    # A store write's back-off, its longest wait a third of the deadline (which bounds the
    # attempts), so a short deadline still gets a few attempts.
    longest = min(timedelta(seconds=30), max(timedelta(seconds=1), deadline / 3))
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=longest,
        non_retryable_error_types=list(REFUSALS),
    )


class CustomActionSteps(ConversationBase):
    async def _custom_action_turn(self, intent: str, answer: KnowledgeAnswer) -> Plan:
        """Say the article ``answer`` found, filled from its custom action's result."""
        assert answer.action is not None and answer.text is not None
        tenant, action = self._inp.tenant_id, answer.action
        title = answer.title or action
        policy = await self._calls.ai(
            TenantActivities.load_policy,
            LoadPolicyInput(tenant_id=tenant),
            task_queue=workflow.info().task_queue,
        )
        where = route(policy.custom_actions, tenant, action)
        if not isinstance(where, CustomActionRoute):
            return await self._without_action(intent, action, title, where, None)
        customer = self._user
        if where.needs_verified_customer and customer is None:
            # Verification asks who it is and keeps the request; answered once they are.
            return Plan("ask_identity", intent)
        key = self._call_key(action)
        call = CustomActionInput(
            tenant_id=tenant,
            action=action,
            idempotency_key=key,
            customer_id=customer if where.needs_verified_customer else None,
        )
        record = CustomActionRecord(
            tenant_id=tenant,
            action=action,
            idempotency_key=key,
            outcome="done",
            task_queue=where.task_queue,
            customer_id=call.customer_id,
        )
        try:
            raw = await workflow.execute_activity(
                activity_name(action),
                call,
                task_queue=where.task_queue,
                start_to_close_timeout=where.timeout,
                schedule_to_close_timeout=where.deadline,
                retry_policy=_retry(where.deadline),
                result_type=dict[str, Any],
            )
        except ActivityError as err:
            cause = err.cause
            refused = None
            if isinstance(cause, ApplicationError):
                refused = REFUSALS.get(cause.type or "")
            if refused is not None:
                return await self._without_action(intent, action, title, refused, record)
            # Down, or failing past the deadline: recorded, then the normal failure path.
            await self._record_call(record, "timed_out", "worker_failed")
            raise
        try:
            result = CustomActionResult.model_validate(raw)
        except ValidationError:
            return await self._without_action(intent, action, title, "contract", record)
        if not result.ok:
            code = result.error.code if result.error is not None else None
            await self._record_call(record.model_copy(update={"error_code": code}), "failed")
            return Plan("custom_action_no", intent, {"title": title})
        try:
            text = fill(answer.text, result.data)
        except MissingField:
            return await self._without_action(intent, action, title, "missing_field", record)
        await self._record_call(record, "done")
        return Plan("kb_answer", intent, {"text": text, "title": title})

    async def _without_action(
        self,
        intent: str,
        action: str,
        title: str,
        reason: str,
        record: CustomActionRecord | None,
    ) -> Plan:
        """Answer without the action, and record why."""
        workflow.logger.warning("custom action %s not used: %s", action, reason)
        if record is None:
            record = CustomActionRecord(
                tenant_id=self._inp.tenant_id,
                action=action,
                idempotency_key=self._call_key(action),
                outcome="done",
            )
        await self._record_call(record, "unavailable", reason)
        return Plan("custom_action_unavailable", intent, {"title": title}, reason=reason)

    def _call_key(self, action: str) -> str:
        """One call's key: the same on every attempt and on replay (the workflow's own random),
        distinct for each call, even of one action twice in a turn."""
        return idempotency_key(
            workflow.info().workflow_id, f"turn{self._s.turns}", f"{action}.{workflow.uuid4().hex}"
        )

    async def _record_call(
        self, record: CustomActionRecord, outcome: CallOutcome, reason: str | None = None
    ) -> None:
        await workflow.execute_local_activity_method(
            CustomActionActivities.record_custom_action,
            record.model_copy(update={"outcome": outcome, "reason": reason}),
            start_to_close_timeout=AI.start_to_close,
            retry_policy=AI.retry,
        )
