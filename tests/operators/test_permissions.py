"""The roles table and approval limits (operators/permissions.py), checked against what the
issue asks: agents up to their limit, supervisors up to theirs or any amount without one,
admins (and the API key) any amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from supportflow.operators.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    check_approval_limit,
    may_approve,
)
from supportflow.operators.principal import Principal

D = Decimal


def test_roles_grow_from_agent_to_admin() -> None:
    agent, supervisor, admin = (ROLE_PERMISSIONS[r] for r in Role)
    assert agent < supervisor < admin == frozenset(Permission)
    assert agent == {
        Permission.READ_INBOX,
        Permission.REPLY,
        Permission.TAKE_OVER,
        Permission.APPROVE,
    }
    # Money limits (the policy), people and keys stay with admins.
    for kept in (Permission.EDIT_POLICY, Permission.MANAGE_OPERATORS, Permission.MANAGE_KEYS):
        assert kept not in supervisor
    assert Principal.api_key("t_1").can(Permission.MANAGE_KEYS)


@pytest.mark.parametrize(
    ("role", "limit", "amount", "allowed"),
    [
        (Role.AGENT, D("50"), D("50"), True),
        (Role.AGENT, D("50"), D("50.01"), False),
        (Role.AGENT, None, D("0.01"), False),  # an agent without a limit moves no money
        (Role.AGENT, None, None, True),  # ... but approves what moves none
        (Role.SUPERVISOR, D("200"), D("200.01"), False),
        (Role.SUPERVISOR, D("200"), D("199"), True),
        (Role.SUPERVISOR, None, D("100000"), True),
        (Role.ADMIN, None, D("100000"), True),
    ],
)
def test_approval_limits(
    role: Role, limit: Decimal | None, amount: Decimal | None, allowed: bool
) -> None:
    assert may_approve(role, limit, amount) is allowed
    principal = Principal("t_1", "operator", "op_1", role, limit)
    assert principal.may_approve(amount) is allowed


@pytest.mark.parametrize(
    ("role", "limit", "error"),
    [
        (Role.ADMIN, D("10"), "leave the approval limit out"),
        (Role.AGENT, D("-1"), "between 0 and"),
        (Role.AGENT, D("1.001"), "two decimal places"),
        (Role.AGENT, D("NaN"), "between 0 and"),
        (Role.AGENT, D("1e12"), "between 0 and"),
    ],
)
def test_bad_limits_are_refused(role: Role, limit: Decimal, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        check_approval_limit(role, limit)
