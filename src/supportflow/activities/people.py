"""Activities of the people behind the agents: the inbox line a conversation writes when it
needs a person (or no longer does), and when that person can answer."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from supportflow.inbox.model import InboxItem
from supportflow.inbox.store import InboxStore
from supportflow.policy.hours import Availability, availability
from supportflow.policy.store import PolicyStore


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
