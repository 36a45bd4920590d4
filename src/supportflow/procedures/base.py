"""The procedure engine: one pure state machine per request, driven turn by turn.

Everything here is deterministic (no I/O, no clock, no randomness, no Temporal): the workflow
fetches facts with activities, passes the time in, and carries out what comes back. The
contract is typed, not prose: ``step`` (a customer turn), ``approve`` (an operator's answer)
and ``finish`` (after ``run_saga``) return a ``StepResult`` whose ``outcome`` is one of the
closed set ``procedures.case.Outcome``; CustomerWorkflow handles each outcome in one
exhaustive ``match`` (mypy checks it with ``assert_never``). ``deadline``/``on_timeout`` time
out a case that waits for the customer.

Over 400 lines on purpose: it is one state machine. ``step``, ``approve``, ``finish`` and
``on_timeout`` are its transitions and share the private helpers below (``_advance``, ``_ask``,
``_closed``); split across modules they would import each other's internals.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from supportflow.policy.check import ActionFacts, PolicyDecision, check
from supportflow.policy.model import TenantPolicy
from supportflow.procedures.address import UserAddress
from supportflow.procedures.cancel import Cancel
from supportflow.procedures.case import (
    ActionPlan,
    ActionStep,
    ApprovalRequest,
    Awaiting,
    CaseState,
    CaseStep,
    ProcedureName,
    RetentionOffer,
    StepResult,
    idempotency_key,
)
from supportflow.procedures.consent import consent
from supportflow.procedures.facts import CaseFacts
from supportflow.procedures.flow import Procedure, Prompt, Turn
from supportflow.procedures.info import Handoff, OrderStatus, RefundStatus
from supportflow.procedures.intents import procedure_for
from supportflow.procedures.modify import ModifyAddress, ModifyItems, ModifyPayment
from supportflow.procedures.retention import (
    MAX_ASKS,
    offer_facts,
    offer_for,
    refuses_offers,
)
from supportflow.procedures.retention import answer as offer_answer
from supportflow.procedures.retention import asked as offer_asked
from supportflow.procedures.returns import Exchange, Return
from supportflow.procedures.saga import SagaOutcome
from supportflow.store.actions import StoreAction
from supportflow.understanding.contract import Understanding

__all__ = [
    "ActionPlan",
    "ActionStep",
    "CaseFacts",
    "CaseState",
    "StepResult",
    "approve",
    "deadline",
    "finish",
    "idempotency_key",
    "on_timeout",
    "order_id_to_fetch",
    "procedure_for",
    "step",
]

PROCEDURES: dict[ProcedureName, Procedure] = {
    p.name: p
    for p in (
        Cancel(),
        ModifyAddress(),
        ModifyPayment(),
        ModifyItems(),
        Return(),
        Exchange(),
        UserAddress(),
        OrderStatus(),
        RefundStatus(),
        Handoff(),
    )
}
DONE_TEMPLATES: dict[ProcedureName, str] = {
    "cancel": "cancel_done",
    "modify_address": "modify_address_done",
    "modify_payment": "modify_payment_done",
    "modify_items": "modify_items_done",
    "return": "return_done",
    "exchange": "exchange_done",
    "user_address": "user_address_done",
}
# The store actions each procedure's plans may use (each procedure declares its own).
REQUIRED_ACTIONS: dict[ProcedureName, tuple[StoreAction, ...]] = {
    name: proc.store_actions for name, proc in PROCEDURES.items() if proc.store_actions
}
# Denials a person can still help with go to a person; the others are final.
_ESCALATING_RULES = frozenset({"action_not_allowed", "refund_above_limit"})
_DETAILS = {"order_id", "reason", "item_ids", "new_item_ids", "payment_method_id", "address"}


def order_id_to_fetch(
    state: CaseState | None, u: Understanding, last_order_id: str | None
) -> str | None:
    """The order whose facts the workflow loads before calling ``step``."""
    if u.entities.order_ids:
        return u.entities.order_ids[0]
    if state is not None and state.is_open:
        return state.order_id
    return last_order_id


def step(
    state: CaseState | None,
    u: Understanding,
    facts: CaseFacts,
    *,
    policy: TenantPolicy,
    now: datetime,
    new_case_id: str,
    text: str = "",
    strict_consent: bool = True,
    wanted: ProcedureName | None = None,
    offers: bool = False,
    restated_yes: bool = False,
) -> StepResult:
    """One customer turn. ``state`` is the conversation's current case (open or not).

    ``wanted`` is the procedure the dispatcher chose for a turn with no open case (the
    dispatcher classifies once); without it, the understanding's. ``strict_consent=False``
    keeps the understanding's "confirm" alone as a yes: only for conversations recorded
    before the consent gate, so their histories replay. ``offers``: a cancel may make the
    tenant's retention offer before its confirmation (sales-v1 runs; retention.py).
    ``restated_yes``: a plain yes that restates the case's own request ("yes please cancel
    it", read as a cancel request) confirms it too (sales-agent-v1 runs)."""
    turn = Turn(understanding=u, text=text, now=now)
    active = state if state is not None and state.is_open else None
    if (active is None and wanted is None) or active is not None:
        wanted = procedure_for(u, text)
    if active is None:
        if wanted is None:
            return StepResult(outcome="not_handled")
        return _open(wanted, turn, facts, policy, new_case_id, offers=offers)
    proc = PROCEDURES[active.procedure]
    if active.step == "executing":
        return StepResult(
            outcome="continue",
            state=active,
            template="action_in_progress",
            facts={"action": proc.phrase(active)},
        )
    if active.awaiting == "offer" and active.offer is not None and wanted != "handoff":
        # Read before "decline": a no to the offer goes on to the cancel, it drops nothing.
        return _answer_offer(active, turn, facts, policy, new_case_id, wanted)
    if u.intent == "decline" or wanted == "handoff":
        dropped = _closed(active, "abandoned")
        if wanted == "handoff":
            return _open("handoff", turn, facts, policy, new_case_id, dropped=dropped)
        return StepResult(
            outcome="abandoned",
            state=dropped,
            template="case_abandoned",
            facts={"action": proc.phrase(active)},
        )
    absorbed = _absorb(active, turn, facts)
    if offers:
        absorbed = _note_refusal(absorbed, turn)
    supplied = _details(absorbed) != _details(active)
    if wanted is not None and wanted != active.procedure and not supplied:
        return _open(
            wanted,
            turn,
            facts,
            policy,
            new_case_id,
            dropped=_closed(active, "abandoned"),
            offers=offers,
        )
    if active.step == "approval" and not supplied:
        return StepResult(
            outcome="awaiting_approval",
            state=active,
            template="approval_pending",
            facts={"action": proc.phrase(active)},
            awaiting="approval",
        )
    # Strict consent (consent.py): only a plain yes to the question just asked confirms.
    # Anything else that neither declines nor changes a detail gets the same question again,
    # prefaced in plain words; ``unclear`` carries the reason label (never the text).
    answering = active.step == "confirming" and not supplied
    verdict = consent(text, action=active.procedure)
    if not strict_consent:
        return _advance(absorbed, facts, policy, now, confirmed=answering and u.intent == "confirm")
    restates = restated_yes and u.intent == active.intent
    plain_yes = (u.intent == "confirm" or restates) and verdict.kind == "yes"
    result = _advance(
        absorbed, facts, policy, now, confirmed=answering and plain_yes, offers=offers
    )
    if answering and not plain_yes and result.awaiting == "confirm":
        unclear = verdict.reason if verdict.kind != "yes" else "not_understood"
        result = result.model_copy(update={"facts": {**result.facts, "unclear": unclear}})
    return result


