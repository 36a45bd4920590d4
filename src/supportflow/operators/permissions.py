"""Who may do what: the one table of roles and permissions, and approval limits.

Every check on the server goes through here (`Principal.can`, `may_approve`), so a role's
rights are read in one place. The merchant's API key acts as an admin.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
    REPLY = "reply"
    TAKE_OVER = "take_over"
    APPROVE = "approve"
    EDIT_POLICY = "edit_policy"
    EDIT_TEMPLATES = "edit_templates"
    EDIT_KNOWLEDGE = "edit_knowledge"
    MANAGE_OPERATORS = "manage_operators"
    MANAGE_KEYS = "manage_keys"
    READ_INBOX = "read_inbox"
    READ_AUDIT = "read_audit"


_AGENT = frozenset(
    {Permission.READ_INBOX, Permission.REPLY, Permission.TAKE_OVER, Permission.APPROVE}
)
# Supervisors look after the wording and what agents quote; money limits (the policy),
# people and keys stay with admins.
_SUPERVISOR = _AGENT | {Permission.EDIT_TEMPLATES, Permission.EDIT_KNOWLEDGE, Permission.READ_AUDIT}
_ADMIN = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: _AGENT,
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.ADMIN: _ADMIN,
}

# Larger than any order; keeps a limit a plain NUMERIC(12, 2) on every database.
MAX_APPROVAL_LIMIT = Decimal("9999999999.99")


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def may_approve(role: Role, approval_limit: Decimal | None, amount: Decimal | None) -> bool:
    """Whether this role and limit may approve an action moving ``amount`` (None: no money).

    Admins approve any amount. A supervisor without a limit approves any amount, with one up
    to it. An agent approves up to its limit; an agent without a limit approves only actions
    that move no money (amount None or 0).
    """
    if not allows(role, Permission.APPROVE):
        return False
    if role is Role.ADMIN:
        return True
    due = amount if amount is not None else Decimal(0)
    if approval_limit is None:
        return role is Role.SUPERVISOR or due <= 0
    return due <= approval_limit


def check_approval_limit(role: Role, limit: Decimal | None) -> Decimal | None:
    """The limit to store for an operator of ``role``; ValueError says what is wrong."""
    if limit is None:
        return None
    if role is Role.ADMIN:
        raise ValueError("an admin approves any amount: leave the approval limit out")
    if not limit.is_finite() or limit < 0 or limit > MAX_APPROVAL_LIMIT:
        raise ValueError(f"the approval limit must be between 0 and {MAX_APPROVAL_LIMIT}")
    if limit != limit.quantize(Decimal("0.01")):
        raise ValueError("the approval limit has at most two decimal places")
    return limit.quantize(Decimal("0.01"))
