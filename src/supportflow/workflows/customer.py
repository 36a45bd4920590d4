"""CustomerWorkflow: one long-lived conversation per tenant + customer, across channels.

It receives each inbound message as an update (sent with update-with-start), answers it
through activities (understand -> verify -> dispatch -> act -> reply), ignores message ids it
has seen, and continues-as-new before its history grows large, carrying the conversation with
it. The workflow orchestrates; what a turn does is decided by the pure dispatcher
(procedures/dispatch.py) and the procedure engine (procedures/base.py). Its parts are listed
in workflows/conversation.py; how runs of older versions still replay, in workflows/versions.py.
"""

from __future__ import annotations

from typing import assert_never

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.ai import AiActivities
    from supportflow.activities.contract import UnderstandInput
    from supportflow.limits import MAX_MESSAGE_BYTES
    from supportflow.procedures.dispatch import (
        AnswerProduct,
        AskKnowledge,
        NoteForLater,
        RunProcedure,
        Say,
        plan_turn,
    )
    from supportflow.procedures.router import intent_phrase
    from supportflow.understanding.contract import Context, Understanding
    from supportflow.workflows.approvals import Approvals
    from supportflow.workflows.calls import GAVE_UP
    from supportflow.workflows.contract import (
        ENQUEUE_MESSAGE_SIGNAL,
        SEEN_MESSAGE_WINDOW,
        TRANSCRIPT_WINDOW,
        ConversationState,
        CustomerWorkflowInput,
        InboundMessage,
        MessagesAfter,
        Reply,
        ReplyLookup,
        ReplyStatus,
        TranscriptEntry,
        TranscriptView,
    )
    from supportflow.workflows.csat import Csat, with_csat_question
    from supportflow.workflows.legacy import LegacyTurns
    from supportflow.workflows.outcomes import Outcomes
    from supportflow.workflows.plan import Plan
    from supportflow.workflows.requests import RequestQueue
    from supportflow.workflows.retries import Retries
    from supportflow.workflows.takeover import Takeover
    from supportflow.workflows.verification import VerificationSteps
    from supportflow.workflows.waiting import Waiting

# Said when even the reply could not be composed (its activity failed for good).
_FALLBACK_APOLOGY = (
    "Sorry, something went wrong on our side while I was working on your message. I've passed "
    "your conversation to a member of our team, who will pick it up from here."
)

# A customer message longer than this is refused by the update validator (the API checks first).
MAX_TEXT_BYTES = MAX_MESSAGE_BYTES


