"""Activities of the people behind the agents: the inbox line a conversation writes when it
needs a person (or no longer does), when that person can answer, and mail to supervisors
when something waits too long."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from supportflow.activities.operator_mail import mail_operator
from supportflow.inbox.model import InboxItem
from supportflow.inbox.store import InboxStore
from supportflow.mail.sender import (
    MailSender,
)
from supportflow.operators.accounts import UnknownTenant, list_operators
from supportflow.operators.permissions import Role
from supportflow.policy.hours import Availability, availability
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings


class PeopleActivities:
    def __init__(self, inbox: InboxStore, policies: PolicyStore) -> None:
        self._inbox = inbox
        self._policies = policies

    # Sync: two small database calls, run in the worker's thread pool. Idempotent: the inbox
    # keeps the highest version it was given, so a retried or late call changes nothing.
    @activity.defn(name="update_inbox")
    def update_inbox(self, item: InboxItem) -> Availability:
        self._inbox.put(item)
        hours = self._policies.get(item.tenant_id).support_hours
        return availability(hours, datetime.now(UTC))


NoticeKind = Literal["sla_first_response", "sla_resolution", "approval_escalated"]


class SupervisorNotice(BaseModel):
    """Something a tenant's supervisors must see now (no customer details: ids only)."""

    tenant_id: str
    customer_id: str
    workflow_id: str
    kind: NoticeKind


class NoticeSent(BaseModel):
    recipients: int


_NOTICE_SUBJECTS = {
    "sla_first_response": "A handed-over conversation has had no answer in time",
    "sla_resolution": "A handed-over conversation is past its resolution time",
    "approval_escalated": "An approval nobody decided needs a supervisor",
}


class NoticeActivities:
    """Mail the tenant's supervisors and admins (their operator emails) when a conversation
    breaches its SLA or an approval goes undecided. Each mail has a Message-ID made from the
    notice and the recipient, so a retried activity sends nothing twice."""

    def __init__(self, sessions: sessionmaker[Session], sender: MailSender, settings: Settings):
        self._sessions = sessions
        self._sender = sender
        self._settings = settings

    @activity.defn(name="notify_supervisors")
    async def notify_supervisors(self, notice: SupervisorNotice) -> NoticeSent:
        try:
            everyone = await asyncio.to_thread(list_operators, self._sessions, notice.tenant_id)
        except UnknownTenant:
            return NoticeSent(recipients=0)  # a tenant with no operators has nobody to tell
        chosen = [
            o for o in everyone if o.disabled_at is None and o.role in (Role.SUPERVISOR, Role.ADMIN)
        ]
        link = f"{self._settings.api_url}/console/conversations/{notice.customer_id}"
        for o in chosen:
            await mail_operator(
                self._sender,
                self._settings,
                to=o.email,
                subject=_NOTICE_SUBJECTS[notice.kind],
                text=(
                    f"{_NOTICE_SUBJECTS[notice.kind]}.\n\n"
                    f"Conversation {notice.customer_id} ({notice.kind.replace('_', ' ')}).\n"
                    f"Open it in the console: {link}\n"
                ),
                key=f"notice:{notice.workflow_id}:{notice.kind}:{o.operator_id}",
            )
        return NoticeSent(recipients=len(chosen))
