"""A turn that runs a procedure (a case), and turns the knowledge base or the catalogue answer.

The procedure engine (procedures/base.py) is pure; here its results are carried out: facts
fetched before a step, the saga run after the customer's yes, and every outcome of the closed
set ``procedures.case.Outcome`` handled in one exhaustive ``match``.
"""

from __future__ import annotations

from typing import assert_never

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.actions import ActionActivities
    from supportflow.activities.contract import LoadCaseFactsInput, ProductQuestionInput
    from supportflow.activities.knowledge import KnowledgeActivities
    from supportflow.activities.outcomes import RetentionAnswer
    from supportflow.activities.retention import RetentionActivities, RetentionCodeInput
    from supportflow.activities.store import StoreActivities
    from supportflow.activities.tenant import LoadPolicyInput, TenantActivities
    from supportflow.knowledge.contract import KnowledgeInput
    from supportflow.policy.model import TenantPolicy
    from supportflow.procedures.base import (
        PROCEDURES,
        CaseFacts,
        StepResult,
        finish,
        order_id_to_fetch,
        step,
    )
    from supportflow.procedures.case import ProcedureName, idempotency_key
    from supportflow.procedures.retention import CODE_VALID, newly_offered
    from supportflow.procedures.saga import run_saga
    from supportflow.understanding.contract import Understanding
    from supportflow.workflows.contract import PendingRequest
    from supportflow.workflows.custom_actions import CustomActionSteps
    from supportflow.workflows.plan import Plan
    from supportflow.workflows.saga_steps import ActionExecutor
    from supportflow.workflows.sales_agent import SalesAgentSteps
    from supportflow.workflows.versions import PATCH_TENANT_POLICY


