"""Tenant policy: what agents may do, money limits and approvals, checked in code before every
action. A model may propose an action; only this decides whether it runs."""

from supportflow.policy.check import ActionFacts, PolicyDecision, check
from supportflow.policy.load import PolicyError, load_policy, parse_policy
from supportflow.policy.model import AgentName, TenantPolicy
from supportflow.store.actions import PolicyAction

__all__ = [
    "ActionFacts",
    "AgentName",
    "PolicyAction",
    "PolicyDecision",
    "PolicyError",
    "TenantPolicy",
    "check",
    "load_policy",
    "parse_policy",
]
