"""Activities reading tenant configuration from the app database."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from supportflow.policy.model import TenantPolicy
from supportflow.policy.store import PolicyStore


class LoadPolicyInput(BaseModel):
    tenant_id: str


class TenantActivities:
    def __init__(self, policies: PolicyStore) -> None:
        self._policies = policies

    # Sync: a database read, run in the worker's thread pool.
    @activity.defn(name="load_policy")
    def load_policy(self, inp: LoadPolicyInput) -> TenantPolicy:
        return self._policies.get(inp.tenant_id)
