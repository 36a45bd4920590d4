"""Approvals decided by operators (people-v1 runs).

The case waits at its "approval" step; the `decide_approval` update (with a validator)
approves it (the saga runs with the facts read afresh) or denies it (the customer hears it,
with the operator's note if they chose to share it). Nobody deciding within the tenant's
approval timeout sends it to supervisors (people.py's timers); twice that long expires it:
nothing is done, and the conversation goes to a person.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.actions import ActionActivities
    from supportflow.activities.contract import LoadCaseFactsInput
    from supportflow.activities.tenant import LoadPolicyInput, TenantActivities
    from supportflow.procedures.base import PROCEDURES, approve
    from supportflow.procedures.case import ApprovalRequest
    from supportflow.workflows.contract import (
        ApprovalDecision,
    )
    from supportflow.workflows.people import HANDING_OVER, People, refused


class Approvals(People):
    # --- the update (CustomerWorkflow inherits it) -----------------------------------------

    @workflow.update
    async def decide_approval(self, d: ApprovalDecision) -> ApprovalRequest:
        """An operator approves (the action runs) or denies (the customer is told)."""
        return await self._decide(d)

    @decide_approval.validator
    def _validate_decision(self, d: ApprovalDecision) -> None:
        self._operators_supported()
        self._check_decision(d)

    def _check_decision(self, d: ApprovalDecision) -> ApprovalRequest:
        pending = self._pending_approval()
        if pending is None or pending.approval_id != d.approval_id:
            raise ValueError("no such approval is waiting (already decided, expired or unknown)")
        over = pending.amount is not None and d.approval_limit is not None
        if d.decision == "approve" and over and (pending.amount or 0) > (d.approval_limit or 0):
            raise ValueError("the amount is over this operator's approval limit")
        return pending

    async def _decide(self, d: ApprovalDecision) -> ApprovalRequest:
        async with self._turn_lock:
            try:
                pending = self._check_decision(d)
            except ValueError as err:
                raise refused(err, "NotPending") from None
            s = self._s
            case = s.case
            assert case is not None  # a pending approval has its case waiting
            approved = d.decision == "approve"
            facts = await self._calls.store_read(
                ActionActivities.load_case_facts,
                LoadCaseFactsInput(
                    tenant_id=self._inp.tenant_id,
                    store_user_id=s.store_user_id or "",
                    order_id=case.order_id,
                ),
            )
            if facts is None:
                # Nothing decided: the operator may try again when the store answers.
                raise ApplicationError(
                    "the store is not answering; nothing was decided", type="StoreUnavailable"
                )
            s.policy = await self._calls.ai(
                TenantActivities.load_policy, LoadPolicyInput(tenant_id=self._inp.tenant_id)
            )
            decided = pending.model_copy(
                update={
                    "status": "approved" if approved else "denied",
                    "decided_by": d.operator_id,
                    "decided_at": workflow.now(),
                    "note": d.note or None,
                }
            )
            s.approvals = [decided if a is pending else a for a in s.approvals]
            before = {c.case_id: c.status for c in s.cases}
            r = approve(case, facts, approved=approved, policy=self._policy, now=workflow.now())
            r = await self._carry_out(r, s.store_user_id)
            if r.state is not None:
                s.case = r.state
                self._track_case(r.state)
            if self._version.sales:
                # sales-v1: the case an operator decided, for the management agent's figures.
                await self._record_outcomes(before, by_person=True)
            s.awaiting = r.awaiting
            said = dict(r.facts)
            if not approved and d.share_note and d.note.strip():
                said["note"] = d.note.strip()
            if s.handover is not None and s.handover.reason == "approval":
                s.handover = None
            then = None
            reason = HANDING_OVER.get(r.template or "")
            if reason is not None:
                then = ("person_availability", await self._hand_over(reason, r.template))
            else:
                await self._sync_inbox()
            await self._tell(
                r.template or "approval_denied",
                said,
                message_id=f"approval:{pending.approval_id}",
                intent=case.intent,
                then=then,
            )
            return decided

    async def _expire_approval(self, pending: ApprovalRequest) -> None:
        s = self._s
        expired = pending.model_copy(
            update={"status": "expired", "decided_by": "timeout", "decided_at": workflow.now()}
        )
        s.approvals = [expired if a is pending else a for a in s.approvals]
        case = s.case
        assert case is not None
        before = {c.case_id: c.status for c in s.cases}
        s.case = case.model_copy(
            update={"step": "escalated", "awaiting": None, "waiting_since": None}
        )
        self._track_case(s.case)
        if self._version.sales:
            await self._record_outcomes(before)
        s.awaiting = None
        s.handover = None
        facts = await self._hand_over("handoff", "approval_expired")
        await self._tell(
            "approval_expired",
            {"action": PROCEDURES[case.procedure].phrase(case)},
            message_id=f"approval-expired:{pending.approval_id}",
            intent=case.intent,
            then=("person_availability", facts),
        )
