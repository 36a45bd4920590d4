"""What every part of CustomerWorkflow shares: the conversation, the run's version, who is
asking, the activity calls, and the record of cases.

CustomerWorkflow is assembled from parts, one job each: ``verification.py`` (who is asking),
``cases.py`` (a turn of a procedure, knowledge answers), ``waiting.py`` (timers: a case the
customer stopped answering, idle conversations), ``legacy.py`` (how runs recorded before the
dispatcher answered) and ``customer.py`` (the workflow: handlers, one turn, the run loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.ai import AiActivities
    from supportflow.activities.contract import ComposedReply, ComposeInput
    from supportflow.activities.outcomes import Rating, RetentionAnswer, RetentionClosed
    from supportflow.policy.model import DEFAULT_POLICY, TenantPolicy
    from supportflow.procedures.case import ActionPlan, CaseState
    from supportflow.understanding.contract import Understanding
    from supportflow.workflows.calls import ActivityCalls
    from supportflow.workflows.contract import (
        Case,
        ConversationState,
        CustomerWorkflowInput,
        InboundMessage,
        ReplyRoute,
        TranscriptEntry,
    )
    from supportflow.workflows.dues import Due
    from supportflow.workflows.plan import Plan
    from supportflow.workflows.versions import RunVersion

# A case's step as the conversation's record of cases shows it.
_CASE_STATUS = {"done": "resolved", "refused": "resolved", "escalated": "escalated"}
# A request answered without a case of its own (router turns, hand-overs after a failure).
_RECORD_STATUS = {
    "order_status": "resolved",
    "handoff": "escalated",
    "not_yet": "escalated",
    "technical_handoff": "escalated",
}


class ConversationBase:
    def __init__(self, inp: CustomerWorkflowInput) -> None:
        self._inp = inp
        self._s = inp.state or ConversationState()
        self._in_flight: set[str] = set()
        # message id -> sender key of turns in flight, so a pending reply is shown to its sender.
        self._in_flight_from: dict[str, str] = {}
        # Whether this turn's sender is verified (trust runs); set at each turn's start.
        self._trusted = False
        # The text the turn acts on: the message's, or a request that waited for verification.
        self._text = ""
        # The understanding of the request the turn is serving (people-v1 runs): the
        # message's, or one of its parts, or a request taken from the queue.
        self._serving: Understanding | None = None
        # Turns run one at a time, in arrival order, so replies never interleave.
        self._turn_lock = asyncio.Lock()
        self._run_version: RunVersion | None = None
        # Set by the `request_upgrade` signal: end this run at the next quiet moment.
        self._upgrade_requested = False
        self._run_calls: ActivityCalls | None = None
        # An interrupted store write is being run again (people.py): its timer is not due.
        self._retrying = False
        # The channel the answer being composed goes out on (channels-v1 runs): its wording.
        self._out_channel: str | None = None
        # What this turn settled beyond its cases, recorded at its end (sales-v1 runs,
        # outcomes.py): a retention offer's answer, the customer's rating.
        self._retention_answer: RetentionAnswer | None = None
        self._rating: Rating | None = None
        # Cancel cases of a retention experiment that closed this turn (sales-agent-v1).
        self._retention_closed: list[RetentionClosed] = []

    # --- the run's version, decided in its first activation ---------------------------------

    @property
    def _version(self) -> RunVersion:
        """Called first by ``run`` and by every update, so it is decided in the run's first
        activation, before any activity (see workflows/versions.py)."""
        if self._run_version is None:
            self._run_version = RunVersion.decide()
        return self._run_version

    @property
    def _local_reads(self) -> bool:
        return self._version.local_reads

    @property
    def _trust(self) -> bool:
        return self._version.trust

    @property
    def _calls(self) -> ActivityCalls:
        if self._run_calls is None:
            self._run_calls = ActivityCalls(
                local=self._local_reads,
                ai_queue=self._inp.task_queues.ai,
                integrations_queue=self._inp.task_queues.integrations,
            )
        return self._run_calls

    # --- who is asking -------------------------------------------------------------------

    @property
    def _policy(self) -> TenantPolicy:
        # DESIGN §4's rules for conversations recorded before tenant policies were loaded.
        return self._s.policy or DEFAULT_POLICY

    @property
    def _user(self) -> str | None:
        """The store account this turn may see and act on: none for an unverified sender."""
        if self._trust and not self._trusted:
            return None
        return self._s.store_user_id

    @property
    def _who(self) -> str | None:
        v = self._s.verification
        return v.key if v is not None and self._trusted else None

    def _last_order(self) -> str | None:
        return next((c.order_id for c in reversed(self._s.cases) if c.order_id), None)

    async def _compose(self, template: str, facts: dict[str, object]) -> ComposedReply:
        return await self._calls.ai(
            AiActivities.compose_reply,
            ComposeInput(
                tenant_id=self._inp.tenant_id,
                template=template,
                facts=facts,
                channel=self._out_channel,
            ),
        )

    # --- the record of cases -----------------------------------------------------------------

    def _track_case(self, case: CaseState) -> None:
        status = _CASE_STATUS.get(case.step, "abandoned" if case.step == "abandoned" else "open")
        saved = case.step == "done" and case.offer is not None and case.offer.status == "accepted"
        entry = Case(
            case_id=case.case_id,
            intent=case.intent,
            status=status,
            order_id=case.order_id,
            opened_at=case.opened_at,
            resolution="saved" if saved else None,
        )
        if self._version.sales_agent:
            self._settle_trial(case)
        for i, known in enumerate(self._s.cases):
            if known.case_id == case.case_id:
                self._s.cases[i] = entry
                return
        self._s.cases.append(entry)

    def _record_case(
        self, intent: str, template: str, order_id: str | None, *, reason: str | None = None
    ) -> None:
        self._s.cases.append(
            Case(
                case_id=f"{workflow.info().workflow_id}/case/{len(self._s.cases) + 1}",
                intent=intent,
                status=_RECORD_STATUS.get(template, "open"),
                order_id=order_id,
                opened_at=workflow.now(),
                reason=reason,
            )
        )

    def _note_case(self, plan: Plan) -> None:
        """Record the case a plan answered without one of its own (a request noted for a
        person, a hand-over)."""
        if plan.records_case:
            self._record_case(plan.intent, plan.template, plan.order_id, reason=plan.reason)

    def _should_continue_as_new(self) -> bool:
        """Time to continue-as-new: history is long, or an upgrade was asked for."""
        info = workflow.info()
        return (
            self._upgrade_requested
            or info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._inp.continue_as_new_events
        )

    # --- supplied by the parts --------------------------------------------------------------

    async def _route(
        self, msg: InboundMessage, u: Understanding, intent: str, first_name: str | None
    ) -> Plan:
        """The turn once we know who is asking (or that nobody is verified)."""
        raise NotImplementedError

    async def _close_unanswered_case(self) -> None:
        raise NotImplementedError

    def _settle_trial(self, case: CaseState) -> None:
        """Record what became of a retention experiment's cancel case (sales_agent.py)."""
        raise NotImplementedError

    async def _record_outcomes(self, before: Mapping[str, str], *, by_person: bool = False) -> None:
        """Record what closed since ``before`` (case id -> status), and the turn's rating and
        retention answer (outcomes.py); ``by_person``: a person decided it (an approval)."""
        raise NotImplementedError

    async def _one_request(self, u: Understanding, intent: str, first_name: str | None) -> Plan:
        """One request, planned once by the dispatcher and carried out."""
        raise NotImplementedError

    async def _understand_text(self, text: str) -> Understanding:
        """Understand ``text`` in the conversation's context as it is now (customer.py)."""
        raise NotImplementedError

    async def _deliver_out(self, entry: TranscriptEntry, route: ReplyRoute | None) -> None:
        """Send an entry by email or SMS (delivery.py)."""
        raise NotImplementedError

    def _latest_sender(self) -> str | None:
        """Who the conversation talks to outside a reply (delivery.py)."""
        raise NotImplementedError

    def _route_to(self, sender: str | None) -> ReplyRoute | None:
        raise NotImplementedError

    def _schedule_retry(self, plan: ActionPlan, user: str) -> None:
        """Run an interrupted plan again later (people.py)."""
        raise NotImplementedError

    def _people_dues(self) -> list[tuple[datetime, Due]]:
        """When each of the people timers is due (people.py)."""
        raise NotImplementedError

    async def _fire_people_dues(self) -> None:
        raise NotImplementedError
