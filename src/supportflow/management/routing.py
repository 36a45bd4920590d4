"""Routing handed-over conversations to operators: who may take a line, who is available, who
gets it. Pure (the clock and the rows are passed in); the database side is inbox/routing_store.py
and the activity that joins them is ``route_inbox`` (activities/management.py).

A line is routed when it needs a person (a reason: handoff, approval, stuck, or an SLA breach
on one of those), nobody holds it and nobody is assigned to it, or when its assignee can no
longer take it (disabled, or an approval beyond their rights), or when the line is at SLA risk:
assigned before ``sla_risk`` of the policy's ``sla_first_response`` had passed since it began
waiting, and still unclaimed after. Then it goes to another operator, never twice to the same
one in one wait (the line's ``routed_to``).

Who may take a line: any operator who may take a conversation over (every role today), and
for a pending approval only one who may approve its amount (``operators.permissions``);
an approval already sent on to supervisors goes to supervisors and admins. Who is available:
not disabled, and signed in recently; when no operator who may take the line is signed in,
the tenant's supervisors and admins who may are (signed in or not): a line is never left to
nobody while a supervisor exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from supportflow.management.config import RoutingMode
from supportflow.operators.permissions import Permission, Role, allows, may_approve

# Why a line was (re)assigned: a new line; its assignee can no longer take it; SLA risk.
AssignWhy = Literal["new", "unavailable", "sla_risk"]
_SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True)
class Candidate:
    """An operator as routing sees them (no email: ids and rights only)."""

    operator_id: str
    role: Role
    approval_limit: Decimal | None = None
    disabled: bool = False
    # Signed in recently (routing_presence).
    present: bool = False
    # Lines the operator holds, or is assigned and nobody holds.
    load: int = 0
    # Their latest assignment by routing (None: never): round robin's order.
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class RoutableLine:
    """What routing needs of one inbox line."""

    customer_id: str
    workflow_id: str
    version: int
    reason: str | None
    since: datetime | None
    held_by: str | None = None
    # A pending approval: its amount (None: it moves no money) and whether it was sent on to
    # supervisors (by its conversation, or by the watchdog).
    approval: bool = False
    approval_amount: Decimal | None = None
    approval_escalated: bool = False
    assigned_to: str | None = None
    assigned_at: datetime | None = None
    # Everyone this wait was assigned to, in order (the current assignee last).
    routed_to: tuple[str, ...] = ()

    @property
    def needs_person(self) -> bool:
        return self.reason is not None and self.held_by is None


@dataclass(frozen=True)
class Assignment:
    customer_id: str
    workflow_id: str
    version: int
    operator_id: str
    previous: str | None
    why: AssignWhy
    # Assigned from the supervisors' fallback: nobody who may take it was signed in.
    fallback: bool = False
    routed_to: tuple[str, ...] = field(default=())
    # Its place in the poll (0, 1, ...): the operator's rotation time is now + seq µs.
    seq: int = 0


def may_take(c: Candidate, line: RoutableLine) -> bool:
    """Whether this operator's role lets them do what the line waits for."""
    if c.disabled or not allows(c.role, Permission.TAKE_OVER):
        return False
    if line.approval:
        if line.approval_escalated and c.role not in _SUPERVISORS:
            return False
        return may_approve(c.role, c.approval_limit, line.approval_amount)
    return True


def _order_key(c: Candidate, mode: RoutingMode) -> tuple[int, float, str]:
    # Never assigned comes first in the rotation; the id breaks the last tie (stable).
    last = c.last_assigned_at.timestamp() if c.last_assigned_at is not None else float("-inf")
    load = c.load if mode == "least_loaded" else 0
    return (load, last, c.operator_id)


def choose(
    candidates: list[Candidate],
    line: RoutableLine,
    mode: RoutingMode,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Candidate, bool] | None:
    """The operator to give ``line`` to and whether they came from the supervisors' fallback;
    None when nobody may take it (or routing is off)."""
    if mode == "off":
        return None
    able = [c for c in candidates if may_take(c, line) and c.operator_id not in exclude]
    present = [c for c in able if c.present]
    if present:
        return min(present, key=lambda c: _order_key(c, mode)), False
    fallback = [c for c in able if c.role in _SUPERVISORS]
    if fallback:
        return min(fallback, key=lambda c: _order_key(c, mode)), True
    return None