def approve(
    state: CaseState,
    facts: CaseFacts,
    *,
    approved: bool,
    policy: TenantPolicy,
    now: datetime,
) -> StepResult:
    """An operator's answer to ``StepResult.approval``. Facts are fetched afresh: if the
    order changed meanwhile, the customer is asked to confirm the new summary."""
    if state.step != "approval":
        return StepResult(outcome="continue", state=state, awaiting=state.awaiting)
    proc = PROCEDURES[state.procedure]
    if not approved:
        return StepResult(
            outcome="refused",
            state=_closed(state, "refused"),
            template="approval_denied",
            facts={"action": proc.phrase(state)},
        )
    return _advance(state, facts, policy, now, confirmed=True, approved=True)


def finish(
    state: CaseState, plan: ActionPlan, outcome: SagaOutcome, *, now: datetime
) -> StepResult:
    """The reply once ``run_saga`` has run ``plan``."""
    proc = PROCEDURES[state.procedure]
    summary: dict[str, Any] = dict(state.confirmation or {})
    action = {"action": proc.phrase(state)}
    if outcome.status == "completed":
        return StepResult(
            outcome="done",
            state=_closed(state, "done"),
            template=DONE_TEMPLATES[state.procedure],
            facts=summary,
        )
    if outcome.status == "interrupted":
        return StepResult(
            outcome="retry_later", state=state, template="action_delayed", facts=action, plan=plan
        )
    if outcome.status == "compensated":
        if outcome.failure is not None and outcome.failure.status == "unavailable":
            # Nothing changed; the customer may say yes again once the store is back.
            retry = state.model_copy(
                update={"step": "confirming", "awaiting": "confirm", "waiting_since": now}
            )
            return StepResult(
                outcome="continue",
                state=retry,
                template="action_store_down",
                facts=action,
                awaiting="confirm",
            )
        return StepResult(
            outcome="escalated",
            state=_closed(state, "escalated"),
            template="action_failed",
            facts=action,
        )
    return StepResult(
        outcome="escalated",
        state=_closed(state, "escalated"),
        template="action_incomplete",
        facts=action,
    )


