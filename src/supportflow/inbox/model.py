"""What the inbox holds about one conversation. No message text and no customer details: the
console reads those from the conversation (transcript) and the store (profile, orders)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# handoff: the customer or the agent asked for a person; approval: an action waits for an
# operator's decision; stuck: a store write could not finish; sla: a person's answer is late.
InboxReason = Literal["handoff", "approval", "stuck", "sla"]


class InboxApproval(BaseModel):
    approval_id: str
    action: str
    amount: float | None = None
    order_id: str | None = None
    rule_id: str
    requested_at: datetime
    # Sent on to supervisors: nobody decided within the tenant's approval timeout.
    escalated: bool = False


class InboxItem(BaseModel):
    """One conversation's line in the inbox, written by its workflow (``version`` only grows,
    so a late write never undoes a newer one)."""

    tenant_id: str
    customer_id: str
    workflow_id: str
    version: int
    # None: nobody is needed (the line leaves the inbox) unless an operator still holds it.
    reason: InboxReason | None
    since: datetime | None = None
    detail: str | None = None
    held_by: str | None = None
    channel: str | None = None
    approval: InboxApproval | None = None
    sla_breaches: list[str] = Field(default_factory=list)
    updated_at: datetime | None = None
    # --- routing and watchdog (issue 14): set by the management agent, read by the inbox
    # API; never sent by the conversation (excluded from its payloads) and ignored by ``put``.
    assigned_to: str | None = Field(default=None, exclude=True)  # an operator id
    assigned_at: datetime | None = Field(default=None, exclude=True)
    escalated_at: datetime | None = Field(default=None, exclude=True)
    # --- end routing and watchdog ---
