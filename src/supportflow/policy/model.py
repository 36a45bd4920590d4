"""The policy a tenant sets for its agents. Defaults are the store rules of DESIGN §4."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supportflow.policy.custom_actions import CustomActionRule, check_action_names
from supportflow.policy.hours import SupportHours
from supportflow.policy.sales import SalesPolicy
from supportflow.store.actions import POLICY_ACTIONS, PolicyAction

# Every store write a policy rule governs (``store.actions``).
ALL_ACTIONS: frozenset[PolicyAction] = POLICY_ACTIONS

AgentName = Literal["support", "sales", "management"]

Money = float


def _default_agents() -> dict[AgentName, frozenset[PolicyAction]]:
    return {"support": ALL_ACTIONS, "sales": frozenset()}


class TenantPolicy(BaseModel):
    """One tenant's rules. Unknown keys are refused so that a misspelt limit never silently
    falls back to "no limit"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    # Which actions each agent may take on its own. DESIGN §4: the support agent does them all.
    agents: dict[AgentName, frozenset[PolicyAction]] = Field(default_factory=_default_agents)
    # The largest refund an agent makes without a person; above it the case goes to a human.
    # None: no limit (the DESIGN §4 default, as in tau2-bench).
    max_auto_refund: Money | None = Field(default=None, ge=0)
    # Money moved (refund or extra charge) above this needs an operator's approval first.
    approval_above: Money | None = Field(default=None, ge=0)
    # Actions that always need an operator's approval, whatever the amount.
    approval_required: frozenset[PolicyAction] = frozenset()
    # Per action, the oldest order (days since it was placed) an agent may act on alone.
    max_order_age_days: dict[PolicyAction, int] = Field(default_factory=dict)
    # How long a case waits for the customer's answer (a detail or the explicit yes) before it
    # closes politely.
    confirmation_timeout: timedelta = timedelta(hours=24)
    # Let an unverified customer who gives an order number *and* the email on that order hear
    # its status and tracking (nothing else: no address, items or payment). Off by default:
    # both can be on a stolen receipt.
    status_by_order_email: bool = False
    # --- people behind the agents ---------------------------------------------------------
    # When the tenant's people answer (None: no hours set, and no time is promised).
    support_hours: SupportHours | None = None
    # An approval nobody decided goes to supervisors after this long, and after twice this
    # long it is denied politely and the conversation handed to a person.
    approval_timeout: timedelta = timedelta(hours=4)
    # A store write interrupted mid-plan (the store stopped answering) is retried with the
    # same idempotency keys until this long after it began, then handed to a person.
    action_retry_deadline: timedelta = timedelta(hours=2)
    # A handed-over conversation's first answer by a person, and its resolution, are due
    # within these (durable timers; a breach shows as "sla" in the inbox).
    sla_first_response: timedelta = timedelta(hours=1)
    sla_resolution: timedelta = timedelta(hours=24)
    # --- sales (issue 14) -------------------------------------------------------------------
    sales: SalesPolicy = SalesPolicy()
    # --- custom actions (issue 16) -----------------------------------------------------------
    # The merchant's own actions (a loyalty balance, a warranty check) the agents may call, by
    # name; none by default. policy/custom_actions.py.
    custom_actions: dict[str, CustomActionRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> TenantPolicy:
        if (
            self.approval_above is not None
            and self.max_auto_refund is not None
            and self.approval_above > self.max_auto_refund
        ):
            raise ValueError(
                "approval_above must not exceed max_auto_refund: refunds between them could "
                "never be approved automatically"
            )
        for action, days in self.max_order_age_days.items():
            if days < 1:
                raise ValueError(f"max_order_age_days[{action}] must be at least 1")
        if self.confirmation_timeout <= timedelta(0):
            raise ValueError("confirmation_timeout must be positive")
        if self.confirmation_timeout > timedelta(days=30):
            raise ValueError("confirmation_timeout must be at most 30 days")
        for name in ("approval_timeout", "action_retry_deadline", "sla_first_response"):
            value: timedelta = getattr(self, name)
            if not timedelta(minutes=1) <= value <= timedelta(days=30):
                raise ValueError(f"{name} must be between 1 minute and 30 days")
        if not self.sla_first_response <= self.sla_resolution <= timedelta(days=90):
            raise ValueError("sla_resolution must be at least sla_first_response, at most 90 days")
        check_action_names(self.custom_actions)
        return self

    def allows(self, agent: AgentName, action: PolicyAction) -> bool:
        return action in self.agents.get(agent, frozenset())


DEFAULT_POLICY = TenantPolicy()
