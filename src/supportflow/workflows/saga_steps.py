"""The workflow side of the saga's store writes: each step of a plan becomes the call of its
activity, and the activity's fate becomes an ``ActionResult`` for ``run_saga``.

The activity is found through the declared store actions (``activities.actions.write_activity``)
and called by method reference, never by name; its timeouts and retries are ``calls.STORE_WRITE``
(permanent refusals stop at once, an unreachable store is retried until our patience runs out).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.actions import write_activity
    from supportflow.activities.contract import ActionInput
    from supportflow.procedures.case import ActionStep, idempotency_key
    from supportflow.procedures.saga import UNDO_SUFFIX, ActionResult
    from supportflow.store.actions import StoreAction
    from supportflow.workflows.calls import STORE_WRITE


def action_input(
    step: ActionStep,
    *,
    tenant_id: str,
    store_user_id: str,
    workflow_id: str,
    case_id: str,
    attempt: int,
) -> ActionInput:
    """The activity input of a saga step; the key is stable across retries and replays."""
    extra: dict[str, str] = {}
    if step.action == StoreAction.RELEASE_ORDER and step.name.endswith(UNDO_SUFFIX):
        # A hold's compensation names the hold's key, so a hold still in flight is refused.
        undone = step.name.removesuffix(UNDO_SUFFIX)
        extra["hold_idempotency_key"] = idempotency_key(
            workflow_id, case_id, f"a{attempt}.{undone}"
        )
    return write_activity(step.action).input_model.model_validate(
        {
            **step.args,
            **extra,
            "tenant_id": tenant_id,
            "store_user_id": store_user_id,
            "idempotency_key": idempotency_key(workflow_id, case_id, f"a{attempt}.{step.name}"),
        }
    )


def result_for_error(err: ActivityError) -> ActionResult:
    """What retries did not fix: a permanent refusal is "rejected", the rest "unavailable"."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return ActionResult(status="rejected", detail=f"{cause.type}: {cause.message}")
    return ActionResult(status="unavailable", detail=str(cause or err))


@dataclass(frozen=True)
class ActionExecutor:
    """``run_saga``'s executor inside a workflow: one activity per step on ``task_queue``,
    retried with backoff until ``STORE_WRITE``'s patience runs out (then "unavailable");
    permanent errors are "rejected"."""

    tenant_id: str
    store_user_id: str
    workflow_id: str
    case_id: str
    attempt: int
    task_queue: str

    async def execute(self, step: ActionStep) -> ActionResult:
        inp = action_input(
            step,
            tenant_id=self.tenant_id,
            store_user_id=self.store_user_id,
            workflow_id=self.workflow_id,
            case_id=self.case_id,
            attempt=self.attempt,
        )
        try:
            done = await workflow.execute_activity_method(
                write_activity(step.action).method,
                inp,
                task_queue=self.task_queue,
                start_to_close_timeout=STORE_WRITE.start_to_close,
                schedule_to_close_timeout=STORE_WRITE.schedule_to_close,
                retry_policy=STORE_WRITE.retry,
            )
        except ActivityError as err:
            return result_for_error(err)
        return ActionResult(status="ok", data=done.model_dump())
