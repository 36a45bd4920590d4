"""The one gate every action passes: pure, so workflows call it before each action."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from supportflow.policy.model import AgentName, TenantPolicy
from supportflow.store.actions import PolicyAction

Verdict = Literal["allowed", "denied", "needs_approval"]


class ActionFacts(BaseModel):
    """What the policy needs to know about one proposed action."""

    model_config = ConfigDict(frozen=True)

    agent: AgentName = "support"
    refund_amount: float = Field(default=0.0, ge=0)
    charge_amount: float = Field(default=0.0, ge=0)
    # Days since the order was placed; None when the store does not say (the demo store).
    order_age_days: float | None = None


class PolicyDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    action: PolicyAction
    # Machine-readable rule for the audit log, e.g. "refund_above_limit".
    rule_id: str
    # Plain words, safe to show the customer ("" when allowed).
    reason_for_customer: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict == "allowed"


def check(policy: TenantPolicy, action: PolicyAction, facts: ActionFacts) -> PolicyDecision:
    """Decide one action. Denials come before approvals: no operator is asked to approve what
    the merchant has ruled out."""

    def decide(verdict: Verdict, rule_id: str, reason: str = "") -> PolicyDecision:
        return PolicyDecision(
            verdict=verdict, action=action, rule_id=rule_id, reason_for_customer=reason
        )

    if not policy.allows(facts.agent, action):
        return decide(
            "denied",
            "action_not_allowed",
            "this is something I'm not able to do myself; a member of our team can help.",
        )
    age_limit = policy.max_order_age_days.get(action)
    if age_limit is not None:
        if facts.order_age_days is None:
            return decide(
                "needs_approval",
                "order_age_unknown",
                "a member of our team needs to check the order's date first.",
            )
        if facts.order_age_days > age_limit:
            return decide(
                "denied",
                "order_too_old",
                f"this can only be done within {age_limit} days of ordering, and this order "
                "is older than that.",
            )
    if policy.max_auto_refund is not None and facts.refund_amount > policy.max_auto_refund:
        return decide(
            "denied",
            "refund_above_limit",
            "the refund is larger than I'm allowed to make on my own; a member of our team "
            "will take it from here.",
        )
    if action in policy.approval_required:
        return decide(
            "needs_approval",
            "approval_required_for_action",
            "a member of our team has to approve this first.",
        )
    moved = max(facts.refund_amount, facts.charge_amount)
    if policy.approval_above is not None and moved > policy.approval_above:
        return decide(
            "needs_approval",
            "approval_above_threshold",
            "because of the amount, a member of our team has to approve this first.",
        )
    return decide("allowed", "allowed")