def deadline(state: CaseState | None, policy: TenantPolicy) -> datetime | None:
    """When an open case waiting for the customer gives up (None: not waiting on them)."""
    if state is None or not state.is_open or state.waiting_since is None:
        return None
    if state.awaiting is None or state.awaiting == "approval":
        return None
    return state.waiting_since + policy.confirmation_timeout


def on_timeout(state: CaseState) -> StepResult:
    """The customer never answered: close politely, nothing done."""
    return StepResult(
        outcome="abandoned",
        state=_closed(state, "abandoned"),
        template="case_timed_out",
        facts={"action": PROCEDURES[state.procedure].phrase(state)},
    )


# -- the engine -----------------------------------------------------------------------------


def _open(
    name: ProcedureName,
    turn: Turn,
    facts: CaseFacts,
    policy: TenantPolicy,
    case_id: str,
    *,
    dropped: CaseState | None = None,
    offers: bool = False,
) -> StepResult:
    proc = PROCEDURES[name]
    state = CaseState(
        case_id=case_id,
        procedure=name,
        intent=turn.understanding.intent,
        opened_at=turn.now,
        order_id=facts.order_id_requested if proc.needs_order else None,
    )
    state = proc.absorb(state, turn, facts)
    if offers:
        state = _note_refusal(state, turn)
    result = _advance(state, facts, policy, turn.now, confirmed=False, offers=offers)
    return result.model_copy(update={"dropped": dropped})


