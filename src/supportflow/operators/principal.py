"""Who is asking: an operator (by personal token or console session) or the merchant's API
key. Resolved once per request (api/deps.py); every permission check asks it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from supportflow.operators.permissions import Permission, Role, allows, may_approve


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    kind: Literal["operator", "api_key"]
    operator_id: str | None  # None for the API key
    role: Role
    approval_limit: Decimal | None
    # The console session this request came with (its row id), None for a token or a key:
    # logout and a password change end it or keep it.
    session_ref: str | None = None

    @classmethod
    def api_key(cls, tenant_id: str) -> Principal:
        """The merchant's API key: automation with admin rights."""
        return cls(tenant_id, "api_key", None, Role.ADMIN, None)

    @property
    def actor(self) -> str:
        """How an audit entry names who acted."""
        return f"operator:{self.operator_id}" if self.operator_id else "api_key"

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    def may_approve(self, amount: Decimal | None) -> bool:
        return may_approve(self.role, self.approval_limit, amount)
