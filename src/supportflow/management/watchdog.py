"""The watchdog: what counts as stuck. Pure (the clock, the rows and the policy are passed in);
the inbox part runs in ``route_inbox`` and the workflow part in ``scan_stuck_workflows``
(activities/management.py).

**Inbox lines.** A ``stuck`` line (a store write that could not finish) nobody holds for
``watchdog_inbox_after`` is escalated to supervisors, once per wait. An approval line is
escalated by its own conversation after the policy's ``approval_timeout`` (the line then says
``escalated``); the watchdog acts on one only when that did not happen by
``max(watchdog_inbox_after, approval_timeout)``: a conversation whose own timer did not fire
(its worker down, its workflow stuck) still reaches a supervisor, and one that did is not
mailed twice.

**Workflows (Temporal visibility).** Without custom search attributes, visibility sees a
workflow's type, id, status and start time, not the step it is in: a CustomerWorkflow waiting
in "executing" looks like any other running conversation. What it can see is a
SalesAgentWorkflow (``sales:{tenant}:{customer}:{kind}:{subject}``) still running long after
it should have ended: it waits at most its kind's delay, pushed out of quiet hours (less than a
day), then sends once. One running past ``began + delay + 1 day + GRACE`` is reported, never
terminated (a person decides; the run may be waiting on a store outage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from supportflow.policy.sales import SalesPolicy

SALES_WORKFLOW = "SalesAgentWorkflow"
# Quiet hours move a send by less than a day; this much more is a stuck run, not a slow one
# ("send_at + 1 day").
QUIET_SLACK = timedelta(days=1)
GRACE = timedelta(days=1)
# Tenant ids as tenants/service.py makes them (and test ids): safe to put in a query.
_TENANT = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
_SALES_KINDS = ("abandoned_checkout", "post_purchase")


# --- inbox lines -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WatchedLine:
    customer_id: str
    workflow_id: str
    reason: str | None
    since: datetime | None
    held_by: str | None = None
    approval: bool = False
    approval_requested_at: datetime | None = None
    approval_escalated: bool = False
    # Escalated by the watchdog already in this wait.
    escalated_at: datetime | None = None


def waited(line: WatchedLine, now: datetime) -> timedelta | None:
    start = line.approval_requested_at if line.approval else line.since
    return now - start if start is not None else None


def due_for_escalation(
    line: WatchedLine, now: datetime, inbox_after: timedelta, approval_timeout: timedelta
) -> bool:
    """Whether the watchdog escalates this line now (once: escalated lines never are)."""
    if line.held_by is not None or line.escalated_at is not None or line.reason is None:
        return False
    wait = waited(line, now)
    if wait is None:
        return False
    if line.approval:
        if line.approval_escalated:
            return False  # its conversation sent it on already; supervisors were told
        return wait >= max(inbox_after, approval_timeout)
    return line.reason == "stuck" and wait >= inbox_after


# --- workflows seen through visibility ------------------------------------------------------------
@dataclass(frozen=True)
class SalesRun:
    workflow_id: str
    run_id: str
    kind: str
    started_at: datetime


def sales_kind(workflow_id: str, tenant_id: str) -> str | None:
    """The opportunity's kind from ``sales:{tenant}:{customer}:{kind}:{subject}`` (None: not
    this tenant's sales workflow)."""
    prefix = f"sales:{tenant_id}:"
    if not workflow_id.startswith(prefix):
        return None
    rest = workflow_id[len(prefix) :]
    for kind in _SALES_KINDS:
        if f":{kind}:" in rest:
            return kind
    return None


def expected_life(kind: str, policy: SalesPolicy) -> timedelta:
    """How long a sales run of this kind may run before it is stuck."""
    delay = (
        policy.post_purchase.delay if kind == "post_purchase" else policy.abandoned_checkout.delay
    )
    return delay + QUIET_SLACK + GRACE


def scan_cutoff(policy: SalesPolicy, now: datetime) -> datetime:
    """Runs started before this may be stuck (the shortest expected life of any kind)."""
    return now - min(expected_life(k, policy) for k in _SALES_KINDS)


def sales_scan_query(tenant_id: str, started_before: datetime) -> str:
    """The visibility query for this tenant's sales runs still running, started before."""
    if not _TENANT.match(tenant_id):
        raise ValueError("tenant id is not safe to put in a visibility query")
    at = started_before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"WorkflowType = '{SALES_WORKFLOW}' AND ExecutionStatus = 'Running' "
        f"AND StartTime < '{at}' AND WorkflowId STARTS_WITH 'sales:{tenant_id}:'"
    )


def overdue(run: SalesRun, policy: SalesPolicy, now: datetime) -> bool:
    return now - run.started_at > expected_life(run.kind, policy)


# --- what crosses the workflow boundary ---------------------------------------------------------
class ScanInput(BaseModel):
    tenant_id: str
    # Workflow time (the clock the runs were started on).
    now: datetime
    workflow_id: str


class ScanResult(BaseModel):
    # Runs found overdue now, and how many of them were reported for the first time.
    stuck: int = 0
    new: int = 0
    workflow_ids: list[str] = Field(default_factory=list)