@workflow.defn
class CustomerWorkflow(
    VerificationSteps,
    Waiting,
    LegacyTurns,
    RequestQueue,
    Takeover,
    Approvals,
    Retries,
    Outcomes,
    Csat,
):
    @workflow.init
    def __init__(self, inp: CustomerWorkflowInput) -> None:
        super().__init__(inp)

    @workflow.signal
    def request_upgrade(self) -> None:
        """Continue-as-new at the next quiet moment, so the conversation goes on with the
        newest version of this workflow (docs/versioning.md: how old versions are drained).
        Nothing else changes: the conversation's state is carried as it is."""
        self._upgrade_requested = True

    @workflow.run
    async def run(self, inp: CustomerWorkflowInput) -> None:
        idle = False
        if self._version.local_reads:
            idle = await self._serve()
        else:
            await self._serve_v0()
        # Let the current turns finish: an update in flight would be lost by continue-as-new.
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._in_flight
        )
        if idle and self._idle_may_end():
            # Never verified and silent for `unverified_idle`: end, rather than keep a workflow
            # for every drive-by visitor forever. A later message starts a fresh run.
            return
        self._s.runs += 1
        workflow.continue_as_new(inp.model_copy(update={"state": _carry(self._s)}))

    @workflow.update
    async def receive_message(self, msg: InboundMessage) -> Reply:
        return await self._handle(msg)

    async def _handle(self, msg: InboundMessage) -> Reply:
        _ = self._version  # decided in the run's first activation, before any activity
        seen = self._s.replies.get(msg.message_id)
        if seen is not None:
            return seen.model_copy(update={"duplicate": True})
        if msg.message_id in self._in_flight:
            # The same message delivered twice at once: answer both with the one reply.
            await workflow.wait_condition(lambda: msg.message_id in self._s.replies)
            return self._s.replies[msg.message_id].model_copy(update={"duplicate": True})
        self._in_flight.add(msg.message_id)
        self._in_flight_from[msg.message_id] = msg.sender.key
        try:
            async with self._turn_lock:
                reply = await self._turn(msg)
        finally:
            self._in_flight.discard(msg.message_id)
            self._in_flight_from.pop(msg.message_id, None)
        return reply

    @workflow.signal(name=ENQUEUE_MESSAGE_SIGNAL)
    async def enqueue_message(self, msg: InboundMessage) -> None:
        """The durable path when no caller can wait: the API falls back to signal-with-start
        if the update is not accepted in time (workers down), so the message is never lost.
        The reply is then read with the `reply_for` query."""
        try:
            self._validate_message(msg)
        except ValueError as err:
            workflow.logger.warning("ignored invalid message: %s", err)
            return
        await self._handle(msg)

    @receive_message.validator
    def _validate_message(self, msg: InboundMessage) -> None:
        # Rejected updates never reach history, so bad input changes nothing.
        if not msg.text.strip():
            raise ValueError("message text is empty")
        if len(msg.text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
            raise ValueError(f"message text is over {MAX_TEXT_BYTES} bytes")

    @workflow.query
    def messages_after(self, after: MessagesAfter) -> list[TranscriptEntry]:
        """What the agent and operators said after entry ``after.seq`` to ``after.sender``
        (replies and messages outside replies), for the customer's channel to show."""
        return [
            e
            for e in self._s.transcript
            if e.seq > after.seq and e.role != "customer" and e.to in (None, after.sender)
        ]

    @workflow.query
    def transcript(self) -> TranscriptView:
        return TranscriptView(
            tenant_id=self._inp.tenant_id,
            customer_id=self._inp.customer_id,
            store_user_id=self._s.store_user_id,
            identities=self._s.identities,
            entries=self._s.transcript,
            cases=self._s.cases,
            turns=self._s.turns,
            runs=self._s.runs,
            approvals=self._s.approvals,
            verification=self._s.verification,
            held_by=self._s.held_by,
            handover=self._s.handover,
            case=self._s.case,
        )

    @workflow.query
    def reply_for(self, lookup: ReplyLookup) -> ReplyStatus:
        reply = self._s.replies.get(lookup.message_id)
        if reply is not None:
            if lookup.sender is not None and reply.to is not None and reply.to != lookup.sender:
                # Someone else's message: as if it did not exist.
                return ReplyStatus(message_id=lookup.message_id, status="unknown")
            return ReplyStatus(message_id=lookup.message_id, status="answered", reply=reply)
        if lookup.message_id in self._in_flight:
            sender = self._in_flight_from.get(lookup.message_id)
            if lookup.sender is not None and sender is not None and sender != lookup.sender:
                return ReplyStatus(message_id=lookup.message_id, status="unknown")
            return ReplyStatus(message_id=lookup.message_id, status="pending")
        return ReplyStatus(message_id=lookup.message_id, status="unknown")

    # --- one turn -------------------------------------------------------------------------

    async def _turn(self, msg: InboundMessage) -> Reply:
        s = self._s
        self._text = msg.text
        sales = self._version.sales
        # The cases as the turn found them: what it closed is recorded at its end (sales-v1).
        before = {c.case_id: c.status for c in s.cases} if sales else {}
        self._note_route(msg)
        if self._trust:
            self._trusted = self._sender_verified(msg)
        if msg.sender not in s.identities:
            s.identities.append(msg.sender)
        people = self._version.people
        s.transcript.append(
            TranscriptEntry(
                role="customer",
                channel=msg.channel,
                message_id=msg.message_id,
                text=msg.text,
                at=workflow.now(),
                verified_by=self._verified_by(msg),
                seq=self._next_seq() if people else 0,
            )
        )
        if people and s.held_by is not None:
            # An operator has the conversation: they answer, not the agent.
            reply = Reply(
                message_id=msg.message_id, text="", intent="held", to=msg.sender.key, held=True
            )
            s.replies[msg.message_id] = reply
            s.turns += 1
            _trim(s)
            return reply
        if self._trust:
            # sales-v1: a message that only rates the case just closed is not a request.
            rated = self._take_rating(msg) if sales else None
            if rated is not None:
                plan = rated
            else:
                try:
                    plan = await self._act(msg, await self._understand(msg))
                except GAVE_UP as err:
                    plan = self._gave_up(err)
                if people:
                    plan = await self._after_turn(plan)
            question = self._csat_question(plan, before, msg) if sales else None
            if question is not None:
                plan = with_csat_question(plan)
            text = await self._compose_or_apologise(plan)
            if sales:
                if question is not None and text != _FALLBACK_APOLOGY:
                    s.csat = question
                # Recorded now, in the reply's workflow task (no billable action of its own).
                self._note_case(plan)
                await self._record_outcomes(before)
        else:
            plan = await self._act(msg, await self._understand(msg))
            text = (await self._compose(plan.template, plan.facts)).text
        reply = Reply(
            message_id=msg.message_id,
            text=text,
            intent=plan.intent,
            to=msg.sender.key if self._trust else None,
        )
        answer = TranscriptEntry(
            role="agent",
            channel=msg.channel,
            message_id=msg.message_id,
            text=reply.text,
            at=workflow.now(),
            intent=plan.intent,
            seq=self._next_seq() if people else 0,
            to=reply.to if people else None,
        )
        s.transcript.append(answer)
        await self._deliver_out(answer, msg.route)
        s.replies[msg.message_id] = reply
        s.last_intent = plan.intent
        s.awaiting = plan.waits_for
        s.clarifications = s.clarifications + 1 if plan.template == "clarify" else 0
        if not sales:
            self._note_case(plan)
        s.turns += 1
        _trim(s)
        return reply

    async def _understand(self, msg: InboundMessage) -> Understanding:
        return await self._understand_text(msg.text)

    async def _understand_text(self, text: str) -> Understanding:
        s = self._s
        # An unverified sender's turn never sees the account's email.
        email = s.verified_email if (not self._trust or self._trusted) else None
        awaiting = s.awaiting
        case = s.case
        # The owner's open case says what it waits for, whatever others said meanwhile.
        owned = case is not None and case.is_open and case.owner in (None, self._who)
        if self._trust and self._trusted and owned and case is not None and case.awaiting:
            awaiting = case.awaiting
        if awaiting == "offer":
            # A retention offer (sales-v1) is a yes/no question, read like a confirmation.
            awaiting = "confirm"
        return await self._calls.ai(
            AiActivities.understand,
            UnderstandInput(
                tenant_id=self._inp.tenant_id,
                text=text,
                context=Context(awaiting=awaiting, last_intent=s.last_intent, customer_email=email),
            ),
        )

    async def _compose_or_apologise(self, plan: Plan) -> str:
        """The reply's text; if even composing fails for good, a fixed apology (the case was
        handed over, or is handed over now), never silence."""
        try:
            parts = []
            if plan.prefix is not None:
                parts.append((await self._compose(*plan.prefix)).text)
            for template, facts in plan.before:
                parts.append((await self._compose(template, facts)).text)
            parts.append((await self._compose(plan.template, plan.facts)).text)
            for template, facts in plan.then:
                parts.append((await self._compose(template, facts)).text)
            return " ".join(parts)
        except GAVE_UP as err:
            if plan.template != "technical_handoff":
                handoff = self._gave_up(err)
                self._record_case(
                    handoff.intent, handoff.template, handoff.order_id, reason=handoff.reason
                )
            return _FALLBACK_APOLOGY

    def _gave_up(self, err: BaseException) -> Plan:
        """An activity failed for good (retries ran out): apologise and hand the conversation to
        a person with the reason; an open case goes with it."""
        if isinstance(err, ActivityError):
            failed = err.activity_type or "activity"
        else:  # a local activity's own failure: its error type (never its message: may hold PII)
            failed = (err.type if isinstance(err, ApplicationError) else None) or type(err).__name__
        reason = f"activity_failed: {failed}"
        workflow.logger.warning("handing over after a failure: %s", reason)
        case = self._s.case
        if case is not None and case.is_open and case.step != "executing":
            self._s.case = case.model_copy(
                update={"step": "escalated", "awaiting": None, "waiting_since": None}
            )
            self._track_case(self._s.case)
        return Plan("technical_handoff", "contact_human_agent", records_case=True, reason=reason)

    async def _act(self, msg: InboundMessage, u: Understanding) -> Plan:
        if self._trust:
            return await self._act_verified(msg, u)
        return await self._act_by_typed_email(msg, u)

    async def _route(
        self, msg: InboundMessage, u: Understanding, intent: str, first_name: str | None
    ) -> Plan:
        """The turn once we know who is asking (or that nobody is verified): planned once by
        the dispatcher, carried out here."""
        if not self._version.dispatch:
            return await self._route_by_router(msg, u, intent, first_name)
        if not self._version.requests:
            return await self._one_request(u, intent, first_name)
        return await self._requests_in_turn(u, intent, first_name)

    async def _one_request(self, u: Understanding, intent: str, first_name: str | None) -> Plan:
        """One request, planned once by the dispatcher and carried out here."""
        s = self._s
        self._serving = u
        if intent != u.intent:
            u = u.model_copy(update={"intent": intent})
        if self._version.people and self._asks_for_person_while_busy(u):
            # "Talk to a human" always works: a write in progress goes on (its retries too),
            # and the conversation goes to a person at once.
            return Plan("handoff", "contact_human_agent", records_case=True, reason="asked")
        handler = plan_turn(s.case, u, text=self._text, clarifications=s.clarifications)
        facts: dict[str, object] = {
            "first_name": first_name,
            "intent_phrase": intent_phrase(intent),
        }
        match handler:
            case RunProcedure(procedure):
                return await self._procedure_turn(u, intent, self._last_order(), procedure)
            case AskKnowledge(fallback):
                return await self._knowledge_turn(intent, fallback)
            case AnswerProduct():
                return await self._product_turn(u, intent)
            case Say(template):
                return Plan(template, intent, facts)
            case NoteForLater():
                order_id = u.entities.order_ids[0] if u.entities.order_ids else None
                return Plan("not_yet", intent, facts, records_case=True, order_id=order_id)
            case _:
                assert_never(handler)


def _trim(s: ConversationState) -> None:
    if len(s.transcript) > TRANSCRIPT_WINDOW:
        del s.transcript[: len(s.transcript) - TRANSCRIPT_WINDOW]
    while len(s.replies) > SEEN_MESSAGE_WINDOW:
        del s.replies[next(iter(s.replies))]


def _carry(s: ConversationState) -> ConversationState:
    """What continue-as-new carries: the state, with long customer texts shortened so the
    input stays far below Temporal's payload limit."""
    carried = s.model_copy(deep=True)
    for entry in carried.transcript:
        if len(entry.text) > 2000:
            entry.text = entry.text[:2000] + "…"
    return carried