class CaseSteps(SalesAgentSteps, CustomActionSteps):
    async def _procedure_turn(
        self,
        u: Understanding,
        intent: str,
        last_order: str | None,
        wanted: ProcedureName | None = None,
    ) -> Plan:
        """A turn of a request with a procedure: fetch facts, step the case's state machine,
        carry out what it asks (the saga, after the customer's explicit yes), and say what
        happened. ``wanted``: the dispatcher's choice for a turn with no open case."""
        s = self._s
        wf_id = workflow.info().workflow_id
        if self._trust and not self._may_continue_case():
            # Someone unverified in a conversation whose case belongs to a verified customer:
            # ask them to verify, and leave the conversation's question to its owner as it
            # was (what the owner's next "yes" answers).
            if self._version.channels:
                # Their words wait for their own proof (the owner by email, say, before the
                # reply in our thread): nobody else's proof takes them up.
                s.pending_request = PendingRequest(
                    text=self._text, understanding=u, sender=s.last_from
                )
            return Plan(
                "ask_verification",
                s.last_intent or intent,
                from_procedure=True,
                awaiting=s.awaiting,
            )
        order_id = order_id_to_fetch(s.case, u, last_order)
        user = self._user
        opening = s.case is None or not s.case.is_open
        # Dispatcher runs skip what a request that changes nothing does not need: the order's
        # products and the policy (which governs store writes) for a status question.
        writes = not (
            self._version.dispatch
            and opening
            and wanted is not None
            and not PROCEDURES[wanted].store_actions
        )
        if user is None or (opening and wanted == "handoff"):
            # Nobody verified (the engine asks who it is), or a hand-over, which needs no facts.
            facts: CaseFacts | None = CaseFacts(order_id_requested=order_id)
        else:
            facts = await self._calls.store_read(
                ActionActivities.load_case_facts,
                LoadCaseFactsInput(
                    tenant_id=self._inp.tenant_id,
                    store_user_id=user,
                    order_id=order_id,
                    products=writes,
                    # A status answer shows the order only; nothing of the account.
                    account=writes or wanted != "order_status",
                ),
            )
        if facts is None:
            return Plan("store_unavailable", intent)
        # Runs before PATCH_TRUST read the policy once per case; from it on, before every step,
        # so a merchant's change (a lower refund limit, an action switched off) holds at the
        # moment a write is decided, whatever case it belongs to.
        if writes and (opening or self._trust) and self._version.since(PATCH_TENANT_POLICY):
            s.policy = await self._calls.ai(
                TenantActivities.load_policy,
                LoadPolicyInput(tenant_id=self._inp.tenant_id),
                task_queue=workflow.info().task_queue,
            )
        before, now = s.case, workflow.now()

        def stepped(policy: TenantPolicy, offers: bool) -> StepResult:
            return step(
                before,
                u,
                facts,
                policy=policy,
                now=now,
                new_case_id=f"{wf_id}/case/{len(s.cases) + 1}",
                text=self._text,
                # Runs before PATCH_TRUST took the understanding's "confirm" as a yes.
                strict_consent=self._trust,
                wanted=wanted,
                offers=offers,
                # sales-agent-v1: "yes please cancel it" confirms the cancel.
                restated_yes=self._version.sales_agent,
            )

        # sales-v1: the tenant's retention offer, once per order in a conversation.
        r = stepped(self._policy, self._version.sales and order_id not in s.offered_orders)
        if self._version.sales_agent and user is not None and newly_offered(before, r.state):
            # sales-agent-v1: the offer of the customer's arm in a retention experiment.
            r = await self._retention_trial(r, user, stepped)
        if self._trusted and r.state is not None and r.state.owner is None:
            # The verified identity that opens (or first continues) a case owns it.
            r = r.model_copy(update={"state": r.state.model_copy(update={"owner": self._who})})
        if r.dropped is not None:
            self._track_case(r.dropped)
        if r.policy is not None and r.policy.verdict != "allowed":
            workflow.logger.info("policy %s by rule %s", r.policy.verdict, r.policy.rule_id)
        r = await self._carry_out(r, user)
        if self._version.sales:
            self._note_retention(r)
        if r.state is not None:
            s.case = r.state
            self._track_case(r.state)
        if self._version.dispatch:
            # What `status_by_order_email` may answer while the customer proves who they are.
            asks = r.template == "ask_identity" and r.state is not None
            s.pending_order_id = r.state.order_id if asks and r.state is not None else None
        return Plan(
            r.template or "clarify",
            r.state.intent if r.state is not None else intent,
            dict(r.facts),
            from_procedure=True,
            awaiting=r.awaiting,
        )

    async def _carry_out(self, r: StepResult, user: str | None) -> StepResult:
        """Do what the engine's outcome asks; the result to answer with."""
        match r.outcome:
            case "execute":
                assert r.plan is not None and r.state is not None and user is not None
                executor = ActionExecutor(
                    tenant_id=self._inp.tenant_id,
                    store_user_id=user,
                    workflow_id=workflow.info().workflow_id,
                    case_id=r.state.case_id,
                    attempt=r.plan.attempt,
                    task_queue=self._inp.task_queues.integrations,
                )
                outcome = await run_saga(r.plan.steps, executor.execute)
                return await self._carry_out(
                    finish(r.state, r.plan, outcome, now=workflow.now()), user
                )
            case "awaiting_approval":
                # Recorded in the conversation; an operator decides it with the
                # `decide_approval` update, and the inbox lists it (people.py).
                if r.approval is not None:
                    self._s.approvals.append(r.approval)
                return r
            case "retry_later":
                # The store stopped answering mid-plan: the case stays "executing" and the
                # customer hears it is delayed. From PATCH_PEOPLE on, the same plan (same
                # keys) runs again on a durable timer, then goes to a person (people.py).
                if self._version.people and r.plan is not None and user is not None:
                    self._schedule_retry(r.plan, user)
                return r
            case "saved":
                # The customer kept the order for the tenant's retention offer (sales-v1).
                assert r.state is not None and user is not None
                return await self._retention_code(r, user)
            case "not_handled" | "continue" | "done" | "refused" | "escalated" | "abandoned":
                return r
            case _:
                assert_never(r.outcome)

    async def _retention_code(self, r: StepResult, user: str) -> StepResult:
        """A kept order's one-use code (a discount or free shipping on the next order),
        created by the store with the case's idempotency key, so it is made once. If the
        store cannot make it, the order is still kept and a person sends the code."""
        case, offer = r.state, r.state.offer if r.state is not None else None
        if case is None or offer is None or offer.kind not in ("discount", "free_shipping"):
            return r
        assert case.order_id is not None
        made = await self._calls.store_write(
            RetentionActivities.create_retention_code,
            RetentionCodeInput(
                tenant_id=self._inp.tenant_id,
                store_user_id=user,
                order_id=case.order_id,
                offer="discount" if offer.kind == "discount" else "free_shipping",
                percent=offer.percent,
                expires_at=workflow.now() + CODE_VALID,
                idempotency_key=idempotency_key(
                    workflow.info().workflow_id, case.case_id, "retention.code"
                ),
            ),
        )
        if made is None:
            return r.model_copy(update={"template": "retention_code_failed"})
        end = made.expires_at or workflow.now() + CODE_VALID
        until = f"{end:%B} {end.day}, {end.year}"
        return r.model_copy(update={"facts": {**r.facts, "code": made.code, "valid_until": until}})

    def _note_retention(self, r: StepResult) -> None:
        """Remember the orders offered, so none is offered twice, and keep a retention
        offer's answer for the end of the turn (outcomes.py records it)."""
        s = self._s
        case = r.state
        if (
            case is not None
            and case.offer is not None
            and case.offer.status == "asked"
            and case.order_id is not None
            and case.order_id not in s.offered_orders
        ):
            s.offered_orders = [*s.offered_orders, case.order_id][-50:]
        answered = r.retention
        if answered is None or answered.offer is None or answered.offer.kind is None:
            return
        if answered.order_id is None:
            return
        saved = answered.offer.status == "accepted"
        code = r.facts.get("code") if saved else None
        self._retention_answer = RetentionAnswer(
            case_id=answered.case_id,
            order_id=answered.order_id,
            status="saved" if saved else "declined",
            offer=answered.offer.kind,
            offered_at=answered.offer.asked_at or workflow.now(),
            discount_code=str(code) if code is not None else None,
        )

    async def _knowledge_turn(self, intent: str, fallback: str) -> Plan:
        """Quote the tenant's article that answers the question; never make one up."""
        answer = await self._calls.ai(
            KnowledgeActivities.answer_from_knowledge,
            KnowledgeInput(tenant_id=self._inp.tenant_id, question=self._text[:2000]),
        )
        if answer.found and answer.text and answer.action is not None:
            if self._version.custom_actions:
                return await self._custom_action_turn(intent, answer)
            # A run on an older version has no way to fill it: never quote its {fields}.
            return Plan(fallback, intent)
        if answer.found and answer.text:
            return Plan("kb_answer", intent, {"text": answer.text, "title": answer.title})
        return Plan(fallback, intent)

    async def _product_turn(self, u: Understanding, intent: str) -> Plan:
        """A product question: what the store says now about the products named (options,
        prices, stock, the variants asked for); the knowledge base when none is named."""
        matches = u.entities.items
        product_ids = list(dict.fromkeys(m.product_id for m in matches))[:3]
        if not product_ids:
            return await self._knowledge_turn(intent, "product_unknown")
        # Variants named by their options score above the product name alone (0.5).
        named = [m.item_id for m in matches if m.score > 0.5]
        if self._version.sales_agent:
            # sales-agent-v1: the sales agent answers, in its own workflow.
            answers = await self._ask_sales_agent(product_ids, named[:25])
        else:
            answers = await self._calls.store_read(
                StoreActivities.answer_product_question,
                ProductQuestionInput(
                    tenant_id=self._inp.tenant_id, product_ids=product_ids, item_ids=named[:25]
                ),
            )
        if answers is None:
            return Plan("store_unavailable", intent)
        if not answers.products:
            return await self._knowledge_turn(intent, "product_unknown")
        facts: dict[str, object] = {"products": [p.model_dump() for p in answers.products]}
        return Plan("product_info", intent, facts)

    def _may_continue_case(self) -> bool:
        """An open case belongs to the verified identity that opened it. Someone unverified
        is asked to verify (and learns nothing of the case); another verified identity's case
        is dropped, never continued."""
        case = self._s.case
        if case is None or not case.is_open or case.owner is None or case.owner == self._who:
            return True
        if not self._trusted:
            return False
        dropped = case.model_copy(update={"step": "abandoned", "awaiting": None})
        self._s.case = dropped
        self._track_case(dropped)
        return True