def at_sla_risk(
    line: RoutableLine, now: datetime, sla_first_response: timedelta, risk: float
) -> bool:
    """Assigned before the risk point of its wait, unclaimed, and the risk point has passed."""
    if line.since is None or line.assigned_at is None or not line.needs_person:
        return False
    point = line.since + sla_first_response * risk
    return line.assigned_at < point <= now


def plan_routing(
    lines: list[RoutableLine],
    candidates: list[Candidate],
    *,
    mode: RoutingMode,
    now: datetime,
    sla_first_response: timedelta,
    sla_risk: float = 0.75,
) -> list[Assignment]:
    """Every assignment this poll makes, longest waiting first. Loads and rotation order are
    updated as it goes, so one poll spreads its lines like successive polls would."""
    if mode == "off":
        return []
    pool = {c.operator_id: c for c in candidates}
    out: list[Assignment] = []
    waiting = sorted(
        (line for line in lines if line.needs_person),
        key=lambda line: (line.since is None, line.since or now, line.customer_id),
    )
    for line in waiting:
        current = pool.get(line.assigned_to) if line.assigned_to is not None else None
        why: AssignWhy
        if line.assigned_to is None:
            why, exclude = "new", frozenset[str]()
        elif current is None or not may_take(current, line):
            # Disabled, gone, or beyond their rights: anyone else, preferring new people.
            why, exclude = "unavailable", frozenset(line.routed_to)
        elif at_sla_risk(line, now, sla_first_response, sla_risk):
            why, exclude = "sla_risk", frozenset(line.routed_to)
        else:
            continue
        chosen = choose(list(pool.values()), line, mode, exclude)
        if chosen is None and why == "unavailable" and line.assigned_to is not None:
            # Everyone able had it once already: better one of them than an assignee who
            # cannot take it.
            chosen = choose(list(pool.values()), line, mode, frozenset({line.assigned_to}))
        if chosen is None:
            continue  # nobody may take it (or nobody new at SLA risk): it stays as it is
        pick, fallback = chosen
        out.append(
            Assignment(
                customer_id=line.customer_id,
                workflow_id=line.workflow_id,
                version=line.version,
                operator_id=pick.operator_id,
                previous=line.assigned_to,
                why=why,
                fallback=fallback,
                routed_to=(*[o for o in line.routed_to if o != pick.operator_id], pick.operator_id),
                seq=len(out),
            )
        )
        # Each assignment a microsecond after the one before: the rotation's order holds
        # within a poll and, written so, across polls.
        pool[pick.operator_id] = replace(
            pick, load=pick.load + 1, last_assigned_at=now + timedelta(microseconds=len(out))
        )
        if current is not None and line.held_by is None:
            pool[current.operator_id] = replace(current, load=max(0, current.load - 1))
    return out


# --- what crosses the workflow boundary (Temporal's pydantic converter) ------------------------
class RouteInput(BaseModel):
    tenant_id: str
    # Workflow time: assignments and SLA risk are measured on the clock that set ``since``.
    now: datetime
    # This poll, uniquely: an activity retried after it wrote finds its own assignments.
    poll_ref: str = Field(max_length=64)
    # The management agent's workflow id, for the audit trail.
    workflow_id: str


class AssignedLine(BaseModel):
    customer_id: str
    workflow_id: str
    operator_id: str
    previous: str | None = None
    why: AssignWhy
    reason: str
    since: datetime | None = None
    fallback: bool = False


class EscalatedLine(BaseModel):
    customer_id: str
    workflow_id: str
    reason: str
    since: datetime | None = None
    waited_seconds: int


class RouteResult(BaseModel):
    assigned: list[AssignedLine] = Field(default_factory=list)
    escalated: list[EscalatedLine] = Field(default_factory=list)
    # Lines waiting for a person, and those nobody could be given (no operator may take them).
    waiting: int = 0
    unroutable: int = 0


class RoutingNotice(BaseModel):
    """One poll's mail: each assignment to its operator, each escalation to supervisors."""

    tenant_id: str
    assigned: list[AssignedLine] = Field(default_factory=list)
    escalated: list[EscalatedLine] = Field(default_factory=list)


class RoutingMailSent(BaseModel):
    operators: int = 0
    supervisors: int = 0
