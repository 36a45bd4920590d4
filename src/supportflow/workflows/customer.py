"""CustomerWorkflow: one long-lived conversation per tenant + customer, across channels.

It receives each inbound message as an update (sent with update-with-start), answers it
through activities (understand -> decide -> reply), ignores message ids it has seen, and
continues-as-new before its history grows large, carrying the conversation with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.actions import ActionActivities, ActionExecutor
    from supportflow.activities.ai import AiActivities
    from supportflow.activities.contract import (
        ComposedReply,
        ComposeInput,
        IdentifyInput,
        LoadCaseFactsInput,
        LookupOrderInput,
        UnderstandInput,
    )
    from supportflow.activities.knowledge import KnowledgeActivities
    from supportflow.activities.store import StoreActivities
    from supportflow.activities.tenant import LoadPolicyInput, TenantActivities
    from supportflow.knowledge.contract import KnowledgeInput
    from supportflow.policy.model import TenantPolicy
    from supportflow.procedures.base import (
        CaseFacts,
        CaseState,
        deadline,
        finish,
        on_timeout,
        order_id_to_fetch,
        procedure_for,
        step,
    )
    from supportflow.procedures.router import (
        Decision,
        decide,
        effective_intent,
        intent_phrase,
    )
    from supportflow.procedures.saga import run_saga
    from supportflow.replies.templates import STATUS_PHRASES
    from supportflow.understanding.contract import Context, Understanding
    from supportflow.workflows.contract import (
        ENQUEUE_MESSAGE_SIGNAL,
        SEEN_MESSAGE_WINDOW,
        TRANSCRIPT_WINDOW,
        Case,
        Channel,
        ConversationState,
        CustomerWorkflowInput,
        InboundMessage,
        Reply,
        ReplyLookup,
        ReplyStatus,
        TranscriptEntry,
        TranscriptView,
    )
    from supportflow.workflows.plan import Plan
    from supportflow.workflows.verification import VerificationSteps

# Activities of the ai queue are fast and local; retry them quickly.
_AI_TIMEOUT = timedelta(seconds=15)
_AI_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_attempts=5,
    # A wrong LLM key or model name will not fix itself by retrying.
    non_retryable_error_types=["LlmRejected"],
)
# Store calls may meet a store that is down for minutes: back off, and give up after a while
# with a holding reply rather than leaving the customer with silence.
_STORE_TIMEOUT = timedelta(seconds=10)
_STORE_PATIENCE = timedelta(minutes=5)
_STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["StoreRejected"],
)
T = TypeVar("T")
In = TypeVar("In")

# After these replies the agent waits for a detail; a message supplying it continues the request.
_AWAITING_AFTER = {
    "ask_order_id": "order_id",
    "ask_identity": "identity",
    "identity_not_found": "identity",
    "kb_unknown": "handoff_offer",
    # Verifying who the customer is (PATCH_TRUST runs).
    "ask_verification": "identity",
    "code_sent": "verification_code",
    "code_wrong": "verification_code",
    "code_expired": "identity",
    "code_locked": "identity",
    "code_rate_limited": "verification_code",
    "case_not_yours": "identity",
    "no_account": "identity",
}


PATCH_PROCEDURES = "procedures-v1"
PATCH_TENANT_POLICY = "tenant-policy-v1"
PATCH_KNOWLEDGE = "knowledge-base-v1"
# Runs from this patch on call understanding, store reads, policy, knowledge and replies as
# local activities (all of a workflow task's local activities are one billable action; no
# task-queue hop) and keep one confirmation timer per wait instead of one per turn. Runs
# recorded before it replay the ordinary-activity path.
PATCH_LOCAL_READS = "local-reads-v1"
# Runs from this patch on trust only verified identities (a signed token from the API, or a
# one-time code checked here), re-read the tenant's policy before every store write, end
# never-verified conversations when idle, and answer an activity that failed for good with an
# apology and a handoff. Decided in the run's first activation, like PATCH_LOCAL_READS.
PATCH_TRUST = "trust-v1"
# Said when even the reply could not be composed (its activity failed for good).
_FALLBACK_APOLOGY = (
    "Sorry, something went wrong on our side while I was working on your message. I've passed "
    "your conversation to a member of our team, who will pick it up from here."
)
# Activity failures that retries did not fix: an ordinary activity's arrives as ActivityError,
# a local activity's as the ApplicationError or timeout itself.
_GAVE_UP = (ActivityError, ApplicationError, TemporalTimeoutError)
# Requests the router answers itself; every other procedure runs as a case.
_ROUTER_PROCEDURES = frozenset({"order_status", "handoff"})
# DESIGN §4's rules: for conversations recorded before tenant policies were loaded.
_DEFAULT_POLICY = TenantPolicy()
_CASE_STATUS = {"done": "resolved", "refused": "resolved", "escalated": "escalated"}


# A customer message longer than this is refused by the update validator (the API checks first).
MAX_TEXT_BYTES = 16 * 1024


@workflow.defn
class CustomerWorkflow(VerificationSteps):
    @workflow.init
    def __init__(self, inp: CustomerWorkflowInput) -> None:
        self._inp = inp
        self._s = inp.state or ConversationState()
        self._in_flight: set[str] = set()
        # message id -> sender key of turns in flight, so a pending reply is shown to its sender.
        self._in_flight_from: dict[str, str] = {}
        # Whether this turn's sender is verified (PATCH_TRUST runs); set at each turn's start.
        self._trusted = False
        # The text the turn acts on: the message's, or a request that waited for verification.
        self._text = ""
        # Turns run one at a time, in arrival order, so replies never interleave.
        self._turn_lock = asyncio.Lock()

    @workflow.run
    async def run(self, inp: CustomerWorkflowInput) -> None:
        self._decide_patches()
        idle = False
        if self._local_reads:
            idle = await self._serve_until_history_is_large()
        else:
            await self._serve_until_history_is_large_v0()
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

    async def _serve_until_history_is_large(self) -> bool:
        """Time out a case the customer stopped answering, with one durable timer per wait.

        The timer runs to the deadline of when the wait began; a customer who answered in the
        meantime moved the deadline on, so when it fires early the loop sleeps the rest. Turns
        therefore start no timers of their own (each would be a billable action).
        Returns True when a never-verified conversation has been idle long enough to end."""
        while not self._history_is_large():
            due = deadline(self._s.case, self._policy)
            if due is None and self._idle_applies():
                if await self._idle_for_long():
                    return True
                continue
            if due is None:
                await workflow.wait_condition(
                    lambda: (
                        self._history_is_large()
                        or deadline(self._s.case, self._policy) is not None
                        or self._idle_applies()
                    )
                )
                continue
            try:
                await workflow.wait_condition(
                    self._wait_over(due),
                    timeout=max(timedelta(0), due - workflow.now()),
                )
            except TimeoutError:
                now_due = deadline(self._s.case, self._policy)
                if now_due is not None and now_due <= workflow.now():
                    await self._close_unanswered_case()
        return False

    def _idle_applies(self) -> bool:
        """Whether the idle timer runs: PATCH_TRUST runs, after the first turn (so a verified
        customer's first message never starts one), while nobody is verified."""
        return self._trust and self._s.turns > 0 and self._idle_may_end()

    def _idle_may_end(self) -> bool:
        case = self._s.case
        return (
            self._s.verification is None
            and (case is None or not case.is_open)
            and not self._in_flight
        )

    def _last_activity(self) -> datetime:
        if self._s.transcript:
            return self._s.transcript[-1].at
        return workflow.info().start_time

    async def _idle_for_long(self) -> bool:
        """One timer to the end of the idle window; a turn in the meantime moves the window on,
        and the loop sleeps the rest (no timer per turn)."""
        until = self._last_activity() + self._inp.unverified_idle
        try:
            await workflow.wait_condition(
                lambda: (
                    self._history_is_large()
                    or not self._idle_may_end()
                    or deadline(self._s.case, self._policy) is not None
                ),
                timeout=max(timedelta(0), until - workflow.now()),
            )
        except TimeoutError:
            return (
                self._idle_may_end()
                and self._last_activity() + self._inp.unverified_idle <= workflow.now()
            )
        return False

    def _wait_over(self, due: datetime) -> Callable[[], bool]:
        """Wake when history needs continue-as-new, the case stopped waiting, or it now waits
        with a deadline earlier than `due` (a new case with a shorter timeout)."""

        def over() -> bool:
            now_due = deadline(self._s.case, self._policy)
            return self._history_is_large() or now_due is None or now_due < due

        return over

    async def _serve_until_history_is_large_v0(self) -> None:
        """Before PATCH_LOCAL_READS: a fresh timer after every turn of a waiting case."""
        while not self._history_is_large():
            turns = self._s.turns
            waiting_until = deadline(self._s.case, self._policy)
            if waiting_until is None:
                # Nothing to time out: sleep until history grows or a turn changes that.
                await workflow.wait_condition(self._moved_on(turns))
                continue
            # A durable timer, not a poll: the case waits for the customer's answer for as
            # long as the policy says, even days, across worker restarts.
            remaining = max(timedelta(0), waiting_until - workflow.now())
            try:
                await workflow.wait_condition(self._moved_on(turns), timeout=remaining)
            except TimeoutError:
                await self._close_unanswered_case()

    @workflow.update
    async def receive_message(self, msg: InboundMessage) -> Reply:
        return await self._handle(msg)

    async def _handle(self, msg: InboundMessage) -> Reply:
        self._decide_patches()
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
        if self._trust:
            self._trusted = self._sender_verified(msg)
        if msg.sender not in s.identities:
            s.identities.append(msg.sender)
        s.transcript.append(
            TranscriptEntry(
                role="customer",
                channel=msg.channel,
                message_id=msg.message_id,
                text=msg.text,
                at=workflow.now(),
                verified_by=self._verified_by(msg),
            )
        )
        if self._trust:
            try:
                plan = await self._act(msg, await self._understand(msg))
            except _GAVE_UP as err:
                plan = self._gave_up(err)
            text = await self._compose_or_apologise(plan)
        else:
            plan = await self._act(msg, await self._understand(msg))
            text = (await self._compose(plan.template, plan.facts)).text
        reply = Reply(
            message_id=msg.message_id,
            text=text,
            intent=plan.intent,
            to=msg.sender.key if self._trust else None,
        )
        s.transcript.append(
            TranscriptEntry(
                role="agent",
                channel=msg.channel,
                message_id=msg.message_id,
                text=reply.text,
                at=workflow.now(),
                intent=plan.intent,
            )
        )
        s.replies[msg.message_id] = reply
        s.last_intent = plan.intent
        s.awaiting = plan.awaiting if plan.from_procedure else _AWAITING_AFTER.get(plan.template)
        s.clarifications = s.clarifications + 1 if plan.template == "clarify" else 0
        if plan.decision.opens_case:
            self._record_case(plan.intent, plan.decision, plan.template, reason=plan.reason)
        s.turns += 1
        _trim(s)
        return reply

    async def _understand(self, msg: InboundMessage) -> Understanding:
        s = self._s
        # An unverified sender's turn never sees the account's email.
        email = s.verified_email if (not self._trust or self._trusted) else None
        awaiting = s.awaiting
        case = s.case
        # The owner's open case says what it waits for, whatever others said meanwhile.
        owned = case is not None and case.is_open and case.owner in (None, self._who)
        if self._trust and self._trusted and owned and case is not None and case.awaiting:
            awaiting = case.awaiting
        return await self._ai(
            AiActivities.understand,
            UnderstandInput(
                tenant_id=self._inp.tenant_id,
                text=msg.text,
                context=Context(awaiting=awaiting, last_intent=s.last_intent, customer_email=email),
            ),
        )

    async def _compose(self, template: str, facts: dict[str, object]) -> ComposedReply:
        return await self._ai(
            AiActivities.compose_reply,
            ComposeInput(tenant_id=self._inp.tenant_id, template=template, facts=facts),
        )

    async def _compose_or_apologise(self, plan: Plan) -> str:
        """The reply's text; if even composing fails for good, a fixed apology (the case was
        handed over, or is handed over now), never silence."""
        try:
            parts = []
            if plan.prefix is not None:
                parts.append((await self._compose(*plan.prefix)).text)
            parts.append((await self._compose(plan.template, plan.facts)).text)
            return " ".join(parts)
        except _GAVE_UP as err:
            if plan.template != "technical_handoff":
                handoff = self._gave_up(err)
                self._record_case(
                    handoff.intent, handoff.decision, handoff.template, reason=handoff.reason
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
        return Plan(
            "technical_handoff",
            "contact_human_agent",
            Decision("handoff", "technical_handoff", opens_case=True),
            reason=reason,
        )

    async def _act(self, msg: InboundMessage, u: Understanding) -> Plan:
        if self._trust:
            return await self._act_verified(msg, u)
        s = self._s
        intent = effective_intent(u, awaiting=s.awaiting, last_intent=s.last_intent)
        first_name: str | None = None
        for email in [msg.email, *u.entities.emails]:
            if email and email.strip().lower() != s.verified_email:
                ident = await self._store_read(
                    StoreActivities.identify_customer,
                    IdentifyInput(tenant_id=self._inp.tenant_id, email=email),
                )
                if ident is None:
                    return Plan("store_unavailable", intent, Decision("reply", "store_unavailable"))
                if ident.store_user_id:
                    s.store_user_id = ident.store_user_id
                    s.verified_email = email.strip().lower()
                    first_name = ident.first_name
                    break
                if email in u.entities.emails:
                    return Plan(
                        "identity_not_found", intent, Decision("reply", "identity_not_found")
                    )
        return await self._route(msg, u, intent, first_name)

    async def _route(
        self, msg: InboundMessage, u: Understanding, intent: str, first_name: str | None
    ) -> Plan:
        """The turn once we know who is asking (or that nobody is verified)."""
        s = self._s
        last_order = next((c.order_id for c in reversed(s.cases) if c.order_id), None)
        # Conversations recorded before procedures existed answered these turns with the
        # router ("noted, a person will reply"); `patched` keeps them replaying that way.
        if self._procedures_take(u, self._text) and self._since(PATCH_PROCEDURES):
            return await self._procedure_turn(msg, u, intent, last_order)
        mentioned = u.entities.order_ids[0] if u.entities.order_ids else None
        if mentioned is None and s.awaiting:
            mentioned = s.pending_order_id
        decision = decide(
            u,
            intent,
            identified=self._user is not None,
            last_order_id=mentioned or last_order,
            clarifications=s.clarifications,
        )
        if decision.action == "knowledge":
            if self._since(PATCH_KNOWLEDGE):
                return await self._knowledge_turn(msg, intent, decision)
            # Recorded before the knowledge base existed: answer as the router did then.
            if decision.template != "out_of_scope":
                order_id = u.entities.order_ids[0] if u.entities.order_ids else None
                decision = Decision("open_case", "not_yet", order_id=order_id, opens_case=True)
        if decision.template == "ask_identity":
            s.pending_order_id = decision.order_id
        facts: dict[str, object] = {
            "first_name": first_name,
            "intent_phrase": intent_phrase(intent),
        }
        user = self._user
        if decision.action == "order_status" and decision.order_id and user:
            order = await self._store_read(
                StoreActivities.lookup_order,
                LookupOrderInput(
                    tenant_id=self._inp.tenant_id,
                    order_id=decision.order_id,
                    store_user_id=user,
                ),
            )
            if order is None:
                return Plan("store_unavailable", intent, decision)
            if not order.found:
                return Plan("order_not_found", intent, decision, {"order_id": decision.order_id})
            s.pending_order_id = None
            facts |= {
                "order_id": order.order_id,
                "status": order.status,
                "status_phrase": STATUS_PHRASES.get(order.status or "", order.status),
                "items": [
                    f"{item.name} ({', '.join(item.options.values())})" for item in order.items
                ],
                "tracking_ids": order.tracking_ids,
            }
        return Plan(decision.template, intent, decision, facts)

    # --- verification (PATCH_TRUST runs) --------------------------------------------------

    def _decide_patches(self) -> None:
        """Evaluate the run-wide patches now, in the run's first activation: `patched` is
        memoized per run, and a first call in mid-turn could land its marker in a later
        workflow task than replay expects (see `_since`)."""
        _ = self._local_reads and self._trust

    @property
    def _trust(self) -> bool:
        return self._local_reads and workflow.patched(PATCH_TRUST)

    async def _integration_call(self, fn: Callable[[Any, In], Awaitable[T]], arg: In) -> T | None:
        """An ordinary activity on the integrations queue (a write, or a send); None when it
        failed for good."""
        return await self._integration(
            workflow.execute_activity_method(
                fn,
                arg,
                task_queue=self._inp.task_queues.integrations,
                start_to_close_timeout=_STORE_TIMEOUT,
                schedule_to_close_timeout=_STORE_PATIENCE,
                retry_policy=_STORE_RETRY,
            )
        )

    async def _knowledge_turn(self, msg: InboundMessage, intent: str, decision: Decision) -> Plan:
        """Quote the tenant's article that answers the question; never make one up."""
        answer = await self._ai(
            KnowledgeActivities.answer_from_knowledge,
            KnowledgeInput(tenant_id=self._inp.tenant_id, question=self._text[:2000]),
        )
        if answer.found and answer.text:
            facts: dict[str, object] = {"text": answer.text, "title": answer.title}
            return Plan("kb_answer", intent, Decision("reply", "kb_answer"), facts)
        return Plan(decision.template, intent, Decision("reply", decision.template))

    def _procedures_take(self, u: Understanding, text: str) -> bool:
        case = self._s.case
        if case is not None and case.is_open:
            return True
        wanted = procedure_for(u, text)
        return wanted is not None and wanted not in _ROUTER_PROCEDURES

    async def _procedure_turn(
        self, msg: InboundMessage, u: Understanding, intent: str, last_order: str | None
    ) -> Plan:
        """A turn of a request with a procedure: fetch facts, step the case's state machine,
        run the saga it plans (after the customer's explicit yes), and say what happened."""
        s = self._s
        wf_id = workflow.info().workflow_id
        if self._trust and not self._may_continue_case():
            # Someone unverified in a conversation whose case belongs to a verified customer:
            # ask them to verify, and leave the conversation's question to its owner as it
            # was (what the owner's next "yes" answers).
            return Plan(
                "ask_verification",
                s.last_intent or intent,
                Decision("reply", "ask_verification"),
                from_procedure=True,
                awaiting=s.awaiting,
            )
        order_id = order_id_to_fetch(s.case, u, last_order)
        user = self._user
        if user is None:
            facts: CaseFacts | None = CaseFacts(order_id_requested=order_id)
        else:
            facts = await self._store_read(
                ActionActivities.load_case_facts,
                LoadCaseFactsInput(
                    tenant_id=self._inp.tenant_id,
                    store_user_id=user,
                    order_id=order_id,
                ),
            )
        if facts is None:
            return Plan("store_unavailable", intent, Decision("reply", "store_unavailable"))
        opening = s.case is None or not s.case.is_open
        # Runs before PATCH_TRUST read the policy once per case; from it on, before every step,
        # so a merchant's change (a lower refund limit, an action switched off) holds at the
        # moment a write is decided, whatever case it belongs to.
        if (opening or self._trust) and self._since(PATCH_TENANT_POLICY):
            s.policy = await self._ai(
                TenantActivities.load_policy,
                LoadPolicyInput(tenant_id=self._inp.tenant_id),
                task_queue=workflow.info().task_queue,
            )
        r = step(
            s.case,
            u,
            facts,
            policy=self._policy,
            now=workflow.now(),
            new_case_id=f"{wf_id}/case/{len(s.cases) + 1}",
            text=self._text,
            # Runs before PATCH_TRUST took the understanding's "confirm" as a yes.
            strict_consent=self._trust,
        )
        if self._trusted and r.state is not None and r.state.owner is None:
            # The verified identity that opens (or first continues) a case owns it.
            r = r.model_copy(update={"state": r.state.model_copy(update={"owner": self._who})})
        if r.dropped is not None:
            self._track_case(r.dropped)
        if r.policy is not None and r.policy.verdict != "allowed":
            workflow.logger.info("policy %s by rule %s", r.policy.verdict, r.policy.rule_id)
        if r.approval is not None:
            # Recorded in the conversation (queryable); the operator flow comes with the
            # management agent.
            s.approvals.append(r.approval)
        if r.outcome == "execute" and r.plan is not None and r.state is not None:
            assert user is not None  # a plan is only made for an identified customer
            executor = ActionExecutor(
                tenant_id=self._inp.tenant_id,
                store_user_id=user,
                workflow_id=wf_id,
                case_id=r.state.case_id,
                attempt=r.plan.attempt,
                task_queue=self._inp.task_queues.integrations,
            )
            outcome = await run_saga(r.plan.steps, executor.execute)
            r = finish(r.state, r.plan, outcome, now=workflow.now())
        if r.state is not None:
            s.case = r.state
            self._track_case(r.state)
        return Plan(
            r.template or "clarify",
            r.state.intent if r.state is not None else intent,
            Decision("reply", r.template or "clarify"),
            dict(r.facts),
            from_procedure=True,
            awaiting=r.awaiting,
        )

    async def _close_unanswered_case(self) -> None:
        """The customer never answered the agent's question: close the case politely, with
        nothing done, and leave the goodbye in the conversation."""
        async with self._turn_lock:
            case = self._s.case
            due = deadline(case, self._policy)
            if case is None or due is None or due > workflow.now():
                return  # a turn moved the case on while we waited for the lock
            r = on_timeout(case)
            composed = await self._ai(
                AiActivities.compose_reply,
                ComposeInput(
                    tenant_id=self._inp.tenant_id,
                    template=r.template or "case_timed_out",
                    facts=dict(r.facts),
                ),
            )
            last_channel = next(
                (e.channel for e in reversed(self._s.transcript) if e.role == "customer"),
                Channel.CHAT,
            )
            self._s.transcript.append(
                TranscriptEntry(
                    role="agent",
                    channel=last_channel,
                    message_id=f"timeout:{case.case_id}",
                    text=composed.text,
                    at=workflow.now(),
                    intent=case.intent,
                )
            )
            if r.state is not None:
                self._s.case = r.state
                self._track_case(r.state)
            self._s.awaiting = None

    def _track_case(self, case: CaseState) -> None:
        status = _CASE_STATUS.get(case.step, "abandoned" if case.step == "abandoned" else "open")
        entry = Case(
            case_id=case.case_id,
            intent=case.intent,
            status=status,
            order_id=case.order_id,
            opened_at=case.opened_at,
        )
        for i, known in enumerate(self._s.cases):
            if known.case_id == case.case_id:
                self._s.cases[i] = entry
                return
        self._s.cases.append(entry)

    @property
    def _local_reads(self) -> bool:
        # `patched` is memoized per run: the first call decides for the whole run (it is made
        # in the run's first activation, before any activity), so a run recorded without the
        # marker keeps its ordinary activities to the end.
        return workflow.patched(PATCH_LOCAL_READS)

    def _since(self, patch: str) -> bool:
        """Whether this run has a change older than PATCH_LOCAL_READS. Runs with local reads
        have them all and record no marker for them: a `patched` call in mid-turn, right after
        a local activity, may land in a later workflow task than the activity when the task
        heartbeats, and then replay would not see the marker in time (found by the chaos run)."""
        return self._local_reads or workflow.patched(patch)

    async def _ai(self, fn: Callable[[Any, In], T], arg: In, *, task_queue: str | None = None) -> T:
        """A fast, pure read (understanding, replies, policy, knowledge), retried quickly."""
        if self._local_reads:
            return await workflow.execute_local_activity_method(
                fn, arg, start_to_close_timeout=_AI_TIMEOUT, retry_policy=_AI_RETRY
            )
        return await workflow.execute_activity_method(
            fn,
            arg,
            task_queue=task_queue or self._inp.task_queues.ai,
            start_to_close_timeout=_AI_TIMEOUT,
            retry_policy=_AI_RETRY,
        )

    async def _store_read(self, fn: Callable[[Any, In], Awaitable[T]], arg: In) -> T | None:
        """A read from the tenant's store; None when it stayed unreachable past our patience."""
        if self._local_reads:
            return await self._integration(
                workflow.execute_local_activity_method(
                    fn,
                    arg,
                    start_to_close_timeout=_STORE_TIMEOUT,
                    schedule_to_close_timeout=_STORE_PATIENCE,
                    retry_policy=_STORE_RETRY,
                )
            )
        return await self._integration_call(fn, arg)

    async def _integration(self, call: Awaitable[T]) -> T | None:
        """Await a store activity; None when the store refused for good or stayed unreachable
        past our patience. An ordinary activity's failure arrives as an ActivityError; a local
        activity's as the ApplicationError (or timeout) itself."""
        try:
            return await call
        except ActivityError as err:
            workflow.logger.warning("store activity failed for good: %s", err.cause)
            return None
        except (ApplicationError, TemporalTimeoutError) as err:
            workflow.logger.warning("store read failed for good: %s", type(err).__name__)
            return None

    def _record_case(
        self, intent: str, decision: Decision, template: str, *, reason: str | None = None
    ) -> None:
        status = {
            "order_status": "resolved",
            "handoff": "escalated",
            "not_yet": "escalated",
            "technical_handoff": "escalated",
        }.get(template, "open")
        self._s.cases.append(
            Case(
                case_id=f"{workflow.info().workflow_id}/case/{len(self._s.cases) + 1}",
                intent=intent,
                status=status,
                order_id=decision.order_id,
                opened_at=workflow.now(),
                reason=reason,
            )
        )

    @property
    def _policy(self) -> TenantPolicy:
        return self._s.policy or _DEFAULT_POLICY

    def _moved_on(self, turns: int) -> Callable[[], bool]:
        """Wake the run loop when history needs continue-as-new or a turn has happened."""
        return lambda: self._history_is_large() or self._s.turns != turns

    def _history_is_large(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._inp.continue_as_new_events
        )


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
