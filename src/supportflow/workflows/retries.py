"""A store write interrupted by an outage, finished later (people-v1 runs).

The saga stopped at or after its pivot because the store stopped answering: the same plan
(the same idempotency keys, so finished steps replay instead of applying twice) runs again on
a durable timer with backoff, until the tenant's ``action_retry_deadline``; then a person
takes it (inbox reason ``stuck``) and the case stays "executing", so nothing else starts on
the order meanwhile.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.procedures.base import PROCEDURES, finish
    from supportflow.procedures.case import ActionPlan, StepResult
    from supportflow.procedures.saga import run_saga
    from supportflow.workflows.contract import (
        ActionRetry,
    )
    from supportflow.workflows.people import HANDING_OVER, People
    from supportflow.workflows.saga_steps import ActionExecutor

# The first retry of an interrupted store write, and the longest wait between two.
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY_WAIT = timedelta(minutes=30)


class Retries(People):
    def _schedule_retry(self, plan: ActionPlan, user: str) -> None:
        now = workflow.now()
        self._s.retry = ActionRetry(
            plan=plan,
            store_user_id=user,
            started_at=now,
            next_at=now + FIRST_RETRY,
            give_up_at=now + self._policy.action_retry_deadline,
        )

    async def _retry_action(self) -> None:
        """Run the interrupted plan again. Not under the turn lock: the store may keep it
        busy for minutes, and the customer must still be answered meanwhile (turns leave an
        executing case as it is; "talk to a human" hands over at once)."""
        s = self._s
        retry, case = s.retry, s.case
        if retry is None or case is None or case.step != "executing":
            s.retry = None
            return
        executor = ActionExecutor(
            tenant_id=self._inp.tenant_id,
            store_user_id=retry.store_user_id,
            workflow_id=workflow.info().workflow_id,
            case_id=case.case_id,
            attempt=retry.plan.attempt,
            task_queue=self._inp.task_queues.integrations,
        )
        self._retrying = True
        try:
            outcome = await run_saga(retry.plan.steps, executor.execute)
        finally:
            self._retrying = False
        async with self._turn_lock:
            r = finish(case, retry.plan, outcome, now=workflow.now())
            if r.outcome != "retry_later":
                s.retry = None
                await self._finished_later(r)
                return
            now = workflow.now()
            if now < retry.give_up_at:
                wait = min(FIRST_RETRY * 2**retry.tries, MAX_RETRY_WAIT)
                s.retry = retry.model_copy(update={"tries": retry.tries + 1, "next_at": now + wait})
                return
            # Past our patience: a person finishes it (the case stays "executing", so nothing
            # else starts on this order meanwhile).
            s.retry = None
            facts = await self._hand_over("stuck", f"{retry.plan.action}: store unavailable")
            await self._tell(
                "action_stuck",
                {"action": PROCEDURES[case.procedure].phrase(case)},
                message_id=f"retry:{case.case_id}:stuck",
                intent=case.intent,
                then=("person_availability", facts),
            )

    async def _finished_later(self, r: StepResult) -> None:
        """A retried write came to an end: say how, as the turn would have."""
        s = self._s
        before = {c.case_id: c.status for c in s.cases}
        if r.state is not None:
            s.case = r.state
            self._track_case(r.state)
        if self._version.sales:
            await self._record_outcomes(before)  # sales-v1: for the management agent
        s.awaiting = r.awaiting
        then = None
        reason = HANDING_OVER.get(r.template or "")
        if reason is not None:
            then = ("person_availability", await self._hand_over(reason, r.template))
        case = r.state
        await self._tell(
            r.template or "action_incomplete",
            dict(r.facts),
            message_id=f"retry:{case.case_id if case else 'case'}:{r.outcome}",
            intent=case.intent if case else None,
            then=then,
        )
