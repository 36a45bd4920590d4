"""The models procedures share: a case's state, what a turn yields, and action plans.

Pure pydantic, no I/O: they cross the workflow boundary (stored in the conversation state,
carried across continue-as-new) and must serialise with the pydantic data converter.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from supportflow.policy.check import PolicyDecision
from supportflow.procedures.facts import Address
from supportflow.store.actions import PolicyAction, StoreAction

ProcedureName = Literal[
    "cancel",
    "modify_address",
    "modify_payment",
    "modify_items",
    "return",
    "exchange",
    "user_address",
    "order_status",
    "refund_status",
    "handoff",
]
# What the agent waits for after its reply; the workflow copies it to the conversation's
# `awaiting` (the understanding engine reads "confirm" to expect a yes or no).
Awaiting = Literal[
    "identity",
    "order_id",
    "cancel_reason",
    "items",
    "new_items",
    "payment_method",
    "address",
    "confirm",
    "approval",
    # A retention offer before a cancel (sales-v1 runs): yes keeps the order, no cancels.
    "offer",
]
CaseStep = Literal[
    "collecting",  # asking for details
    "confirming",  # summary shown, waiting for an explicit yes
    "approval",  # the customer said yes; an operator must approve
    "executing",  # the plan is running
    "done",
    "refused",  # a store rule or the policy said no
    "escalated",  # handed to a person
    "abandoned",  # the customer changed their mind, or never answered
]
OPEN_STEPS: frozenset[str] = frozenset({"collecting", "confirming", "approval", "executing"})
CancelReason = Literal["no longer needed", "ordered by mistake"]
RetentionKind = Literal["discount", "free_shipping", "exchange"]


class RetentionOffer(BaseModel):
    """The one offer a cancel case may make before its confirmation (sales-v1 runs; the
    tenant's ``sales.retention`` policy): what was offered and what became of it. A case has
    one at most, so the customer is never offered twice."""

    # None only when the customer refused offers before one was made.
    kind: RetentionKind | None = None
    percent: int | None = None
    # "refused": turned down before it was made ("cancel it, no offers"), so never made.
    status: Literal["asked", "accepted", "declined", "refused"] = "asked"
    # How many times the question was put (a second time, plainly, after an unclear answer).
    asks: int = 0
    asked_at: datetime | None = None


class CaseState(BaseModel):
    """One request inside a conversation, from first message to outcome."""

    case_id: str
    procedure: ProcedureName
    intent: str
    step: CaseStep = "collecting"
    awaiting: Awaiting | None = None
    opened_at: datetime
    # When the agent last asked the customer something; the confirmation timeout runs from here.
    waiting_since: datetime | None = None
    # Details collected so far.
    order_id: str | None = None
    reason: CancelReason | None = None
    item_ids: list[str] = Field(default_factory=list)
    new_item_ids: list[str] = Field(default_factory=list)
    payment_method_id: str | None = None
    address: Address | None = None
    # The facts of the summary the customer was asked to confirm: a yes only counts for
    # exactly this summary.
    confirmation: dict[str, Any] | None = None
    # Bumped each time a plan is made, and part of every idempotency key: a re-run after
    # "nothing changed, try again" must not replay the first attempt's answers.
    attempt: int = 0
    # A note from reading this turn (e.g. the variant asked for is sold out) for `check` to
    # answer; cleared after every turn.
    notice: dict[str, Any] | None = None
    # The policy rule that refused or escalated the case, for the audit log.
    rule_id: str | None = None
    # The verified identity that opened the case: only it may continue it (answer, confirm).
    owner: str | None = None
    # The retention offer of a cancel case (sales-v1 runs), once decided.
    offer: RetentionOffer | None = None

    @property
    def is_open(self) -> bool:
        return self.step in OPEN_STEPS


class ActionStep(BaseModel):
    """One store write of a saga. ``args`` are the activity input's own fields (the caller
    adds tenant, customer and the idempotency key)."""

    model_config = ConfigDict(frozen=True)

    name: str  # unique within a plan; names the idempotency key
    action: StoreAction
    args: dict[str, Any] = Field(default_factory=dict)
    # Undoes this step; must be idempotent and a no-op when the step never applied.
    compensation: ActionStep | None = None
    # Irreversible: once it succeeded, later failures cannot be compensated.
    pivot: bool = False


class ActionPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    action: PolicyAction
    attempt: int
    steps: list[ActionStep]


class ApprovalRequest(BaseModel):
    """What an operator is asked to approve; the workflow records it (audit, console)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    action: PolicyAction
    order_id: str | None
    rule_id: str
    summary: dict[str, Any]
    requested_at: datetime
    # --- the decision (operators, issue 12); defaults keep older records readable ----------
    status: Literal["pending", "approved", "denied", "expired"] = "pending"
    # Money the action moves (refund or charge): what an operator's approval limit is
    # checked against.
    amount: float | None = None
    escalated_at: datetime | None = None  # sent on to supervisors after no decision
    decided_by: str | None = None  # operator id, or "timeout"
    decided_at: datetime | None = None
    note: str | None = None

    @property
    def approval_id(self) -> str:
        """Stable and opaque: names the approval in the API without the workflow id."""
        return "ap_" + hashlib.sha256(self.case_id.encode()).hexdigest()[:24]


Outcome = Literal[
    "not_handled",  # no procedure for this turn: the router answers
    "continue",  # a question was asked; the case waits (see `awaiting`)
    "execute",  # run `plan` with run_saga, then call finish()
    "awaiting_approval",  # record `approval`, wait for an operator, then call approve()
    "retry_later",  # the store stopped answering mid-plan: run the same `plan` again later
    "saved",  # the customer took a retention offer: make its code, the order is kept
    "done",
    "refused",
    "escalated",
    "abandoned",
]


class StepResult(BaseModel):
    outcome: Outcome
    # The case after this turn (None only when not handled).
    state: CaseState | None = None
    template: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    awaiting: Awaiting | None = None
    plan: ActionPlan | None = None
    approval: ApprovalRequest | None = None
    # A case this turn dropped (the customer changed their mind): record it as abandoned.
    dropped: CaseState | None = None
    # Every policy decision made this turn, to log and audit (denials especially).
    policy: PolicyDecision | None = None
    # A retention offer answered this turn (sales-v1 runs): the case it belongs to, with the
    # offer's final status, for the sales record.
    retention: CaseState | None = None


def idempotency_key(workflow_id: str, case_id: str, step: str) -> str:
    """The store write's key: stable across activity retries and workflow replays, distinct
    per workflow, case and step. Long ids are hashed to fit the store's 255-char limit."""
    key = f"sf:{workflow_id}:{case_id}:{step}"
    if len(key) <= 200:
        return key
    return "sf:" + hashlib.sha256(key.encode()).hexdigest()
