"""The sales agent's part of a support conversation (sales-agent-v1 runs), inside
CustomerWorkflow.

- **Product questions** are handed to a SalesAgentWorkflow, a child of the conversation with
  its own id and history (``sales:<tenant>:<customer>:product_question:<uuid>``). It answers
  from the store's catalogue (availability by option, price, alternatives in stock,
  comparisons between the variants named) and records the sales touch a later order by the
  customer is attributed to; its answer comes back into this conversation's reply.
- **Retention experiments**: when a cancel case would make its retention offer, the
  customer's arm in the tenant's running retention experiment is assigned and recorded
  (activities/retention_arms.py); the offer made is that arm's (or none), and the case's end
  (order kept or cancelled) is recorded for the arm when it closes (outcomes.py).

This is a mixin: CustomerWorkflow supplies the procedure turn (cases.py) that calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.contract import ProductAnswers
    from supportflow.activities.outcomes import RetentionClosed
    from supportflow.activities.retention_arms import (
        RetentionArmActivities,
        RetentionArmInput,
    )
    from supportflow.policy.model import TenantPolicy
    from supportflow.procedures.base import StepResult
    from supportflow.procedures.case import CaseState
    from supportflow.procedures.retention import kept, policy_for_arm
    from supportflow.workflows.calls import GAVE_UP
    from supportflow.workflows.conversation import ConversationBase
    from supportflow.workflows.sales import SalesAgentWorkflow
    from supportflow.workflows.sales_contract import (
        ProductQuestion,
        SalesAgentInput,
        sales_workflow_id,
    )

# The sales agent answers a product question within this, or the turn says the store is
# unavailable (its activity retries the store as the support agent's reads do).
PRODUCT_ANSWER_DEADLINE = timedelta(minutes=6)

# The step of a cancel case, run again with another policy or without an offer.
Restep = Callable[[TenantPolicy, bool], StepResult]


class SalesAgentSteps(ConversationBase):
    # --- product questions -----------------------------------------------------------------

    async def _ask_sales_agent(
        self, product_ids: list[str], item_ids: list[str]
    ) -> ProductAnswers | None:
        """The sales agent's answer about these products; None when it could not read the
        store (the turn then says so)."""
        user = self._user
        subject = str(workflow.uuid4())
        inp = SalesAgentInput(
            tenant_id=self._inp.tenant_id,
            store_user_id=user or "",
            kind="product_question",
            subject_id=subject,
            began_at=workflow.now(),
            integrations_queue=self._inp.task_queues.integrations,
            question=ProductQuestion(product_ids=product_ids, item_ids=item_ids),
        )
        try:
            outcome = await workflow.execute_child_workflow(
                SalesAgentWorkflow.run,
                inp,
                id=sales_workflow_id(
                    self._inp.tenant_id, user or "visitor", "product_question", subject
                ),
                task_queue=workflow.info().task_queue,
                execution_timeout=PRODUCT_ANSWER_DEADLINE,
            )
        except ChildWorkflowError as err:
            workflow.logger.warning("sales agent gave no answer: %s", type(err.cause).__name__)
            return None
        return outcome.answers

    # --- retention experiments --------------------------------------------------------------

    async def _retention_trial(self, r: StepResult, user: str, restep: Restep) -> StepResult:
        """The offer ``r`` would make, as the customer's arm of the tenant's retention
        experiment says: the same (no experiment running), another, or none."""
        case = r.state
        assert case is not None and case.order_id is not None
        try:
            arm = await self._calls.ai(
                RetentionArmActivities.assign_retention_arm,
                RetentionArmInput(
                    tenant_id=self._inp.tenant_id,
                    store_user_id=user,
                    workflow_id=workflow.info().workflow_id,
                    case_id=case.case_id,
                    order_id=case.order_id,
                    at=workflow.now(),
                ),
            )
        except GAVE_UP as err:
            # No arm recorded: the tenant's own offer, outside the experiment.
            workflow.logger.warning("retention arm not assigned: %s", type(err).__name__)
            return r
        if arm.arm is None:
            return r
        s = self._s
        s.retention_trials[case.case_id] = arm.arm
        # Counted once: the same order is never offered (or counted) twice in a conversation.
        s.offered_orders = [*s.offered_orders, case.order_id][-50:]
        policy = policy_for_arm(self._policy, arm.offer, arm.percent)
        return restep(policy, True) if policy is not None else restep(self._policy, False)

    def _settle_trial(self, case: CaseState) -> None:
        """A cancel case of the retention experiment that closed: what became of its order."""
        if case.is_open or case.case_id not in self._s.retention_trials:
            return
        del self._s.retention_trials[case.case_id]
        self._retention_closed.append(RetentionClosed(case_id=case.case_id, status=kept(case)))
