"""The people behind the agents, inside CustomerWorkflow (runs from PATCH_PEOPLE on).

- **Hand-overs are real**: a turn that hands the conversation to a person writes its line in
  the inbox (activities/people.py) and tells the customer the truth about when a person will
  answer (the tenant's support hours).
- **Takeover**: an operator claims the conversation, replies, and releases it. While an
  operator holds it the agent does not answer on its own (the customer's messages are kept).
- **Approvals** are decided by an update with a validator; nobody deciding within the
  tenant's approval timeout sends it to supervisors, twice that long denies it politely and
  hands the conversation over.
- **An interrupted store write** is retried durably with the same plan (the same idempotency
  keys), then handed over as ``stuck``.
- **SLA timers** for a handed-over conversation's first answer and resolution.

Timers are computed from the conversation's state (``_next_due``): one durable timer runs to
the earliest, as for a case the customer stopped answering (waiting.py). Messages the agent or
an operator sends outside a reply are transcript entries with a running number (``seq``); the
channels read them from there.

This module is the shared part (the inbox, saying things outside a reply, the timers); its
parts are takeover.py, approvals.py and retries.py. CustomerWorkflow supplies the updates'
decorators and the turn.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.people import (
        NoticeActivities,
        NoticeKind,
        PeopleActivities,
        SupervisorNotice,
    )
    from supportflow.activities.tenant import LoadPolicyInput, TenantActivities
    from supportflow.inbox.model import InboxApproval, InboxItem, InboxReason
    from supportflow.policy.hours import Availability
    from supportflow.procedures.base import deadline
    from supportflow.procedures.case import ApprovalRequest
    from supportflow.procedures.intents import procedure_for
    from supportflow.understanding.contract import Understanding
    from supportflow.workflows.calls import GAVE_UP
    from supportflow.workflows.contract import (
        Channel,
        Handover,
        TranscriptEntry,
    )
    from supportflow.workflows.delivery import Delivery
    from supportflow.workflows.dues import Due
    from supportflow.workflows.plan import Plan

# Replies that hand the conversation to a person, and the inbox reason each gives.
HANDING_OVER: dict[str, InboxReason] = {
    "handoff": "handoff",
    "technical_handoff": "handoff",
    "not_yet": "handoff",
    "action_failed": "handoff",
    "action_unsupported": "handoff",
    "payment_change_split": "handoff",
    "approval_expired": "handoff",
    "action_incomplete": "stuck",
    "action_stuck": "stuck",
    # A kept order whose retention code the store could not make: a person sends it.
    "retention_code_failed": "handoff",
}


class People(Delivery):
    # --- the inbox ----------------------------------------------------------------------

    def _inbox_item(self) -> InboxItem:
        s = self._s
        h = s.handover
        reason: InboxReason | None = h.reason if h is not None else None
        pending = self._pending_approval()
        approval = None
        if pending is not None:
            approval = InboxApproval(
                approval_id=pending.approval_id,
                action=str(pending.action),
                amount=pending.amount,
                order_id=pending.order_id,
                rule_id=pending.rule_id,
                requested_at=pending.requested_at,
                escalated=pending.escalated_at is not None,
            )
        return InboxItem(
            tenant_id=self._inp.tenant_id,
            customer_id=self._inp.customer_id,
            workflow_id=workflow.info().workflow_id,
            version=s.inbox_version,
            reason=reason,
            since=h.since if h is not None else None,
            detail=h.detail if h is not None else None,
            held_by=s.held_by,
            channel=self._last_channel(),
            approval=approval,
            sla_breaches=list(h.breaches) if h is not None else [],
        )

    async def _sync_inbox(self) -> Availability | None:
        """Write the conversation's inbox line as it is now; None if that failed for good (the
        line is written again at the next change, with a higher version)."""
        self._s.inbox_version += 1
        try:
            return await self._calls.ai(PeopleActivities.update_inbox, self._inbox_item())
        except GAVE_UP as err:
            workflow.logger.warning("inbox not updated: %s", type(err).__name__)
            return None

    async def _hand_over(self, reason: InboxReason, detail: str | None) -> dict[str, object]:
        """The conversation now waits for a person; the facts of what the customer is told
        about when one will answer."""
        s = self._s
        if s.handover is None or s.handover.reason != reason:
            since = s.handover.since if s.handover is not None else workflow.now()
            s.handover = Handover(reason=reason, since=since, detail=detail)
        try:
            # The tenant's SLA and approval timings as they are now (a hand-over may come
            # before any case read the policy).
            s.policy = await self._calls.ai(
                TenantActivities.load_policy, LoadPolicyInput(tenant_id=self._inp.tenant_id)
            )
        except GAVE_UP as err:
            workflow.logger.warning("policy not read at hand-over: %s", type(err).__name__)
        available = await self._sync_inbox()
        return _availability_facts(available)

    async def _after_turn(self, plan: Plan) -> Plan:
        """A turn that hands over puts the conversation in the inbox and says when a person
        will answer; an approval asked for shows there with its facts."""
        if plan.template == "approval_requested":
            await self._hand_over("approval", self._pending_rule())
            return plan
        reason = HANDING_OVER.get(plan.template)
        if reason is None and plan.facts.get("escalated") is True:
            reason = "handoff"
        if reason is None:
            return plan
        self._s.queued = []
        facts = await self._hand_over(reason, plan.reason or plan.template)
        return _with_then(plan, ("person_availability", facts))

    def _asks_for_person_while_busy(self, u: Understanding) -> bool:
        case = self._s.case
        if case is None or case.step not in ("executing", "approval"):
            return False
        return u.needs_human or procedure_for(u, self._text) == "handoff"

    def _operators_supported(self) -> None:
        if not self._version.people:
            # Rejected updates leave no trace; the run moves to the newest version when it is
            # next quiet (`supportflow conversations upgrade`).
            raise ValueError("this conversation runs an older version without operators")

    async def _notify_supervisors(self, kind: NoticeKind) -> None:
        """Mail the tenant's supervisors (a failure is logged: the inbox shows it anyway)."""
        sent = await self._calls.integration(
            NoticeActivities.notify_supervisors,
            SupervisorNotice(
                tenant_id=self._inp.tenant_id,
                customer_id=self._inp.customer_id,
                workflow_id=workflow.info().workflow_id,
                kind=kind,
            ),
        )
        if sent is None:
            workflow.logger.warning("supervisors not notified: %s", kind)

    # --- saying something outside a reply -------------------------------------------------

    def _next_seq(self) -> int:
        self._s.seq += 1
        return self._s.seq

    def _last_channel(self) -> Channel:
        return next(
            (e.channel for e in reversed(self._s.transcript) if e.role == "customer"),
            Channel.CHAT,
        )

    def _last_sender(self) -> str | None:
        return self._latest_sender()

    async def _sync_inbox_after_delivery(self) -> None:
        await self._sync_inbox()

    async def _tell(
        self,
        template: str,
        facts: dict[str, object],
        *,
        message_id: str,
        intent: str | None = None,
        then: tuple[str, dict[str, object]] | None = None,
    ) -> None:
        """Say something to the customer that is not the reply to a message of theirs (an
        approval's outcome, a finished retry): composed, and kept in the transcript, where the
        customer's channel reads it (sent, when they last wrote by email or SMS)."""
        to = self._last_sender()
        self._use_route_of(to)
        try:
            text = (await self._compose(template, facts)).text
            if then is not None:
                text += " " + (await self._compose(*then)).text
        except GAVE_UP as err:
            workflow.logger.warning("could not compose %s: %s", template, type(err).__name__)
            return
        entry = TranscriptEntry(
            role="agent",
            channel=self._last_channel(),
            message_id=message_id,
            text=text,
            at=workflow.now(),
            intent=intent,
            seq=self._next_seq(),
            to=to,
        )
        self._s.transcript.append(entry)
        await self._deliver_out(entry, self._route_to(to))

    # --- the approval waiting in the conversation ------------------------------------------

    def _pending_approval(self) -> ApprovalRequest | None:
        case = self._s.case
        if case is None or case.step != "approval":
            return None
        return next(
            (
                a
                for a in reversed(self._s.approvals)
                if a.case_id == case.case_id and a.status == "pending"
            ),
            None,
        )

    def _pending_rule(self) -> str | None:
        pending = self._pending_approval()
        return pending.rule_id if pending is not None else None

    # --- timers -------------------------------------------------------------------------

    def _people_dues(self) -> list[tuple[datetime, Due]]:
        s = self._s
        policy = self._policy
        dues: list[tuple[datetime, Due]] = []
        case_due = deadline(s.case, policy)
        if case_due is not None and s.held_by is None:
            dues.append((case_due, "case"))
        pending = self._pending_approval()
        if pending is not None:
            if pending.escalated_at is None:
                dues.append((pending.requested_at + policy.approval_timeout, "approval_escalate"))
            else:
                expire = pending.requested_at + 2 * policy.approval_timeout
                dues.append((expire, "approval_expire"))
        if s.retry is not None and not self._retrying:
            dues.append((s.retry.next_at, "retry"))
        h = s.handover
        if h is not None and h.reason != "approval":
            if h.first_response_at is None and "first_response" not in h.breaches:
                dues.append((h.since + policy.sla_first_response, "sla_first"))
            if "resolution" not in h.breaches:
                dues.append((h.since + policy.sla_resolution, "sla_done"))
        return dues

    async def _fire_people_dues(self) -> None:
        now = workflow.now()
        for when, kind in sorted(self._people_dues()):
            if when > now:
                break
            if kind == "case":
                await self._close_unanswered_case()
            elif kind == "retry":
                await self._retry_action()
            else:
                async with self._turn_lock:
                    await self._on_due(kind)

    async def _on_due(self, kind: Due) -> None:
        s = self._s
        pending = self._pending_approval()
        if kind == "approval_escalate" and pending is not None:
            escalated = pending.model_copy(update={"escalated_at": workflow.now()})
            s.approvals = [escalated if a is pending else a for a in s.approvals]
            await self._sync_inbox()
            await self._notify_supervisors("approval_escalated")
        elif kind == "approval_expire" and pending is not None:
            await self._expire_approval(pending)
        elif kind in ("sla_first", "sla_done") and s.handover is not None:
            breach: Literal["first_response", "resolution"] = (
                "first_response" if kind == "sla_first" else "resolution"
            )
            s.handover = s.handover.model_copy(update={"breaches": [*s.handover.breaches, breach]})
            workflow.logger.warning("SLA breached: %s", breach)
            await self._sync_inbox()
            await self._notify_supervisors(
                "sla_first_response" if breach == "first_response" else "sla_resolution"
            )

    # --- supplied by the parts (approvals.py, retries.py) --------------------------------

    async def _expire_approval(self, pending: ApprovalRequest) -> None:
        raise NotImplementedError

    async def _retry_action(self) -> None:
        raise NotImplementedError


def refused(err: ValueError, kind: str) -> ApplicationError:
    """A request the handler refuses after the validator let it in (another update won the
    race): the caller gets ``kind`` and the reason; nothing changed."""
    return ApplicationError(str(err), type=kind, non_retryable=True)


def _availability_facts(a: Availability | None) -> dict[str, object]:
    if a is None or a.status == "unknown" or (a.status == "closed" and a.opens_at is None):
        return {"status": "unknown"}
    if a.status == "open":
        return {"status": "open"}
    assert a.opens_at is not None
    zone = f" ({a.timezone} time)" if a.timezone else ""
    return {"status": "closed", "opens": a.opens_at.strftime("%A %H:%M") + zone}


def _with_then(plan: Plan, part: tuple[str, dict[str, object]]) -> Plan:
    return replace(plan, then=(*plan.then, part))