def _absorb(state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
    proc = PROCEDURES[state.procedure]
    mentioned = turn.understanding.entities.order_ids
    if proc.needs_order and mentioned and mentioned[0] != state.order_id:
        # Another order: details chosen for the old one no longer apply.
        state = state.model_copy(
            update={
                "order_id": mentioned[0],
                "item_ids": [],
                "new_item_ids": [],
                "payment_method_id": None,
            }
        )
    return proc.absorb(state, turn, facts)


def _details(state: CaseState) -> dict[str, Any]:
    return {**state.model_dump(include=_DETAILS), "notice": state.notice}


def _advance(
    state: CaseState,
    facts: CaseFacts,
    policy: TenantPolicy,
    now: datetime,
    *,
    confirmed: bool,
    approved: bool = False,
    offers: bool = False,
) -> StepResult:
    proc = PROCEDURES[state.procedure]
    if facts.user is None and state.procedure != "handoff":
        return _ask(state, Prompt("ask_identity", {}, awaiting="identity"), now)
    if not all(map(facts.supports, REQUIRED_ACTIONS.get(state.procedure, ()))):
        return _unsupported(state)
    if proc.needs_order:
        if state.order_id is None:
            return _ask(state, Prompt("ask_order_id", {}, awaiting="order_id"), now)
        if facts.order is None or facts.order.order_id != state.order_id:
            missing = state.order_id
            return _ask(
                state.model_copy(update={"order_id": None}),
                Prompt("order_not_found", {"order_id": missing}, awaiting="order_id"),
                now,
            )
    state, prompt = proc.check(state, facts)
    if prompt is not None:
        if prompt.awaiting is not None:
            return _ask(state, prompt, now)
        return StepResult(
            outcome=prompt.closes_as,
            state=_closed(state, prompt.closes_as),
            template=prompt.template,
            facts=prompt.facts,
        )
    proposal = proc.propose(state, facts)
    if not all(map(facts.supports, _plan_actions(proposal.steps))):
        return _unsupported(state)
    decision = check(
        policy,
        proposal.action,
        ActionFacts(
            refund_amount=proposal.refund_amount,
            charge_amount=proposal.charge_amount,
            order_age_days=_age_days(facts, now),
        ),
    )
    if decision.verdict == "denied":
        closes: Closed = "escalated" if decision.rule_id in _ESCALATING_RULES else "refused"
        return StepResult(
            outcome="escalated" if closes == "escalated" else "refused",
            state=_closed(state, closes).model_copy(update={"rule_id": decision.rule_id}),
            template="policy_denied",
            facts={
                "action": proc.phrase(state),
                "reason": decision.reason_for_customer,
                "escalated": closes == "escalated",
            },
            policy=decision,
        )
    summary = {**proposal.summary, "needs_approval": decision.verdict == "needs_approval"}
    if not confirmed or state.confirmation != summary:
        offer = offer_for(state, facts, policy) if offers else None
        if offer is not None:
            # The tenant's one retention offer, before the confirmation (retention.py).
            offering = state.model_copy(update={"offer": offer_asked(offer, now)})
            return _ask(
                offering,
                Prompt("retention_offer", offer_facts(offering), awaiting="offer"),
                now,
                policy=decision,
            )
        asking = state.model_copy(update={"step": "confirming", "confirmation": summary})
        return _ask(
            asking,
            Prompt(proposal.confirm_template, summary, awaiting="confirm"),
            now,
            policy=decision,
        )
    if decision.verdict == "needs_approval" and not approved:
        amount = max(proposal.refund_amount, proposal.charge_amount) or None
        return _await_approval(state, proposal.action, decision, now, amount=amount)
    attempt = state.attempt + 1
    running = state.model_copy(
        update={
            "step": "executing",
            "awaiting": None,
            "waiting_since": None,
            "attempt": attempt,
            "notice": None,
        }
    )
    return StepResult(
        outcome="execute",
        state=running,
        plan=ActionPlan(
            case_id=state.case_id, action=proposal.action, attempt=attempt, steps=proposal.steps
        ),
        policy=decision,
    )


def _note_refusal(state: CaseState, turn: Turn) -> CaseState:
    """A cancel whose customer turned offers down before one was made gets none."""
    if state.procedure != "cancel" or state.offer is not None or not refuses_offers(turn.text):
        return state
    return state.model_copy(update={"offer": RetentionOffer(status="refused")})


def _answer_offer(
    active: CaseState,
    turn: Turn,
    facts: CaseFacts,
    policy: TenantPolicy,
    new_case_id: str,
    wanted: ProcedureName | None,
) -> StepResult:
    """The customer's answer to the retention offer. Yes keeps the order; no (or insisting)
    goes straight on to the cancel's confirmation; an unclear answer is asked once more,
    plainly, and a second one is taken as no. Another request drops the cancel, as it would
    any open case."""
    offer = active.offer
    assert offer is not None
    said = offer_answer(turn.text, turn.understanding)
    if said == "unclear" and wanted is not None and wanted != active.procedure:
        dropped = _closed(active, "abandoned")
        return _open(wanted, turn, facts, policy, new_case_id, dropped=dropped)
    if said == "unclear" and offer.asks < MAX_ASKS:
        again = active.model_copy(update={"offer": offer_asked(offer, turn.now)})
        return _ask(
            again,
            Prompt("retention_offer", offer_facts(again, unclear=True), awaiting="offer"),
            turn.now,
        )
    if said == "yes":
        return _take_offer(active, turn, facts, policy, new_case_id)
    declined = active.model_copy(update={"offer": offer.model_copy(update={"status": "declined"})})
    result = _advance(_absorb(declined, turn, facts), facts, policy, turn.now, confirmed=False)
    return result.model_copy(update={"retention": declined})


def _take_offer(
    active: CaseState, turn: Turn, facts: CaseFacts, policy: TenantPolicy, new_case_id: str
) -> StepResult:
    """The order is kept. A code offer closes the case as a save (the workflow makes the
    code); an exchange goes on as a change of the order's items, a case of its own."""
    offer = active.offer
    assert offer is not None
    kept = _closed(
        active.model_copy(update={"offer": offer.model_copy(update={"status": "accepted"})}),
        "done",
    )
    if offer.kind == "exchange":
        u = turn.understanding.model_copy(update={"intent": "modify_order_items"})
        change = _open("modify_items", replace(turn, understanding=u), facts, policy, new_case_id)
        return change.model_copy(
            update={"dropped": kept, "retention": kept, "facts": {**change.facts, "kept": True}}
        )
    return StepResult(
        outcome="saved",
        state=kept,
        template="retention_saved",
        facts=offer_facts(kept),
        retention=kept,
    )


def _unsupported(state: CaseState) -> StepResult:
    """The tenant's store cannot do this: a person takes it, nothing is promised or done."""
    return StepResult(
        outcome="escalated",
        state=_closed(state, "escalated"),
        template="action_unsupported",
        facts={"action": PROCEDURES[state.procedure].phrase(state)},
    )


def _plan_actions(steps: list[ActionStep]) -> list[StoreAction]:
    actions: list[StoreAction] = []
    for s in steps:
        actions.append(s.action)
        if s.compensation is not None:
            actions.append(s.compensation.action)
    return actions


def _await_approval(
    state: CaseState,
    action: Any,
    decision: PolicyDecision,
    now: datetime,
    *,
    amount: float | None,
) -> StepResult:
    waiting = state.model_copy(
        update={
            "step": "approval",
            "awaiting": "approval",
            "waiting_since": now,
            "rule_id": decision.rule_id,
            "notice": None,
        }
    )
    return StepResult(
        outcome="awaiting_approval",
        state=waiting,
        template="approval_requested",
        facts={
            "action": PROCEDURES[state.procedure].phrase(state),
            "reason": decision.reason_for_customer,
        },
        awaiting="approval",
        approval=ApprovalRequest(
            case_id=state.case_id,
            action=action,
            order_id=state.order_id,
            rule_id=decision.rule_id,
            summary=state.confirmation or {},
            requested_at=now,
            amount=amount,
        ),
        policy=decision,
    )


def _ask(
    state: CaseState, prompt: Prompt, now: datetime, *, policy: PolicyDecision | None = None
) -> StepResult:
    awaiting: Awaiting | None = prompt.awaiting
    step_name: CaseStep = "confirming" if awaiting == "confirm" else "collecting"
    asking = state.model_copy(
        update={
            "step": step_name,
            "awaiting": awaiting,
            "waiting_since": now,
            "notice": None,
            "confirmation": state.confirmation if awaiting == "confirm" else None,
        }
    )
    return StepResult(
        outcome="continue",
        state=asking,
        template=prompt.template,
        facts=prompt.facts,
        awaiting=awaiting,
        policy=policy,
    )


Closed = Literal["done", "refused", "escalated", "abandoned"]


def _closed(state: CaseState, how: Closed) -> CaseState:
    return state.model_copy(
        update={"step": how, "awaiting": None, "waiting_since": None, "notice": None}
    )


def _age_days(facts: CaseFacts, now: datetime) -> float | None:
    order = facts.order
    if order is None or order.placed_at is None:
        return None
    return (now - order.placed_at).total_seconds() / 86400
