"""Tenants' policies in the app database: validated when saved, defaults when absent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import PolicyGuardRow, TenantPolicyRow
from supportflow.policy.custom_actions import default_queue, foreign_queues
from supportflow.policy.guards import GuardEffect, effect_of, overlay
from supportflow.policy.hours import check_zone
from supportflow.policy.load import PolicyError, parse_policy
from supportflow.policy.model import TenantPolicy


class PolicyStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, tenant_id: str, *, guards: bool = True) -> TenantPolicy:
        with self._sessions() as s:
            row = s.get(TenantPolicyRow, tenant_id)
            policy = parse_policy(json.loads(row.document) if row else None)
            # --- management guards (issue 14): the active ones tighten what agents may do;
            # ``guards=False`` is the policy as the merchant wrote it (for editing it).
            return overlay(policy, _active_guards(s, tenant_id)) if guards else policy

    def stored(self, tenant_id: str) -> bool:
        """Whether the tenant has set a policy (else it runs on the defaults)."""
        with self._sessions() as s:
            return s.get(TenantPolicyRow, tenant_id) is not None

    def put(self, tenant_id: str, doc: Mapping[str, Any]) -> TenantPolicy:
        """Validate (PolicyError names what is wrong) and store; nothing changes on error."""
        policy = parse_policy(doc)
        zones = {
            "support_hours.timezone": policy.support_hours and policy.support_hours.timezone,
            "sales.quiet_hours.timezone": policy.sales.quiet_hours
            and policy.sales.quiet_hours.timezone,
        }
        foreign = foreign_queues(tenant_id, policy.custom_actions)
        if foreign:
            raise PolicyError(
                f"invalid tenant policy: custom_actions: {', '.join(foreign)}: a task queue must "
                f"be the tenant's own: {default_queue(tenant_id)!r} or a name under it "
                f"({default_queue(tenant_id)}.<suffix>)"
            )
        for where, zone in zones.items():
            try:
                if zone:
                    check_zone(zone)
            except ValueError as err:
                raise PolicyError(f"invalid tenant policy: {where}: {err}") from err
        document = policy.model_dump_json()
        with self._sessions.begin() as s:
            row = s.get(TenantPolicyRow, tenant_id)
            if row is None:
                s.add(TenantPolicyRow(tenant_id=tenant_id, document=document))
            else:
                row.document = document
        return policy


# --- management guards (issue 14) -----------------------------------------------------------------
def _active_guards(s: Session, tenant_id: str) -> list[GuardEffect]:
    rows = s.execute(
        select(PolicyGuardRow.effect, PolicyGuardRow.actions).where(
            PolicyGuardRow.tenant_id == tenant_id, PolicyGuardRow.lifted_at.is_(None)
        )
    ).all()
    return [e for e in (effect_of(effect, actions or []) for effect, actions in rows) if e]
