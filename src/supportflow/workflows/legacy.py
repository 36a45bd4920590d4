"""How runs recorded before the dispatcher answered, kept so their histories replay.

Runs without PATCH_DISPATCH route a turn through ``procedures/router.py`` (order status looked
up here, hand-overs and requests nobody automated noted as cases), with the procedures only
for store actions; runs without PATCH_TRUST identify a customer by a typed email; runs without
PATCH_LOCAL_READS start a fresh timer after every turn of a waiting case. docs/versioning.md
says when each goes: this module is deleted once no supported history needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.contract import IdentifyInput, LookupOrderInput
    from supportflow.activities.store import StoreActivities
    from supportflow.procedures.base import deadline
    from supportflow.procedures.intents import procedure_for
    from supportflow.procedures.router import Decision, decide, effective_intent, intent_phrase
    from supportflow.understanding.contract import Understanding
    from supportflow.workflows.cases import CaseSteps
    from supportflow.workflows.contract import InboundMessage
    from supportflow.workflows.plan import Plan
    from supportflow.workflows.versions import (
        PATCH_KNOWLEDGE,
        PATCH_PROCEDURES,
    )

# Requests the router answered itself; every other procedure ran as a case.
_ROUTER_PROCEDURES = frozenset({"order_status", "handoff"})


class LegacyTurns(CaseSteps):
    async def _serve_v0(self) -> None:
        """Before PATCH_LOCAL_READS: a fresh timer after every turn of a waiting case."""
        while not self._should_continue_as_new():
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

    def _moved_on(self, turns: int) -> Callable[[], bool]:
        """Wake the run loop when history needs continue-as-new or a turn has happened."""
        return lambda: self._should_continue_as_new() or self._s.turns != turns

    async def _act_by_typed_email(self, msg: InboundMessage, u: Understanding) -> Plan:
        """Before PATCH_TRUST: an email typed or sent identified the customer."""
        s = self._s
        intent = effective_intent(u, awaiting=s.awaiting, last_intent=s.last_intent)
        first_name: str | None = None
        for email in [msg.email, *u.entities.emails]:
            if email and email.strip().lower() != s.verified_email:
                ident = await self._calls.store_read(
                    StoreActivities.identify_customer,
                    IdentifyInput(tenant_id=self._inp.tenant_id, email=email),
                )
                if ident is None:
                    return Plan("store_unavailable", intent)
                if ident.store_user_id:
                    s.store_user_id = ident.store_user_id
                    s.verified_email = email.strip().lower()
                    first_name = ident.first_name
                    break
                if email in u.entities.emails:
                    return Plan("identity_not_found", intent)
        return await self._route(msg, u, intent, first_name)

    def _procedures_take(self, u: Understanding, text: str) -> bool:
        case = self._s.case
        if case is not None and case.is_open:
            return True
        wanted = procedure_for(u, text)
        return wanted is not None and wanted not in _ROUTER_PROCEDURES

    async def _route_by_router(
        self, msg: InboundMessage, u: Understanding, intent: str, first_name: str | None
    ) -> Plan:
        """Before PATCH_DISPATCH: the router answered what the procedures did not take."""
        s = self._s
        last_order = self._last_order()
        # Conversations recorded before procedures existed answered these turns with the
        # router ("noted, a person will reply"); `patched` keeps them replaying that way.
        if self._procedures_take(u, self._text) and self._version.since(PATCH_PROCEDURES):
            return await self._procedure_turn(u, intent, last_order)
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
            if self._version.since(PATCH_KNOWLEDGE):
                return await self._knowledge_turn(intent, decision.template)
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
            order = await self._calls.store_read(
                StoreActivities.lookup_order,
                LookupOrderInput(
                    tenant_id=self._inp.tenant_id,
                    order_id=decision.order_id,
                    store_user_id=user,
                ),
            )
            if order is None:
                return self._plan(decision, "store_unavailable", intent)
            if not order.found:
                return self._plan(
                    decision, "order_not_found", intent, {"order_id": decision.order_id}
                )
            s.pending_order_id = None
            facts |= {
                "order_id": order.order_id,
                "status": order.status,
                "items": [
                    f"{item.name} ({', '.join(item.options.values())})" for item in order.items
                ],
                "tracking_ids": order.tracking_ids,
            }
        return self._plan(decision, decision.template, intent, facts)

    @staticmethod
    def _plan(
        decision: Decision, template: str, intent: str, facts: dict[str, object] | None = None
    ) -> Plan:
        return Plan(
            template,
            intent,
            facts or {},
            records_case=decision.opens_case,
            order_id=decision.order_id,
        )
