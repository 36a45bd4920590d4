"""Guards on a tenant's policy: tightenings the management agent made on its own (a refund
spike, a burst of store errors) until a person lifts them. ``overlay`` applies the active
ones to the tenant's policy, so every decision made afterwards sees them (PolicyStore.get).

Pure: the guards are read from the app database by policy/store.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from supportflow.policy.model import ALL_ACTIONS, TenantPolicy
from supportflow.store.actions import PolicyAction, StoreAction

GuardEffectKind = Literal["require_approval", "pause"]
GUARD_EFFECTS: frozenset[str] = frozenset(get_args(GuardEffectKind))

# Every action that can move money back to a customer: a cancel (its saga refunds), a return,
# and the item changes that refund a price difference.
REFUND_ACTIONS: frozenset[PolicyAction] = frozenset(
    {
        StoreAction.CANCEL_ORDER,
        StoreAction.RETURN_ORDER_ITEMS,
        StoreAction.EXCHANGE_ORDER_ITEMS,
        StoreAction.MODIFY_ORDER_ITEMS,
    }
)
# Store writes that are steps of a governed plan, by the plan a policy rule names.
_PLAN_OF_STEP: dict[str, PolicyAction] = {
    StoreAction.HOLD_ORDER.value: StoreAction.CANCEL_ORDER,
    StoreAction.RELEASE_ORDER.value: StoreAction.CANCEL_ORDER,
    StoreAction.REFUND_ORDER.value: StoreAction.CANCEL_ORDER,
}
_BY_VALUE: dict[str, PolicyAction] = {a.value: a for a in ALL_ACTIONS}


@dataclass(frozen=True)
class GuardEffect:
    effect: GuardEffectKind
    actions: frozenset[PolicyAction]


def policy_actions_of(names: Iterable[str]) -> frozenset[PolicyAction]:
    """The governed actions behind store writes named by value (a refund step is its cancel
    plan); every governed action when none is known (the errors did not say which)."""
    found: set[PolicyAction] = set()
    for name in names:
        action = _BY_VALUE.get(name) or _PLAN_OF_STEP.get(name)
        if action is not None:
            found.add(action)
    return frozenset(found) if found else ALL_ACTIONS


def effect_of(effect: str, actions: Iterable[str]) -> GuardEffect | None:
    """A stored guard's effect; None for one this version does not know (never guessed)."""
    if effect not in GUARD_EFFECTS:
        return None
    known = frozenset(_BY_VALUE[a] for a in actions if a in _BY_VALUE)
    return GuardEffect("require_approval" if effect == "require_approval" else "pause", known)


def overlay(policy: TenantPolicy, effects: Iterable[GuardEffect]) -> TenantPolicy:
    """``policy`` tightened by every effect: approvals added, paused actions removed from every
    agent's allowed set. Only ever stricter; the same policy object when there is nothing."""
    approval: set[PolicyAction] = set(policy.approval_required)
    paused: set[PolicyAction] = set()
    for e in effects:
        if e.effect == "require_approval":
            approval |= e.actions
        else:
            paused |= e.actions
    if approval == set(policy.approval_required) and not paused:
        return policy
    agents = {name: frozenset(allowed - paused) for name, allowed in policy.agents.items()}
    return policy.model_copy(update={"approval_required": frozenset(approval), "agents": agents})
